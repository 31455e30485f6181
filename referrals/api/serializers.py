from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpline.api.fields import OwnHelplinePrimaryKeyRelatedField
from helpline.models import Helpline

from .. import endpoints
from ..models import (
    Agency,
    AgencySector,
    Consent,
    ConsentGiver,
    ConsentScope,
    Delivery,
    DeliveryAttempt,
    Outcome,
    Referral,
    ReferralUpdate,
    Urgency,
    WebhookChange,
)
from ..packets import packet_for_reader
from ..webhooks import webhook_target
from ..workflow import TRANSITION_NAMES, ReferralState

WEBHOOK_CHANGES_SHOWN = 10

# --- agencies ---------------------------------------------------------------------------------------


class WebhookChangeOutput(serializers.ModelSerializer):
    """A change of the agency's webhook endpoint, shown to its administrators, the helpline's
    staff and the agency's own users (never the secret)."""

    proposed_by = serializers.CharField(source="proposed_by.username")
    approved_by = serializers.CharField(source="approved_by.username", allow_null=True, default=None)

    class Meta:
        model = WebhookChange
        fields = [
            "id",
            "url",
            "state",
            "proposed_by",
            "proposed_at",
            "approved_by",
            "approved_at",
            "verification",
            "verified_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "verification": {
                "help_text": "The outcome of the last verification challenge: `verified`, or why it "
                "failed (`HTTP 500`, `timeout`, `connection failed`, …); empty before the first."
            }
        }


class AgencyOutput(serializers.ModelSerializer):
    helpline = serializers.CharField(source="helpline.code")
    has_webhook_secret = serializers.SerializerMethodField()
    webhook_url = serializers.CharField(
        read_only=True,
        help_text="The endpoint in use (approved and verified); a change waits in `webhook_changes`.",
    )
    webhook_changes = serializers.SerializerMethodField(
        help_text="The latest changes of the webhook endpoint, newest first: a proposal waits for a "
        "supervisor's approval and the endpoint's answer to the verification challenge."
    )

    class Meta:
        model = Agency
        fields = [
            "id",
            "helpline",
            "code",
            "name",
            "sector",
            "country",
            "areas_served",
            "service_types",
            "response_hours",
            "webhook_url",
            "has_webhook_secret",
            "webhook_changes",
            "notify_email",
            "notify_sms",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_webhook_secret(self, agency: Agency) -> bool:
        return bool(agency.webhook_secret)

    @extend_schema_field(WebhookChangeOutput(many=True))
    def get_webhook_changes(self, agency: Agency) -> list[dict]:
        # Prefetched, newest first, by the agency selectors; a freshly written agency reads them.
        changes = list(agency.webhook_changes.all())
        changes.sort(key=lambda change: (change.proposed_at, change.pk), reverse=True)
        return WebhookChangeOutput(changes[:WEBHOOK_CHANGES_SHOWN], many=True).data


class WebhookApproveInput(serializers.Serializer):
    change = serializers.IntegerField(
        min_value=1, help_text="The id of the waiting change (as listed in `webhook_changes`) you approve."
    )


class ResponseHoursInput(serializers.Serializer):
    emergency = serializers.IntegerField(min_value=1, max_value=24 * 30, required=False)
    urgent = serializers.IntegerField(min_value=1, max_value=24 * 30, required=False)
    routine = serializers.IntegerField(min_value=1, max_value=24 * 90, required=False)


class _AgencyFieldsInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    sector = serializers.ChoiceField(choices=AgencySector.choices)
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        max_length=2,
        required=False,
        help_text="ISO 3166-1 alpha-2; default: the helpline's.",
    )
    areas_served = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=200, required=False
    )
    service_types = serializers.ListField(
        child=serializers.SlugField(max_length=64), max_length=50, required=False
    )
    response_hours = ResponseHoursInput(required=False, help_text="Hours to answer, per urgency.")
    webhook_url = serializers.URLField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="https on a public address. A change takes effect once a supervisor approves it and "
        "the endpoint answers the verification challenge; an empty URL removes the endpoint at once.",
    )
    webhook_secret = serializers.CharField(
        min_length=16,
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="The signing secret; a change waits for approval like the URL's.",
    )
    notify_email = serializers.EmailField(required=False, allow_blank=True)
    notify_sms = serializers.CharField(max_length=32, required=False, allow_blank=True)

    def validate_country(self, value: str) -> str:
        return value.upper()

    def validate_webhook_url(self, value: str) -> str:
        problem = endpoints.url_problem(value) if value else None
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs: dict) -> dict:
        # As the endpoint will be after this write: clearing the secret of an agency that keeps
        # its URL would sign its webhooks with an empty key, which anyone can forge.
        url, secret = webhook_target(self.instance) if self.instance is not None else ("", "")
        url = attrs.get("webhook_url", url)
        secret = attrs.get("webhook_secret", secret)
        if url and not secret:
            raise serializers.ValidationError({"webhook_secret": _("A webhook URL needs a signing secret.")})
        return attrs


