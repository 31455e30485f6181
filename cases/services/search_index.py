"""Filling the search index (cases/search.py) of existing cases: after the migration that added it,
and after IDENTIFIER_HASH_KEY changes (every stored hash is then made under the old key).

New and changed cases are indexed by the case services themselves; this walks the table in id
order, `batch_size` cases per short transaction holding row locks only, so the service stays up,
and writes only the rows whose index differs, so a re-run after an interruption finishes the job.
Anonymised cases keep an empty index. Each batch that changed anything writes an audit entry in its
transaction (row history sees the updates, and the entry accounts for them)."""

from collections.abc import Callable
from typing import Any

from django.db import transaction

from helpline.audit import audit_record
from helpline.vocabulary import AuditAction

from ..models import Case
from ..search import case_tokens

FIELDS = ("id", "reference", "child_first_name", "reporter_name", "reporter_phone", "anonymised_at")


def tokens_of(case: Any) -> list[int]:
    if case.anonymised_at is not None:
        return []
    return case_tokens(
        names=(case.child_first_name, case.reporter_name),
        reference=case.reference,
        phone_e164=case.reporter_phone,
    )


def reindex_search(
    *,
    batch_size: int = 500,
    model: Any = Case,
    audit: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Recomputes every case's index. `model` and `audit=False`: for the migration, which runs on the
    historical model and lifts the row history triggers instead (a change of storage). Returns
    {"reindexed": n, "unchanged": n}."""
    counts = {"reindexed": 0, "unchanged": 0}
    last_pk = 0
    while True:
        with transaction.atomic():
            rows = list(
                model.objects.select_for_update(of=("self",))
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only(*FIELDS, "search_tokens")[:batch_size]
            )
            changed = []
            for case in rows:
                tokens = tokens_of(case)
                if list(case.search_tokens or []) == tokens:
                    counts["unchanged"] += 1
                    continue
                case.search_tokens = tokens
                changed.append(case)
            if changed:
                model.objects.bulk_update(changed, ["search_tokens"])
                counts["reindexed"] += len(changed)
                if audit:
                    audit_record(
                        actor=None,
                        action=AuditAction.CASE_SEARCH_REINDEX_BATCH,
                        object_type="cases.case",
                        extra={"reindexed": len(changed), "first_id": rows[0].pk, "last_id": rows[-1].pk},
                    )
        if progress is not None:
            progress(counts["reindexed"] + counts["unchanged"])
        if len(rows) < batch_size:
            return counts
        last_pk = rows[-1].pk
