"""Escalations: overdue cases swept for their supervisors, and what other apps raise about a case."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from helpline import policy
from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction
from notifications.models import NotificationKind
from notifications.services import notify

from ..models import Case, Escalation, EscalationKind
from ..workflow import CaseState


def escalate_overdue_cases(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Marks open cases whose next action is past due and records one escalation per missed due
    date for the team's supervisors. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    escalated = 0
    while True:
        with transaction.atomic():
            # SKIP LOCKED: a case being worked on right now is picked up by the next sweep.
            overdue = list(
                Case.objects.select_for_update(skip_locked=True)
                .filter(next_action_due_at__lte=now, overdue_since__isnull=True)
                .exclude(state=CaseState.CLOSED)
                .order_by("next_action_due_at")[:batch_size]
            )
            for case in overdue:
                escalation, created = Escalation.objects.get_or_create(
                    case=case,
                    kind=EscalationKind.OVERDUE,
                    due_at=case.next_action_due_at,
                    defaults={
                        "helpline_id": case.helpline_id,
                        "team_id": case.team_id,
                        "state": case.state,
                        "risk_level": case.risk_level,
                    },
                )
                Case.objects.filter(pk=case.pk).update(overdue_since=now)
                if created:
                    audit_record(
                        actor=None,
                        action=AuditAction.CASE_ESCALATE,
                        obj=case,
                        case_id=case.pk,
                        helpline=case.helpline_id,
                        changes={"overdue_since": {"before": None, "after": now.isoformat()}},
                        extra={
                            "escalation_id": escalation.pk,
                            "due_at": case.next_action_due_at.isoformat(),
                            "state": case.state,
                            "risk_level": case.risk_level,
                        },
                    )
                    notify(kind=NotificationKind.OVERDUE, case=case)
                    escalated += 1
        if len(overdue) < batch_size:
            return escalated


def escalation_raise(
    *, case: Case, kind: str, detail: str, referral: Any = None, once: bool = True
) -> Escalation:
    """Raises something about a case (a referral's expiry, rejection, emergency, failed delivery)
    to whoever sees the case. `once`: one per referral and kind, however often it is raised."""
    fields = {
        "case": case,
        "helpline_id": case.helpline_id,
        "team_id": case.team_id,
        "due_at": timezone.now(),
        "state": case.state,
        "risk_level": case.risk_level,
        "detail": detail[:500],
    }
    if not once:
        escalation, created = Escalation.objects.create(referral=referral, kind=kind, **fields), True
    else:
        escalation, created = Escalation.objects.get_or_create(referral=referral, kind=kind, defaults=fields)
    if created and kind in NOTIFIED_ESCALATIONS:
        notify(kind=NOTIFIED_ESCALATIONS[kind], case=case, referral_id=referral.pk if referral else None)
    return escalation


# Escalations whose people are told at once (notifications); an emergency referral is told by the
# referral itself (every emergency referral, not only those sent without consent).
NOTIFIED_ESCALATIONS = {
    EscalationKind.REFERRAL_EXPIRED: NotificationKind.REFERRAL_EXPIRED,
    EscalationKind.REFERRAL_REJECTED: NotificationKind.REFERRAL_REJECTED,
    EscalationKind.DELIVERY_FAILED: NotificationKind.DELIVERY_FAILED,
}


def escalation_acknowledge(*, actor: User, escalation: Escalation) -> Escalation:
    if not policy.can(actor, PolicyAction.ESCALATION_ACKNOWLEDGE, escalation):
        raise PermissionDenied(_("Only supervisors acknowledge escalations."))
    with transaction.atomic():
        locked = Escalation.objects.select_for_update().get(pk=escalation.pk)
        if locked.acknowledged_at is not None:
            raise Conflict(_("This escalation was already acknowledged."), code="already_acknowledged")
        locked.acknowledged_by = actor
        locked.acknowledged_at = timezone.now()
        locked.save(update_fields=["acknowledged_by", "acknowledged_at"])
        audit_record(
            actor=actor, action=AuditAction.ESCALATION_ACKNOWLEDGE, obj=locked, case_id=locked.case_id
        )
    return locked