class AgencyCreateInput(_AgencyFieldsInput):
    code = serializers.SlugField(max_length=40)
    helpline = OwnHelplinePrimaryKeyRelatedField(
        model=Helpline, helpline_field="pk", required=False, help_text="Platform administrators only."
    )


class AgencyUpdateInput(_AgencyFieldsInput):
    name = serializers.CharField(max_length=200, required=False)
    sector = serializers.ChoiceField(choices=AgencySector.choices, required=False)
    is_active = serializers.BooleanField(required=False)


# --- consent ----------------------------------------------------------------------------------------


class ConsentInput(serializers.Serializer):
    given_by = serializers.ChoiceField(choices=ConsentGiver.choices)
    given_at = serializers.DateTimeField()
    scope = serializers.ListField(
        child=serializers.ChoiceField(choices=ConsentScope.choices),
        max_length=len(ConsentScope.choices),
        allow_empty=True,
        help_text="What the consent covers. Empty: consent refused or withdrawn.",
    )


class ConsentOutput(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["id", "case", "given_by", "given_at", "scope", "recorded_by", "recorded_at", "withdrawn_at"]
        read_only_fields = fields


# --- referrals --------------------------------------------------------------------------------------


class ReferralCreateInput(serializers.Serializer):
    agency = serializers.IntegerField(min_value=1)
    service_type = serializers.SlugField(max_length=64)
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    reason = serializers.CharField(max_length=5000, help_text="Why the child is referred (helpline only).")
    summary = serializers.CharField(max_length=5000, help_text="Written for the agency; in the packet.")
    reported_urls = serializers.ListField(
        child=serializers.URLField(max_length=2000),
        max_length=100,
        required=False,
        help_text="Online-abuse hotlines only (and required for them).",
    )
    platform = serializers.CharField(max_length=100, required=False, allow_blank=True)
    override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Supervisors: refer without recorded consent, for this reason (audited).",
    )


class ReferralResendInput(serializers.Serializer):
    agency = serializers.IntegerField(min_value=1)
    service_type = serializers.SlugField(max_length=64, required=False)
    override_reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ReferralTransitionInput(serializers.Serializer):
    expected_state = serializers.ChoiceField(
        choices=ReferralState.choices,
        required=False,
        help_text="The state the caller last saw. If the referral has moved on since (an agency "
        "accepted while you withdrew), the request is refused with 409 `state_changed` instead of "
        "acting on a referral you have not seen.",
    )


class ReferralRejectInput(ReferralTransitionInput):
    reason = serializers.CharField(max_length=1000)


class ReferralWithdrawInput(ReferralTransitionInput):
    reason = serializers.CharField(max_length=1000)


class ReferralCompleteInput(ReferralTransitionInput):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    outcome_note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if attrs["outcome"] == Outcome.OTHER and not attrs.get("outcome_note"):
            raise serializers.ValidationError({"outcome_note": _("Describe the outcome.")})
        return attrs


class ReferralUpdateInput(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


class ReferralUpdateOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")

    class Meta:
        model = ReferralUpdate
        fields = ["id", "from_party", "author", "body", "created_at"]
        read_only_fields = fields


class _AvailableTransitions(serializers.Serializer):
    available_transitions = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=TRANSITION_NAMES)))
    def get_available_transitions(self, referral: Referral) -> list[str]:
        from ..services import referral_available_transitions

        return referral_available_transitions(referral=referral, user=self.context["request"].user)


