from django.utils.translation import gettext as _
from rest_framework import serializers

from helpline.api.fields import OwnHelplinePrimaryKeyRelatedField
from helpline.models import User

from ..models import Channel, Delivery, Notification, NotificationKind, OnCallShift, Requirement
from ..preferences import STAFF_KINDS


class NotificationDeliveryOutput(serializers.ModelSerializer):
    """What became of one e-mail or SMS of the notification (never the address it went to)."""

    class Meta:
        model = Delivery
        fields = ["channel", "state", "attempts", "last_error", "sent_at"]
        read_only_fields = fields


class NotificationOutput(serializers.ModelSerializer):
    deliveries = NotificationDeliveryOutput(
        many=True,
        read_only=True,
        help_text="The delivery log: each e-mail or SMS sent for it, whether it went, and how many tries.",
    )

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "case_id",
            "referral_id",
            "reference",
            "link",
            "on_call",
            "created_at",
            "read_at",
            "deliveries",
        ]


class UnreadCountOutput(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedOutput(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread and are now read.")


class PreferencesOutput(serializers.Serializer):
    channels = serializers.DictField(
        child=serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices)),
        help_text="Per kind, the out-of-band channels used besides the in-app inbox (always on): your "
        "choice, plus any your helpline requires.",
    )
    urgent_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationKind.choices),
        help_text="Kinds your helpline requires at least one of email and sms for.",
    )
    required = serializers.DictField(
        child=serializers.ChoiceField(choices=Requirement.choices),
        help_text="Per kind, the channels your helpline requires (see notifications/requirements/); "
        "`channels` already includes them.",
    )
    email = serializers.EmailField(allow_blank=True, help_text="Where e-mail goes (set by an administrator).")
    sms_number = serializers.CharField(allow_blank=True)


class PerKindField(serializers.DictField):
    """A value per kind of staff notification. An unknown kind is refused on the field itself before
    any value is read, so that an error's attr is always the field or a kind the schema lists,
    never a key the caller made up."""

    def to_internal_value(self, data):
        if isinstance(data, dict) and any(kind not in STAFF_KINDS for kind in data):
            unknown = next(kind for kind in data if kind not in STAFF_KINDS)
            raise serializers.ValidationError(
                _("Unknown kind %(kind)r. Known: %(known)s.")
                % {"kind": str(unknown)[:40], "known": ", ".join(STAFF_KINDS)},
                code="invalid",
            )
        return super().to_internal_value(data)


class PreferencesInput(serializers.Serializer):
    channels = PerKindField(
        child=serializers.ListField(child=serializers.CharField(max_length=8), max_length=2),
        help_text=f"Per kind ({', '.join(STAFF_KINDS)}): a list of email and sms; a kind left out "
        "keeps its default (where the helpline requires e-mail or SMS: both; where it names channels: "
        "those; the others: none). A choice below the helpline's rule is refused.",
    )
    sms_number = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class ShiftOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = OnCallShift
        fields = ["id", "user", "username", "weekdays", "starts", "ends"]
        read_only_fields = fields


class ShiftInput(serializers.Serializer):
    user = OwnHelplinePrimaryKeyRelatedField(model=User)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7),
        min_length=1,
        max_length=7,
        help_text="ISO weekdays the slot starts on: 1 Monday ... 7 Sunday.",
    )
    starts = serializers.TimeField(help_text="Local time in the helpline's time zone.")
    ends = serializers.TimeField(help_text="Local time; not after `starts`: runs past midnight.")


class RotaInput(serializers.Serializer):
    shifts = ShiftInput(many=True, max_length=200)


class RotaOutput(serializers.Serializer):
    timezone = serializers.CharField()
    shifts = ShiftOutput(many=True)


class RequirementsOutput(serializers.Serializer):
    requirements = serializers.DictField(
        child=serializers.ChoiceField(choices=Requirement.choices),
        help_text="Per kind of notification staff receive, the out-of-band channels the helpline's "
        "staff must keep: none, email_or_sms (at least one), email, sms, or email_and_sms.",
    )
    customised = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationKind.choices),
        help_text="The kinds the helpline has set; the others follow the installation's default.",
    )


class RequirementsInput(serializers.Serializer):
    requirements = PerKindField(
        # Any value: validate_requirements names a bad one by its kind (keys are checked first, so
        # an error's attr is always a kind the schema lists, never raw input).
        child=serializers.JSONField(allow_null=True),
        help_text=f"Per kind ({', '.join(STAFF_KINDS)}): one of {', '.join(Requirement.values)}. A kind "
        "left out follows the installation's default (emergency_referral and critical_case: "
        "email_or_sms; the others: none).",
    )

    def validate_requirements(self, value: dict) -> dict:
        if any(kind not in STAFF_KINDS for kind in value):
            raise serializers.ValidationError(
                _("Unknown kind. Known: %(known)s.") % {"known": ", ".join(STAFF_KINDS)}, code="invalid"
            )
        refused = {
            kind: _("Unknown requirement. Known: %(known)s.") % {"known": ", ".join(Requirement.values)}
            for kind, rule in value.items()
            if not isinstance(rule, str) or rule not in Requirement.values
        }
        if refused:
            raise serializers.ValidationError(refused, code="invalid")
        return value
