from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from helpline.api.fields import OwnHelplinePrimaryKeyRelatedField
from helpline.crypto import normalise_phone
from helpline.i18n import language_codes
from helpline.models import Helpline

from .. import numbers
from ..models import CannedReply, Message, NumberChannel, PhoneNumber, VoiceMode


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "case",
            "contact",
            "channel",
            "direction",
            "kind",
            "body",
            "at",
            "status",
            "error_code",
            "canned_reply",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "kind": {
                "help_text": "`message`: written by the child or an operator. The web chat also puts "
                "its own entries in the thread: `greeting` and `out_of_hours` (what the child was "
                "shown when the chat opened) and `session_ended` (the chat ended: replies are "
                "refused from then on; no body)."
            },
            "canned_reply": {"help_text": "The canned reply this reply was sent from, if any."},
        }


class MessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=1600, required=False, help_text="The reply's text.")
    canned_reply = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="Instead of `body`: the id of one of the helpline's active canned replies, in the "
        "conversation's language; its text is sent as written.",
    )

    def validate(self, attrs: dict) -> dict:
        if "body" not in attrs and "canned_reply" not in attrs:
            raise serializers.ValidationError(
                {"body": [_("This field is required (or give `canned_reply` instead).")]}, code="required"
            )
        if "body" in attrs and "canned_reply" in attrs:
            raise serializers.ValidationError(
                _("Give exactly one of `body` and `canned_reply`."), code="invalid"
            )
        return attrs


class CannedReplyOutput(serializers.ModelSerializer):
    class Meta:
        model = CannedReply
        fields = ["id", "helpline", "language", "title", "body", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class CannedReplyUpdateInput(serializers.Serializer):
    language = serializers.RegexField(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=16, required=False)
    title = serializers.CharField(max_length=100, required=False)
    body = serializers.CharField(
        max_length=1600,
        required=False,
        help_text="The text sent, as written; `{helpline}` becomes the helpline's name.",
    )
    is_active = serializers.BooleanField(
        required=False, help_text="false retires the reply (it can no longer be sent); true restores it."
    )


class CannedReplyCreateInput(CannedReplyUpdateInput):
    language = serializers.RegexField(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=16)
    title = serializers.CharField(max_length=100)
    body = serializers.CharField(
        max_length=1600, help_text="The text sent, as written; `{helpline}` becomes the helpline's name."
    )
    helpline = OwnHelplinePrimaryKeyRelatedField(
        model=Helpline,
        helpline_field="pk",
        required=False,
        help_text="Platform administrators name the helpline; everyone else writes for their own.",
    )
    is_active = None


class CallbackDoneInput(serializers.Serializer):
    outcome = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


# --- a helpline's Twilio numbers and voice routes (number_views; the console's pages) ------------

MAX_DIAL_NUMBERS = 20  # Twilio's <Dial> rings at most ten at once; a rota rarely lists more


class PhoneNumberCreateInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=NumberChannel.choices)
    number = serializers.CharField(
        max_length=48,
        help_text="E.164 with its country code (+15005550006); WhatsApp senders also whatsapp:+E.164.",
    )
    acknowledgement = serializers.CharField(
        max_length=480,
        required=False,
        allow_blank=True,
        help_text="Answer to a sender's first message, in the number's language; empty: the "
        "deployment's default text, translated.",
    )
    language = serializers.ChoiceField(
        [*language_codes(), ""],
        required=False,
        help_text="The language of its contacts (acknowledgement, voice prompts; one of the helpline's "
        "languages); empty: the helpline's default.",
    )
    helpline = OwnHelplinePrimaryKeyRelatedField(
        model=Helpline, helpline_field="pk", required=False, help_text="Platform administrators only."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "number" not in attrs or "channel" not in attrs:  # partial: nothing to check together
            return attrs
        try:
            attrs["number"] = numbers.address_for(attrs["channel"], attrs["number"])
        except ValueError as exc:
            raise ValidationError({"number": [str(exc)]}, code="invalid") from None
        return attrs


class PhoneNumberUpdateInput(serializers.Serializer):
    acknowledgement = serializers.CharField(max_length=480, required=False, allow_blank=True)
    language = serializers.ChoiceField(
        [*language_codes(), ""],
        required=False,
        help_text="The language of its contacts (acknowledgement, voice prompts; one of the helpline's "
        "languages); empty: the helpline's default.",
    )
    is_active = serializers.BooleanField(
        required=False, help_text="false: its webhooks are refused as for an unknown number."
    )


class DialNumbersField(serializers.ListField):
    """On-duty numbers as a list of E.164 strings; stored one a line."""

    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=32),
            max_length=MAX_DIAL_NUMBERS,
            allow_empty=True,
            **kwargs,
        )

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        try:
            found = [normalise_phone(value) for value in values if value.startswith("+")]
        except ValueError:
            found = []
        if len(found) != len(values):
            raise ValidationError(
                _("Each on-duty number in E.164 form with its country code (+254712345678).")
            )
        return "\n".join(dict.fromkeys(found))

    def run_validators(self, value):
        # The limit counts numbers, not the characters of the text to_internal_value stores.
        super().run_validators(self.to_representation(value) if isinstance(value, str) else value)

    def to_representation(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class _VoiceRouteFieldsInput(serializers.Serializer):
    greeting = serializers.CharField(
        max_length=480, required=False, allow_blank=True, help_text="Empty: the helpline language's default."
    )
    mode = serializers.ChoiceField(choices=VoiceMode.choices, required=False)
    queue_name = serializers.RegexField(
        r"^[A-Za-z0-9_-]{0,64}\Z", required=False, allow_blank=True, help_text="Empty: the helpline's code."
    )
    dial_numbers = DialNumbersField(required=False, help_text="On-duty numbers (E.164), rung in `dial` mode.")
    emergency_digit = serializers.RegexField(r"^[0-9]\Z", required=False, help_text="One digit, 0-9.")


class VoiceRouteCreateInput(_VoiceRouteFieldsInput):
    number = OwnHelplinePrimaryKeyRelatedField(model=PhoneNumber, help_text="A voice number's id.")