class AgencyReferralOutput(_AvailableTransitions, serializers.ModelSerializer):
    """What a partner agency sees: the frozen packet and the referral's own life, never the case."""

    packet = serializers.JSONField(help_text="Frozen when the referral was sent.")

    class Meta:
        model = Referral
        fields = [
            "id",
            "state",
            "urgency",
            "service_type",
            "sent_at",
            "respond_by",
            "responded_at",
            "closed_at",
            "rejection_reason",
            "withdrawal_reason",
            "outcome",
            "outcome_note",
            "packet",
            "available_transitions",
        ]
        read_only_fields = fields


class AgencyBrief(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "code", "name", "sector", "country"]
        read_only_fields = fields


class ReferralOutput(_AvailableTransitions, serializers.ModelSerializer):
    """What helpline staff see of a referral (the case itself is read through /cases/)."""

    agency = AgencyBrief()
    case_reference = serializers.CharField(source="case.reference")
    packet = serializers.JSONField(
        help_text="What the agency sees (empty until sent); the reporter's number masked to its last 3 "
        "digits for staff who may not see it in full."
    )
    response_minutes = serializers.SerializerMethodField(
        help_text="Minutes from sending to the agency's accept or reject (null while unanswered)."
    )

    class Meta:
        model = Referral
        fields = [
            "id",
            "case",
            "case_reference",
            "agency",
            "state",
            "urgency",
            "service_type",
            "reason",
            "summary",
            "reported_urls",
            "platform",
            "consent_basis",
            "override_reason",
            "created_by",
            "created_at",
            "approved_by",
            "sent_at",
            "respond_by",
            "responded_at",
            "response_minutes",
            "closed_at",
            "rejection_reason",
            "withdrawal_reason",
            "outcome",
            "outcome_note",
            "resent_from",
            "packet",
            "available_transitions",
        ]
        read_only_fields = fields

    def get_response_minutes(self, referral: Referral) -> int | None:
        if referral.responded_at is None or referral.sent_at is None:
            return None
        return int((referral.responded_at - referral.sent_at).total_seconds() // 60)

    def to_representation(self, referral: Referral) -> dict:
        data = super().to_representation(referral)
        # The reporter's number as the reader may see it (masked as on the case itself).
        data["packet"] = packet_for_reader(
            data["packet"] or {}, user=self.context["request"].user, case=referral.case
        )
        return data


class ReferralDetailOutput(ReferralOutput):
    updates = ReferralUpdateOutput(many=True, read_only=True)

    class Meta(ReferralOutput.Meta):
        fields = [*ReferralOutput.Meta.fields, "updates"]
        read_only_fields = fields


class AgencyReferralDetailOutput(AgencyReferralOutput):
    updates = ReferralUpdateOutput(many=True, read_only=True)

    class Meta(AgencyReferralOutput.Meta):
        fields = [*AgencyReferralOutput.Meta.fields, "updates"]
        read_only_fields = fields


class DeliveryAttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "at", "outcome", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class DeliveryOutput(serializers.ModelSerializer):
    attempt_log = DeliveryAttemptOutput(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "url",
            "state",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "attempt_log",
        ]
        read_only_fields = fields


class ReferralWarningOutput(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["packet_not_actionable"],
        help_text="`packet_not_actionable`: the packet holds nothing the agency's sector needs to act on.",
    )
    detail = serializers.CharField()
    missing = serializers.ListField(
        child=serializers.CharField(),
        help_text="Packet fields the sector needs, at least one of them (e.g. child.safe_contact).",
    )


class ReferralCreatedOutput(ReferralOutput):
    """The referral just made, with what the operator should know about it."""

    warnings = ReferralWarningOutput(
        many=True,
        read_only=True,
        help_text="Empty when all is well. `packet_not_actionable`: the referral was made, but the "
        "packet leaves the agency nothing its sector needs (usually the consent withheld the child's "
        "identity): record a wider consent and re-send, or withdraw it.",
    )

    class Meta(ReferralOutput.Meta):
        fields = [*ReferralOutput.Meta.fields, "warnings"]
        read_only_fields = fields
