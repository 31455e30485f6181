from django.utils.translation import gettext as _
from rest_framework import serializers

from helpline.api.fields import OwnHelplinePrimaryKeyRelatedField
from helpline.models import Helpline

from ..models import CannedReply, Message


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
