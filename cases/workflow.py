"""The case workflow: states, the transitions between them, who may take each, and when the next
action on a case falls due.

The transitions are django-fsm methods on `CaseWorkflow`, which `cases.models.Case` inherits. Only
`cases.services.case_transition` calls them (through `helpline.transitions`): it locks the row,
checks state, conditions and permission, saves and writes the audit entry in one transaction. The
database enforces the same edges with a trigger (see `Case.Meta.triggers`), so raw SQL cannot jump
states either.
"""

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django_fsm import transition

from helpline.policy import transition_permission
from helpline.vocabulary import PolicyAction


class CaseState(models.TextChoices):
    INTAKE = "intake", gettext_lazy("Intake")
    ASSESSMENT = "assessment", gettext_lazy("Assessment")
    REFERRAL = "referral", gettext_lazy("Referral")
    FOLLOW_UP = "follow_up", gettext_lazy("Follow-up")
    CLOSED = "closed", gettext_lazy("Closed")


class RiskLevel(models.TextChoices):
    UNASSESSED = "unassessed", gettext_lazy("Unassessed")
    LOW = "low", gettext_lazy("Low")
    MEDIUM = "medium", gettext_lazy("Medium")
    HIGH = "high", gettext_lazy("High")
    CRITICAL = "critical", gettext_lazy("Critical")


# A case's place in the urgency queue by its risk level: 0 (critical) comes first. Stored on the case
# as a generated column (`Case.risk_rank`) so that a queue ordered by risk walks an index.
RISK_RANK = {
    RiskLevel.CRITICAL: 0,
    RiskLevel.HIGH: 1,
    RiskLevel.MEDIUM: 2,
    RiskLevel.LOW: 3,
    RiskLevel.UNASSESSED: 4,
}


class CallType(models.TextChoices):
    CHILD = "child", gettext_lazy("Child seeking help")
    CALLER_ABOUT_CHILD = "caller_about_child", gettext_lazy("Caller about a child")
    SILENT = "silent", gettext_lazy("Silent")
    HANG_UP = "hang_up", gettext_lazy("Hang-up")
    PRANK = "prank", gettext_lazy("Prank")
    WRONG_NUMBER = "wrong_number", gettext_lazy("Wrong number")
    ABUSIVE = "abusive", gettext_lazy("Abusive")
    INFORMATION = "information", gettext_lazy("Information request")


# Contacts of these types are not a child protection case; only such cases may be dismissed.
NON_CASE_CALL_TYPES = frozenset(
    {
        CallType.SILENT,
        CallType.HANG_UP,
        CallType.PRANK,
        CallType.WRONG_NUMBER,
        CallType.ABUSIVE,
        CallType.INFORMATION,
    }
)

# The only edges between states; the database trigger is generated from this list too.
EDGES = [
    (CaseState.INTAKE, CaseState.ASSESSMENT),
    (CaseState.INTAKE, CaseState.CLOSED),
    (CaseState.ASSESSMENT, CaseState.REFERRAL),
    (CaseState.ASSESSMENT, CaseState.FOLLOW_UP),
    (CaseState.REFERRAL, CaseState.FOLLOW_UP),
    (CaseState.ASSESSMENT, CaseState.CLOSED),
    (CaseState.REFERRAL, CaseState.CLOSED),
    (CaseState.FOLLOW_UP, CaseState.CLOSED),
    (CaseState.CLOSED, CaseState.ASSESSMENT),
]

# Minutes until the next action is due, by state and risk. A helpline overrides any entry in
# `Helpline.due_policy` ({"intake": {"critical": 10}, ...}). An unassessed case is treated as
# high risk: nobody has yet looked at it. Follow-up takes its due date from the operator.
DEFAULT_DUE_MINUTES: dict[str, dict[str, int]] = {
    CaseState.INTAKE: {"critical": 15, "high": 60, "medium": 24 * 60, "low": 72 * 60, "unassessed": 60},
    CaseState.ASSESSMENT: {
        "critical": 60,
        "high": 4 * 60,
        "medium": 48 * 60,
        "low": 7 * 24 * 60,
        "unassessed": 4 * 60,
    },
    CaseState.REFERRAL: {
        "critical": 4 * 60,
        "high": 24 * 60,
        "medium": 72 * 60,
        "low": 7 * 24 * 60,
        "unassessed": 24 * 60,
    },
}


