"""Row history reconciliation: changes to the case tables that no audit entry accounts for."""

from django.db import transaction

from helpline.audit import audit_record, diff
from helpline.vocabulary import AuditAction

from ..models import Case

_HISTORY_TABLES = (
    ("cases.CaseEvent", "pgh_obj_id", "helpline_id"),
    ("cases.ContactEvent", "case_id", "helpline_id"),
    ("cases.NoteEvent", "case_id", None),
    ("cases.CaseAccessEvent", "case_id", None),
    # A link is reported on its lower case (both would report it twice).
    ("cases.CaseLinkEvent", "case_low_id", "helpline_id"),
)
_HISTORY_META_FIELDS = {"pgh_id", "pgh_created_at", "pgh_label", "pgh_obj", "pgh_obj_id", "pgh_txid"}


def reconcile_row_history(*, case_id: int | None = None, limit: int = 1000) -> int:
    """Writes into the audit log every row change of the case tables that no audit entry accounts
    for (its transaction wrote none): bulk updates, raw SQL, a shell session. Each such change is
    reported once, with the non-personal fields it changed. Returns how many were reported."""
    from django.apps import apps
    from django.db.models import Exists, OuterRef

    from helpline.models import AuditEntry, ReconciledRowEvent

    reported = 0
    for label, case_column, helpline_column in _HISTORY_TABLES:
        event_model = apps.get_model(label)
        events = event_model.objects.filter(
            ~Exists(AuditEntry.objects.filter(txid=OuterRef("pgh_txid"))),
            ~Exists(ReconciledRowEvent.objects.filter(event_model=label, event_id=OuterRef("pgh_id"))),
        )
        if case_id is not None:
            events = events.filter(**{case_column: case_id})
        for event in events.order_by("pgh_id")[:limit]:
            with transaction.atomic():
                _report_row_event(event, label, case_column, helpline_column)
            reported += 1
    return reported


def _report_row_event(event, label: str, case_column: str, helpline_column: str | None) -> None:
    from helpline.models import ReconciledRowEvent

    fields = [f.attname for f in event._meta.concrete_fields if f.name not in _HISTORY_META_FIELDS]
    after = {name: getattr(event, name) for name in fields}
    previous = (
        type(event)
        .objects.filter(pgh_obj_id=event.pgh_obj_id, pgh_id__lt=event.pgh_id)
        .order_by("-pgh_id")
        .first()
    )
    before = {name: getattr(previous, name) for name in fields} if previous else {}
    if event.pgh_label == "delete":
        before, after = after, {}
    changes = diff(before, after)
    case_id = getattr(event, case_column)
    helpline_id = getattr(event, helpline_column) if helpline_column else None
    if helpline_id is None and case_id is not None:
        helpline_id = Case.objects.filter(pk=case_id).values_list("helpline_id", flat=True).first()
    entry = audit_record(
        actor=None,
        action=AuditAction.ROW_CHANGED_OUTSIDE_SERVICES,
        object_type=event.pgh_tracked_model._meta.label_lower,
        object_id=event.pgh_obj_id,
        case_id=case_id,
        helpline=helpline_id,
        changes=changes,
        extra={
            "operation": event.pgh_label,
            "event": f"{label}:{event.pgh_id}",
            "at": event.pgh_created_at.isoformat(),
            "txid": event.pgh_txid,
            # Personal fields are not kept in the row history; a change to them shows as a
            # change without listed fields.
            "personal_fields_not_shown": not changes and event.pgh_label == "update",
        },
    )
    ReconciledRowEvent.objects.create(event_model=label, event_id=event.pgh_id, audit_entry=entry)
