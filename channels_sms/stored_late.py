"""Messages the spool kept while the database was away (channels_sms.spool) reach their cases late,
unseen by anyone meanwhile: threading raises each such case to its supervisors."""

from django.utils import timezone

from cases.models import Case, Escalation, EscalationKind
from cases.services import escalation_raise
from helpline.audit import audit_record
from helpline.vocabulary import AuditAction

from .models import InboundEvent, Message


def stored_late_escalate(events: list[InboundEvent], messages: list[Message]) -> None:
    """Messages the spool kept while the database was away reached their cases late, unseen by
    anyone meanwhile: the case is raised to its supervisors (one waiting escalation per case)."""
    late: dict[int, list[InboundEvent]] = {}
    for event, message in zip(events, messages, strict=True):
        if event.spooled and message.case_id is not None:
            late.setdefault(message.case_id, []).append(event)
    if not late:
        return
    waiting = set(
        Escalation.objects.filter(
            case_id__in=late, kind=EscalationKind.STORED_LATE, acknowledged_at__isnull=True
        ).values_list("case_id", flat=True)
    )
    now = timezone.now()
    for case in Case.objects.filter(pk__in=set(late) - waiting):
        arrived = late[case.pk]
        minutes = max(int((now - event.received_at).total_seconds() // 60) for event in arrived)
        escalation = escalation_raise(
            case=case,
            kind=EscalationKind.STORED_LATE,
            detail=(
                f"{len(arrived)} message(s) arrived while the database was away and reached the case "
                f"up to {minutes} min later: read them in the order they arrived."
            ),
            once=False,
        )
        audit_record(
            actor=None,
            action=AuditAction.INBOUND_STORED_LATE,
            obj=escalation,
            case_id=case.pk,
            helpline=case.helpline_id,
            extra={"event_ids": [event.pk for event in arrived], "minutes_late": minutes},
        )
