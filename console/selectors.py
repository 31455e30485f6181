"""The console's own reads: figures of the floor for the supervisors' dashboard. Counts only (no
case data), each drawn from the apps' scoped querysets, so a supervisor counts what they may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from rest_framework.exceptions import NotFound

from cases.models import Case, CaseAccess
from cases.selectors import break_glass_get, case_queryset_for, escalation_list
from cases.workflow import CaseState, RiskLevel
from channels_sms import spool
from channels_sms.selectors import outbox_list, unthreaded_inbound
from helpline import policy
from helpline.audit import audit_record
from helpline.models import AuditOutcome, Role, Team, User
from helpline.vocabulary import AuditAction, PolicyAction
from notifications.models import OnCallShift
from referrals.models import ReferralState, WebhookChange, WebhookChangeState
from referrals.selectors import agency_queryset_for, referral_queryset_for


@dataclass(frozen=True)
class Floor:
    waiting: int
    overdue: int
    escalations: int
    referrals_unanswered: int
    spooled: int
    spool_oldest_seconds: float
    unsent_replies: int
    waiting_for_worker: int
    worker_lag_seconds: float
    webhook_changes: int


def floor_figures(*, user: User) -> Floor:
    cases = case_queryset_for(user)
    figures = spool.counted()
    waiting, lag = unthreaded_inbound(helpline_id=user.helpline_id)
    return Floor(
        waiting=cases.filter(state=CaseState.INTAKE).count(),
        overdue=cases.filter(overdue_since__isnull=False).exclude(state=CaseState.CLOSED).count(),
        escalations=escalation_list(user=user, acknowledged=False).count(),
        referrals_unanswered=referral_queryset_for(user).filter(state=ReferralState.SENT).count(),
        spooled=figures.pending,
        spool_oldest_seconds=round(spool.oldest_seconds(figures) or 0),
        unsent_replies=outbox_list().filter(case__in=cases).count(),
        waiting_for_worker=waiting,
        worker_lag_seconds=round(lag),
        webhook_changes=WebhookChange.objects.filter(
            agency__in=agency_queryset_for(user), state=WebhookChangeState.PENDING
        ).count(),
    )


# --- the supervisors' oversight pages (console/views/oversight.py) ---------------------------------


def helpline_people(*, user: User) -> QuerySet[User]:
    """The people of the supervisor's helpline (any role, former staff too), to name an actor in the
    audit log's filters: whoever reads the log reads these names in it anyway."""
    if not policy.can(user, PolicyAction.AUDIT_READ):
        return User.objects.none()
    return User.objects.filter(helpline_id=user.helpline_id).only("id", "username").order_by("username")


def record_refusal(
    *, user: User, action: AuditAction, object_type: str, object_id: Any, case_id: int | None, status: int
) -> None:
    """A refusal on the record, as the API's error handler writes it (helpline.api.errors): denied,
    with the answer's status, naming the case only when the caller had reached it."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            case_id=case_id,
            outcome=AuditOutcome.DENIED,
            extra={"status": status},
        )


def break_glass_for_review(*, user: User, grant_id: int) -> CaseAccess:
    """A break-glass access of the supervisor's helpline (cases.selectors.break_glass_get); one
    outside it is a refusal on the record, as the API's."""
    try:
        return break_glass_get(user=user, grant_id=grant_id)
    except NotFound:
        record_refusal(
            user=user,
            action=AuditAction.CASE_BREAK_GLASS_REVIEW,
            object_type="cases.caseaccess",
            object_id=grant_id,
            case_id=None,
            status=404,
        )
        raise


def case_id_of_reference(*, user: User, reference: str) -> int | None:
    """The id of the case of the supervisor's helpline with this reference (restricted or not), for
    breaking the glass on it by the reference people quote; whether the supervisor may is decided
    after (cases.selectors.case_for_break_glass)."""
    if not policy.can(user, PolicyAction.DASHBOARD_VIEW):
        return None
    return (
        Case.objects.filter(helpline_id=user.helpline_id, reference__iexact=reference.strip())
        .values_list("pk", flat=True)
        .first()
    )


