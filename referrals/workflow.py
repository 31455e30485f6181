"""The referral workflow: states, edges, who may take each transition.

awaiting_approval --approve--> sent          (cross-border referrals; a supervisor approves)
sent --accept--> accepted --complete--> completed   (the agency; an outcome is required)
sent --reject--> rejected                          (the agency; a reason is required)
awaiting_approval|sent|accepted --withdraw--> withdrawn   (the helpline; a reason is required)
sent --expire--> expired                           (the beat scan, when the response deadline passes)

Only `referrals.services` calls these methods (row lock, checks, save, audit entry and agency
notification in one transaction); a database trigger refuses any other edge.
"""

from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django_fsm import transition

from helpline.policy import transition_permission
from helpline.vocabulary import PolicyAction


class ReferralState(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", gettext_lazy("Awaiting a supervisor's approval")
    SENT = "sent", gettext_lazy("Sent")
    ACCEPTED = "accepted", gettext_lazy("Accepted")
    REJECTED = "rejected", gettext_lazy("Rejected")
    COMPLETED = "completed", gettext_lazy("Completed")
    WITHDRAWN = "withdrawn", gettext_lazy("Withdrawn")
    EXPIRED = "expired", gettext_lazy("Expired")


# A case in referral has at least one of these; a case closes only when it has none.
ACTIVE_STATES = (ReferralState.AWAITING_APPROVAL, ReferralState.SENT, ReferralState.ACCEPTED)
FINAL_STATES = (
    ReferralState.COMPLETED,
    ReferralState.REJECTED,
    ReferralState.WITHDRAWN,
    ReferralState.EXPIRED,
)

EDGES = [
    (ReferralState.AWAITING_APPROVAL, ReferralState.SENT),
    (ReferralState.AWAITING_APPROVAL, ReferralState.WITHDRAWN),
    (ReferralState.SENT, ReferralState.ACCEPTED),
    (ReferralState.SENT, ReferralState.REJECTED),
    (ReferralState.SENT, ReferralState.WITHDRAWN),
    (ReferralState.SENT, ReferralState.EXPIRED),
    (ReferralState.ACCEPTED, ReferralState.COMPLETED),
    (ReferralState.ACCEPTED, ReferralState.WITHDRAWN),
]

# Fields each transition takes from the caller: name -> required?
TRANSITION_FIELDS: dict[str, dict[str, bool]] = {
    "approve": {},
    "accept": {},
    "reject": {"reason": True},
    "complete": {"outcome": True, "outcome_note": False},
    "withdraw": {"reason": True},
}


class ReferralWorkflow(models.Model):
    """django-fsm transitions of a referral. They set what the transition implies and never save."""

    class Meta:
        abstract = True

    def _responded(self, by) -> None:
        self.responded_at = timezone.now()
        self.responded_by = by

    def _closed(self, by) -> None:
        self.closed_at = timezone.now()
        self.closed_by = by

    @transition(
        field="state",
        source=ReferralState.AWAITING_APPROVAL,
        target=ReferralState.SENT,
        permission=transition_permission(PolicyAction.REFERRAL_APPROVE),
    )
    def approve(self, *, by, respond_by: datetime) -> None:
        self.approved_by = by
        self.sent_at = timezone.now()
        self.respond_by = respond_by

    @transition(
        field="state",
        source=ReferralState.SENT,
        target=ReferralState.ACCEPTED,
        permission=transition_permission(PolicyAction.REFERRAL_ACCEPT),
    )
    def accept(self, *, by) -> None:
        self._responded(by)

    @transition(
        field="state",
        source=ReferralState.SENT,
        target=ReferralState.REJECTED,
        permission=transition_permission(PolicyAction.REFERRAL_REJECT),
    )
    def reject(self, *, by, reason: str) -> None:
        self._responded(by)
        self._closed(by)
        self.rejection_reason = reason

    @transition(
        field="state",
        source=ReferralState.ACCEPTED,
        target=ReferralState.COMPLETED,
        permission=transition_permission(PolicyAction.REFERRAL_COMPLETE),
    )
    def complete(self, *, by, outcome: str, outcome_note: str = "") -> None:
        self._closed(by)
        self.outcome = outcome
        self.outcome_note = outcome_note

    @transition(
        field="state",
        source=[ReferralState.AWAITING_APPROVAL, ReferralState.SENT, ReferralState.ACCEPTED],
        target=ReferralState.WITHDRAWN,
        permission=transition_permission(PolicyAction.REFERRAL_WITHDRAW),
    )
    def withdraw(self, *, by, reason: str) -> None:
        self._closed(by)
        self.withdrawal_reason = reason

    # Taken only by the beat scan (it calls the method directly); no person is ever offered it.
    @transition(
        field="state",
        source=ReferralState.SENT,
        target=ReferralState.EXPIRED,
        permission=lambda referral, user: False,
    )
    def expire(self) -> None:
        self.closed_at = timezone.now()


TRANSITION_NAMES = tuple(TRANSITION_FIELDS)
