"""Messages the spool kept while the database was away (channels_sms.spool) reach their cases late,
unseen by anyone meanwhile: threading raises each such case to its supervisors."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from cases.models import Case, Escalation, EscalationKind
from cases.services import escalation_raise
from helpline.audit import audit_record
from helpline.vocabulary import AuditAction

from .models import InboundEvent, Message


def stored_late_escalate(events: list[InboundEvent], messages: list[Message]) -> None:
    """Messages the spool kept while the database was away reached their cases late, unseen by
    anyone meanwhile: the case is raised to its supervisors (one waiting escalation per case), if
    one of them is STORED_LATE_AFTER_SECONDS late or more."""
    late: dict[int, list[tuple[datetime, str]]] = {}
    for event, message in zip(events, messages, strict=True):
        if event.spooled and message.case_id is not None:
            late.setdefault(message.case_id, []).append((event.received_at, f"event {event.pk}"))
    cases_raise(late)


def cases_raise(late: dict[int, list[tuple[datetime, str]]]) -> None:
    """{case id: [(arrived at, what: "event 12", "message 34")]} of messages from the spool just
    stored: each case with one STORED_LATE_AFTER_SECONDS late or more gets a `stored_late`
    escalation (unless one waits unacknowledged) and its audit entry. In the caller's transaction."""
    now = timezone.now()
    threshold = timedelta(seconds=settings.STORED_LATE_AFTER_SECONDS)
    late = {
        case_id: arrived
        for case_id, arrived in late.items()
        if any(now - at >= threshold for at, _ in arrived)
    }
    if not late:
        return
    waiting = set(
        Escalation.objects.filter(
            case_id__in=late, kind=EscalationKind.STORED_LATE, acknowledged_at__isnull=True
        ).values_list("case_id", flat=True)
    )
    for case in Case.objects.filter(pk__in=set(late) - waiting):
        arrived = late[case.pk]
        minutes = max(int((now - at).total_seconds() // 60) for at, _ in arrived)
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
            extra={"stored": [what for _, what in arrived], "minutes_late": minutes},
        )
