"""Partner agencies, the consent a case records for referral, referrals to agencies with the packet
each agency sees, agencies' progress updates, and the signed notifications sent to agencies."""

import json
import uuid
from typing import Any

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin

from helpline.crypto import EncryptedCharField, EncryptedTextField
from helpline.history import tracked
from helpline.vocabulary import PersonalData as P

from .workflow import EDGES, ReferralState, ReferralWorkflow


class AgencySector(models.TextChoices):
    POLICE = "police", _("Police")
    HEALTH = "health", _("Health")
    SOCIAL_SERVICES = "social_services", _("Social services")
    LEGAL_AID = "legal_aid", _("Legal aid")
    SHELTER = "shelter", _("Shelter")
    EDUCATION = "education", _("Education")
    ONLINE_ABUSE_HOTLINE = "online_abuse_hotline", _("Online-abuse hotline")
    OTHER = "other", _("Other")


class Urgency(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    URGENT = "urgent", _("Urgent")
    ROUTINE = "routine", _("Routine")


# Hours an agency has to accept or reject a referral, unless it sets its own.
DEFAULT_RESPONSE_HOURS = {Urgency.EMERGENCY: 1, Urgency.URGENT: 24, Urgency.ROUTINE: 72}


def default_response_hours() -> dict[str, int]:
    return {str(k): v for k, v in DEFAULT_RESPONSE_HOURS.items()}


class Agency(models.Model):
    """A partner agency a helpline refers children to. Registered by (and administered in) one
    helpline; its `country` may differ (cross-border referrals need a supervisor's approval)."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="agencies")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    sector = models.CharField(max_length=32, choices=AgencySector.choices)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 country code.")
    areas_served = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    service_types = ArrayField(models.SlugField(max_length=64), default=list, blank=True)
    response_hours = models.JSONField(default=default_response_hours, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = EncryptedCharField(max_length=200, blank=True)
    notify_email = models.EmailField(blank=True)
    notify_sms = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["helpline", "code"]
        verbose_name_plural = "agencies"
        constraints = [
            models.UniqueConstraint(fields=["helpline", "code"], name="agency_unique_code_per_helpline")
        ]

    def __str__(self) -> str:
        return self.name

    def response_hours_for(self, urgency: str) -> int:
        hours = (self.response_hours or {}).get(urgency)
        if isinstance(hours, int) and not isinstance(hours, bool) and hours > 0:
            return hours
        return DEFAULT_RESPONSE_HOURS[urgency]


class AgencyMembership(models.Model):
    """The agency a partner-agency user works for. Every user with the agency role has exactly one,
    in their own helpline, and nobody else has any: a deferred constraint trigger on both tables
    (migration 0008) refuses a transaction that would commit it otherwise, so a user and their
    membership are written in one transaction (`services.agency_membership_set`)."""

    user = models.OneToOneField(
        "helpline.User", on_delete=models.CASCADE, primary_key=True, related_name="agency_membership"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")

    def __str__(self) -> str:
        return f"User {self.user_id} of agency {self.agency_id}"


class WebhookChangeState(models.TextChoices):
    PENDING = "pending", _("Proposed; waits for a supervisor's approval")
    APPROVED = (
        "approved",
        _("Approved; waits for the endpoint to answer the verification challenge"),
    )
    ACTIVE = "active", _("In use: approved and verified")
    SUPERSEDED = "superseded", _("Replaced (by a later proposal, or a later change took effect)")


class WebhookChange(models.Model):
    """A change of an agency's webhook URL or signing secret. An administrator proposes it; it
    takes effect (becomes the agency's `webhook_url`/`webhook_secret`) only once a supervisor of
    the agency's helpline, not the proposer, approves it and the new endpoint answers a signed
    verification challenge. Until then notifications go to the endpoint in use, if any."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="webhook_changes")
    url = models.URLField(max_length=500)
    secret = EncryptedCharField(max_length=200)
    state = models.CharField(
        max_length=12, choices=WebhookChangeState.choices, default=WebhookChangeState.PENDING
    )
    proposed_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # The generic outcome of the last verification challenge ("" before the first).
    verification = models.CharField(max_length=100, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            # One change at a time waits per agency: a new proposal supersedes the waiting one.
            models.UniqueConstraint(
                fields=["agency"],
                condition=models.Q(state__in=["pending", "approved"]),
                name="webhook_change_one_waiting_per_agency",
            )
        ]

    def __str__(self) -> str:
        return f"Webhook change {self.pk} of agency {self.agency_id} ({self.state})"


class ConsentGiver(models.TextChoices):
    CHILD = "child", _("The child")
    CAREGIVER = "caregiver", _("Parent or caregiver")


class ConsentScope(models.TextChoices):
    REFERRAL = "referral", _("Refer the child to a partner agency")
    INFORMATION_SHARING = "information_sharing", _("Share the child's details the service needs")
    REPORTER_IDENTITY = "reporter_identity", _("Share the reporter's identity and number")


@tracked()
class Consent(models.Model):
    """Consent a case records for referral and information sharing. A later record replaces an
    earlier one; a withdrawn consent no longer counts."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="consents")
    given_by = models.CharField(max_length=12, choices=ConsentGiver.choices)
    given_at = models.DateTimeField()
    scope = ArrayField(models.CharField(max_length=24, choices=ConsentScope.choices))
    recorded_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"Consent on case {self.case_id} by {self.given_by}"


class ConsentBasis(models.TextChoices):
    CONSENT = "consent", _("Consent recorded on the case")
    SUPERVISOR_OVERRIDE = "supervisor_override", _("Supervisor override")
    VITAL_INTERESTS = "vital_interests", _("Emergency: the child's vital interests")


class Outcome(models.TextChoices):
    SERVICE_PROVIDED = "service_provided", _("Service provided")
    CHILD_SAFE = "child_safe", _("Child safe")
    INVESTIGATION_OPENED = "investigation_opened", _("Investigation opened")
    UNABLE_TO_LOCATE = "unable_to_locate", _("Unable to locate the child")
    OTHER = "other", _("Other")


# Free text people type, kept out of the row history (which outlives anonymisation).
REFERRAL_PERSONAL_FIELDS = frozenset(
    {
        "reason",
        "summary",
        "packet_json",
        "reported_urls",
        "platform",
        "override_reason",
        "rejection_reason",
        "withdrawal_reason",
        "outcome_note",
    }
)


@tracked(personal=REFERRAL_PERSONAL_FIELDS)
class Referral(FSMModelMixin, ReferralWorkflow):
    # helpline.vocabulary.PersonalData: what exports leave out (reports.exports).
    personal_data = {
        "reason": P.FREE_TEXT,
        "summary": P.FREE_TEXT,
        "packet_json": P.FREE_TEXT,
        "reported_urls": P.FREE_TEXT,
        "platform": P.FREE_TEXT,
        "override_reason": P.FREE_TEXT,
        "rejection_reason": P.FREE_TEXT,
        "withdrawal_reason": P.FREE_TEXT,
        "outcome_note": P.FREE_TEXT,
    }
    # Not stored: what referral_create warns the operator of in its answer (referrals.packets).
    warnings: tuple[dict[str, Any], ...] | list[dict[str, Any]] = ()

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="referrals")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="referrals")
    state = FSMField(default=ReferralState.SENT, choices=ReferralState.choices, protected=True, db_index=True)
    service_type = models.SlugField(max_length=64)
    urgency = models.CharField(max_length=12, choices=Urgency.choices)
    # For the helpline only: why the child is referred.
    reason = EncryptedTextField()
    # Written for the agency; part of the packet.
    summary = EncryptedTextField()
    # Online-abuse hotlines: what was reported, never images.
    reported_urls = ArrayField(models.URLField(max_length=2000), default=list, blank=True)
    platform = EncryptedCharField(max_length=100, blank=True)
    consent_basis = models.CharField(max_length=24, choices=ConsentBasis.choices)
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    override_reason = EncryptedCharField(max_length=500, blank=True)
    # What the agency sees, frozen when the referral is sent (JSON, encrypted).
    packet_json = EncryptedTextField(blank=True)
    resent_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="resent_as"
    )

    created_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    approved_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    respond_by = models.DateTimeField(null=True, blank=True, db_index=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejection_reason = EncryptedCharField(max_length=1000, blank=True)
    withdrawal_reason = EncryptedCharField(max_length=1000, blank=True)
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    outcome_note = EncryptedCharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["agency", "state", "sent_at"]),
            models.Index(fields=["state", "respond_by"]),
        ]
        triggers = [
            pgtrigger.FSM(
                name="referral_state_edges",
                field="state",
                transitions=[(a.value, b.value) for a, b in EDGES],
            ),
        ]

    def __str__(self) -> str:
        return f"Referral {self.pk} of case {self.case_id} to {self.agency_id}"

    @property
    def packet(self) -> dict[str, Any]:
        return json.loads(self.packet_json) if self.packet_json else {}


class UpdateAuthor(models.TextChoices):
    AGENCY = "agency", _("The agency")
    HELPLINE = "helpline", _("The helpline")


@tracked(personal={"body"})
class ReferralUpdate(models.Model):
    """Progress the agency reports on an accepted referral, or a change the helpline sends the
    agency after the packet was frozen. Append-only."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="updates")
    from_party = models.CharField(max_length=10, choices=UpdateAuthor.choices)
    author = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        triggers = [
            pgtrigger.Protect(
                name="referral_update_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"Update {self.pk} on referral {self.referral_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (retries exhausted)")


class Delivery(models.Model):
    """One notification of an agency about a referral event, written in the same transaction as
    the event (so none is lost) and delivered by Celery with retries. Its `delivery_id` is sent
    with every attempt, so the agency can drop repeats."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="deliveries")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=40)
    url = models.URLField(max_length=500)
    # The JSON body, exactly as signed and sent (encrypted: it can carry the packet).
    body = EncryptedTextField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event} delivery {self.delivery_id}"


class AttemptOutcome(models.TextChoices):
    IN_FLIGHT = "in_flight", _("In flight (recorded before the request went out; no outcome yet)")
    DELIVERED = "delivered", _("Delivered (2xx)")
    REFUSED = "refused", _("Refused (non-2xx answer)")
    UNREACHABLE = (
        "unreachable",
        _("No answer (no connection, a timeout, or an address not allowed)"),
    )
    NOT_SENT = "not_sent", _("Not sent (the agency has no signing secret)")
    INTERRUPTED = (
        "interrupted",
        _("Interrupted (the sender stopped mid-attempt; the agency may have it)"),
    )


class DeliveryAttempt(models.Model):
    """One try at a delivery, recorded (committed) before the request goes out and completed
    after, so an attempt cut off by a stopped worker is on record too."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    outcome = models.CharField(
        max_length=12,
        choices=AttemptOutcome.choices,
        default=AttemptOutcome.IN_FLIGHT,
        # Also in the database: a worker still running the previous release inserts attempts
        # without it during an upgrade.
        db_default=AttemptOutcome.IN_FLIGHT,
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}"