def due_minutes(policy: dict | None, state: str, risk_level: str) -> int | None:
    """Minutes to the next action for a case in `state` at `risk_level`, or None when the state
    has no automatic due date (follow-up is set by hand; closed has none)."""
    default = DEFAULT_DUE_MINUTES.get(state)
    if default is None:
        return None
    override = ((policy or {}).get(state) or {}).get(risk_level)
    if isinstance(override, int) and override > 0:
        return override
    return default[risk_level]


def next_action_due(
    policy: dict | None, state: str, risk_level: str, *, now: datetime | None = None
) -> datetime | None:
    minutes = due_minutes(policy, state, risk_level)
    if minutes is None:
        return None
    return (now or timezone.now()) + timedelta(minutes=minutes)


# --- conditions that depend only on the case ----------------------------------------------------


def is_non_case(case) -> bool:
    """Every contact on the case was classified as a non-case (silent, prank, wrong number...)."""
    call_types = [c.call_type for c in case.contacts.all()]
    return bool(call_types) and all(t in NON_CASE_CALL_TYPES for t in call_types)


def is_risk_assessed(case) -> bool:
    return case.risk_level != RiskLevel.UNASSESSED


def is_not_anonymised(case) -> bool:
    return case.anonymised_at is None


def is_not_merged(case) -> bool:
    """The case was not merged into another (a merged case is closed for good: work goes on in the
    case it was merged into)."""
    return case.merged_into_id is None


# Referral states as stored (referrals.workflow); named here so the case workflow does not import
# the referrals app, which itself depends on cases.
ACTIVE_REFERRAL_STATES = ("awaiting_approval", "sent", "accepted")


def _active_referral_exists(case) -> bool:
    # Lists annotate it for the whole page (cases.selectors); a case loaded alone asks.
    annotated = getattr(case, "active_referral_exists", None)
    if annotated is not None:
        return annotated
    return case.referrals.filter(state__in=ACTIVE_REFERRAL_STATES).exists()


def has_active_referral(case) -> bool:
    """At least one referral is awaiting approval, sent or accepted."""
    return _active_referral_exists(case)


def has_no_open_referral(case) -> bool:
    """Every referral is completed, rejected, withdrawn or expired."""
    return not _active_referral_exists(case)


CONDITION_MESSAGES = {
    "is_non_case": gettext_lazy(
        "Only cases whose every contact is a non-case call type (silent, hang-up, prank, "
        "wrong number, abusive, information) can be dismissed."
    ),
    "is_risk_assessed": gettext_lazy("The risk level must be assessed before referral."),
    "is_not_anonymised": gettext_lazy(
        "The case was anonymised after its retention period and cannot be reopened."
    ),
    # Translators: `merged_into` is the name of a field of the API: keep it as it is.
    "is_not_merged": gettext_lazy(
        "The case was merged into another case (its `merged_into`) and cannot be "
        "reopened; carry on in that case."
    ),
    # Translators: "POST /api/v1/cases/{id}/referrals/" is an address of the API: keep it as it is.
    "has_active_referral": gettext_lazy(
        "Create a referral to a partner agency first (POST /api/v1/cases/{id}/referrals/)."
    ),
    "has_no_open_referral": gettext_lazy(
        "Every referral must be completed, rejected, withdrawn or expired before the case closes."
    ),
}

# Extra fields each transition takes from the caller: name -> required?
TRANSITION_FIELDS: dict[str, dict[str, bool]] = {
    "start_assessment": {},
    "dismiss": {"reason": True},
    "refer": {},
    "start_follow_up": {"follow_up_due_at": True},
    "close": {"reason": True},
    "reopen": {"reason": True},
}


