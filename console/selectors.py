"""The console's own reads: figures of the floor for the supervisors' dashboard. Counts only (no
case data), each drawn from the apps' scoped querysets, so a supervisor counts what they may see."""

from __future__ import annotations

from dataclasses import dataclass

from cases.selectors import case_queryset_for, escalation_list
from cases.workflow import CaseState
from channels_sms import spool
from channels_sms.selectors import outbox_list
from helpline.models import User
from referrals.models import ReferralState
from referrals.selectors import referral_queryset_for


@dataclass(frozen=True)
class Floor:
    waiting: int
    overdue: int
    escalations: int
    referrals_unanswered: int
    spooled: int
    spool_oldest_seconds: float
    unsent_replies: int


def floor_figures(*, user: User) -> Floor:
    cases = case_queryset_for(user)
    figures = spool.counted()
    return Floor(
        waiting=cases.filter(state=CaseState.INTAKE).count(),
        overdue=cases.filter(overdue_since__isnull=False).exclude(state=CaseState.CLOSED).count(),
        escalations=escalation_list(user=user, acknowledged=False).count(),
        referrals_unanswered=referral_queryset_for(user).filter(state=ReferralState.SENT).count(),
        spooled=figures.pending,
        spool_oldest_seconds=round(spool.oldest_seconds(figures) or 0),
        unsent_replies=outbox_list().filter(case__in=cases).count(),
    )