@dataclass(frozen=True)
class Load:
    """Open cases held by a team or a person: all, overdue, and of high or critical risk."""

    key: int | None
    name: str
    open: int = 0
    overdue: int = 0
    urgent: int = 0
    team: str = ""
    active: bool = True


@dataclass(frozen=True)
class Workload:
    teams: list[Load]
    people: list[Load]
    no_team: Load
    unassigned: Load
    total: int


_LOAD = {
    "open": Count("id"),
    "overdue": Count("id", filter=Q(overdue_since__isnull=False)),
    "urgent": Count("id", filter=Q(risk_level__in=[RiskLevel.HIGH, RiskLevel.CRITICAL])),
}


def _load(key: int | None, name: str, counts: dict | None, **more: Any) -> Load:
    counts = counts or {}
    return Load(key, name, *(counts.get(k, 0) for k in _LOAD), **more)


def team_workload(*, user: User) -> Workload:
    """Open cases per team and per person of the supervisor's helpline: counts only, of the cases
    the supervisor may see (restricted cases they are not on the list of are not counted). Every
    active team and operator or supervisor is listed, with nothing open too; a retired team or a
    former colleague only while they still hold open cases."""
    if not policy.can(user, PolicyAction.DASHBOARD_VIEW):
        return Workload([], [], _load(None, "", None), _load(None, "", None), 0)
    cases = case_queryset_for(user).exclude(state=CaseState.CLOSED).order_by()
    by_team = {row.pop("team_id"): row for row in cases.values("team_id").annotate(**_LOAD)}
    by_person = {row.pop("assigned_to_id"): row for row in cases.values("assigned_to_id").annotate(**_LOAD)}
    teams = Team.objects.filter(helpline_id=user.helpline_id).filter(
        Q(is_active=True) | Q(pk__in=[k for k in by_team if k is not None])
    )
    people = (
        User.objects.filter(helpline_id=user.helpline_id)
        .filter(
            Q(is_active=True, role__in=[Role.OPERATOR, Role.SUPERVISOR])
            | Q(pk__in=[k for k in by_person if k is not None])
        )
        .select_related("team")
        .order_by("username")
    )
    return Workload(
        teams=[_load(t.pk, t.name, by_team.get(t.pk), active=t.is_active) for t in teams.order_by("name")],
        people=[
            _load(
                p.pk, p.username, by_person.get(p.pk), team=p.team.name if p.team else "", active=p.is_active
            )
            for p in people
        ],
        no_team=_load(None, "", by_team.get(None)),
        unassigned=_load(None, "", by_person.get(None)),
        total=sum(row["open"] for row in by_team.values()),
    )


def need_to_know_candidates(*, user: User) -> QuerySet[User]:
    """Who may be put on a restricted case's need-to-know list (cases.services.case_set_access):
    the active operators and supervisors of the supervisor's helpline."""
    if not policy.can(user, PolicyAction.DASHBOARD_VIEW):
        return User.objects.none()
    return (
        User.objects.filter(
            helpline_id=user.helpline_id, is_active=True, role__in=[Role.OPERATOR, Role.SUPERVISOR]
        )
        .select_related("team")
        .order_by("username")
    )


def on_call_candidates(*, user: User) -> list[User]:
    """Who may be put on the on-call rota of the caller's helpline (notifications.services.
    on_call_set refuses anyone else): its active people the policy lets be on call."""
    if user.helpline_id is None or not policy.can(user, PolicyAction.ON_CALL_MANAGE):
        return []
    probe = OnCallShift(helpline_id=user.helpline_id)
    people = User.objects.filter(helpline_id=user.helpline_id, is_active=True).order_by("username", "id")
    return [person for person in people if policy.can(person, PolicyAction.NOTIFICATION_ON_CALL, probe)]