class CaseWorkflow(models.Model):
    """django-fsm transitions of a case. Who may take each is the access policy's rule
    "case.transition.<name>" (helpline.policy), nothing else. Their bodies set what a transition
    implies; they never save: the service does, with the audit entry, in one transaction."""

    class Meta:
        abstract = True

    def _set_due_for(self, target: str) -> None:
        self.state_changed_at = timezone.now()
        self.next_action_due_at = next_action_due(
            self.helpline.due_policy, target, self.risk_level, now=self.state_changed_at
        )
        self.overdue_since = None

    def _closed(self, reason: str) -> None:
        self.state_changed_at = self.closed_at = timezone.now()
        self.closure_reason = reason
        self.next_action_due_at = None
        self.overdue_since = None

    @transition(
        field="state",
        source=CaseState.INTAKE,
        target=CaseState.ASSESSMENT,
        permission=transition_permission(PolicyAction.CASE_TRANSITION_START_ASSESSMENT),
    )
    def start_assessment(self, *, by) -> None:
        if self.assigned_to_id is None:
            self.assigned_to = by
            if self.team_id is None:
                self.team_id = by.team_id
        self._set_due_for(CaseState.ASSESSMENT)

    @transition(
        field="state",
        source=CaseState.INTAKE,
        target=CaseState.CLOSED,
        conditions=[is_non_case],
        permission=transition_permission(PolicyAction.CASE_TRANSITION_DISMISS),
    )
    def dismiss(self, *, by, reason: str) -> None:
        self._closed(reason)

    @transition(
        field="state",
        source=CaseState.ASSESSMENT,
        target=CaseState.REFERRAL,
        conditions=[is_risk_assessed, has_active_referral],
        permission=transition_permission(PolicyAction.CASE_TRANSITION_REFER),
    )
    def refer(self, *, by) -> None:
        self._set_due_for(CaseState.REFERRAL)

    @transition(
        field="state",
        source=[CaseState.ASSESSMENT, CaseState.REFERRAL],
        target=CaseState.FOLLOW_UP,
        permission=transition_permission(PolicyAction.CASE_TRANSITION_START_FOLLOW_UP),
    )
    def start_follow_up(self, *, by, follow_up_due_at: datetime) -> None:
        self.state_changed_at = timezone.now()
        self.next_action_due_at = follow_up_due_at
        self.overdue_since = None

    @transition(
        field="state",
        source=[CaseState.ASSESSMENT, CaseState.REFERRAL, CaseState.FOLLOW_UP],
        target=CaseState.CLOSED,
        conditions=[has_no_open_referral],
        permission=transition_permission(PolicyAction.CASE_TRANSITION_CLOSE),
    )
    def close(self, *, by, reason: str) -> None:
        self._closed(reason)

    @transition(
        field="state",
        source=CaseState.CLOSED,
        target=CaseState.ASSESSMENT,
        permission=transition_permission(PolicyAction.CASE_TRANSITION_REOPEN),
        conditions=[is_not_anonymised, is_not_merged],
    )
    def reopen(self, *, by, reason: str) -> None:
        self.closure_reason = ""
        self.closed_at = None
        self._set_due_for(CaseState.ASSESSMENT)

    # Taken only by cases.services.case_merge (POST /api/v1/cases/{id}/merge/), which also checks
    # the case it goes into: not offered in `available_transitions` nor by the transitions
    # endpoint (`own_endpoint`). The edges are the ones to closed that the workflow already has.
    @transition(
        field="state",
        source=[CaseState.INTAKE, CaseState.ASSESSMENT, CaseState.REFERRAL, CaseState.FOLLOW_UP],
        target=CaseState.CLOSED,
        conditions=[has_no_open_referral],
        permission=transition_permission(PolicyAction.CASE_TRANSITION_MERGE),
        custom={"own_endpoint": "merge"},
    )
    def merge(self, *, by, into, reason: str) -> None:
        self._closed(reason)
        self.merged_into = into


# The transitions the transitions endpoint takes (merge has its own).
TRANSITION_NAMES = tuple(TRANSITION_FIELDS)
