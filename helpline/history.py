"""Row-level history of the domain tables (django-pghistory triggers), so that even writes that
bypass the services — bulk updates, raw SQL — leave a trace that the audit log reconciles.

Every event row records the id of the database transaction that wrote it (`pgh_txid`). The
audit log records its transaction id too; an event whose transaction wrote no audit entry is a
change made outside the services, and `cases.services.reconcile_row_history` writes it into the
audit log, so supervisors read one timeline.

Personal fields are never copied into the history tables (only the fact that a row changed), so
retention and encryption have one place to deal with them.
"""

from collections.abc import Iterable

import pghistory
import pgtrigger
from django.db import models
from django.db.models import Func


def _txid_field() -> models.BigIntegerField:
    return models.BigIntegerField(
        db_default=Func(function="txid_current", output_field=models.BigIntegerField()),
        editable=False,
        db_index=True,
    )


def tracked(*, personal: Iterable[str] = ()):
    """Class decorator: insert/update/delete history of a model, personal fields left out of the
    snapshots but still firing an update event when they change."""
    personal = list(personal)

    def decorate(model_class):
        # Generated columns are derived from the others: their change is already in the snapshot.
        fields = model_class._meta.local_concrete_fields
        generated = [f.name for f in fields if isinstance(f, models.GeneratedField)]
        every_column = [f.name for f in fields if not f.primary_key and f.name not in generated]
        return pghistory.track(
            pghistory.InsertEvent(),
            pghistory.UpdateEvent(condition=pgtrigger.AnyChange(*every_column)),
            pghistory.DeleteEvent(),
            exclude=personal + generated,
            context_field=None,
            append_only=True,
            attrs={"pgh_txid": _txid_field()},
        )(model_class)

    return decorate
