from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import crypto
from ..chat_settings import WEEKDAYS, validate_opening_hours, validate_texts, validate_time_zone
from ..i18n import language_codes
from ..labels import validate_label_overrides
from ..models import AuditEntry, Helpline, Role, Team, User
from ..provided import agencies_provided, cases_provided
from ..services import token_id
from .fields import OwnHelplinePrimaryKeyRelatedField

# referrals.Agency, handed down by the referrals app: helpline imports no app above it.
AGENCY_MODEL = agencies_provided().agency_model
LANGUAGE_CHOICES = language_codes()


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)
    otp = serializers.RegexField(
        r"^[0-9]{6,8}$",
        required=False,
        allow_blank=True,
        help_text="The current code of the caller's authenticator app (supervisors and administrators).",
    )


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once: only a hash of it is stored.")
    expiry = serializers.DateTimeField(help_text="Moves forward each time the token is used.")


class AuthTokenOutput(serializers.Serializer):
    """One of the caller's tokens; never the token itself."""

    id = serializers.SerializerMethodField()
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(help_text="Moves forward each time the token is used.")
    current = serializers.SerializerMethodField()

    def get_id(self, token) -> str:
        return token_id(token)

    def get_current(self, token) -> bool:
        """Whether this is the token the request was signed with."""
        return token.digest == self.context.get("current_digest")


class UserOutput(serializers.ModelSerializer):
    helpline = serializers.CharField(source="helpline.code", allow_null=True, default=None)
    agency = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "helpline",
            "team",
            "agency",
            "language",
            "is_active",
            "last_login",
            "date_joined",
        ]
        read_only_fields = fields

    def get_agency(self, user: User) -> str | None:
        """The code of the agency a partner-agency user works for; null for helpline staff."""
        agency = agencies_provided().agency_of(user)
        return agency.code if agency is not None else None


class MeUpdateInput(serializers.Serializer):
    language = serializers.ChoiceField(
        [*LANGUAGE_CHOICES, ""],
        help_text="The language you read notifications (and the console) in; empty: your helpline's.",
    )


class UserCreateInput(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices)
    helpline = OwnHelplinePrimaryKeyRelatedField(
        model=Helpline, helpline_field="pk", required=False, allow_null=True
    )
    team = OwnHelplinePrimaryKeyRelatedField(model=Team, required=False, allow_null=True)
    agency = OwnHelplinePrimaryKeyRelatedField(model=AGENCY_MODEL, required=False, allow_null=True)
    language = serializers.ChoiceField(
        [*LANGUAGE_CHOICES, ""],
        required=False,
        help_text="The language of the person's notifications (and console); empty: their helpline's.",
    )


class UserUpdateInput(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    team = OwnHelplinePrimaryKeyRelatedField(model=Team, required=False, allow_null=True)
    agency = OwnHelplinePrimaryKeyRelatedField(model=AGENCY_MODEL, required=False, allow_null=True)
    language = serializers.ChoiceField(
        [*LANGUAGE_CHOICES, ""],
        required=False,
        help_text="The language of the person's notifications (and console); empty: their helpline's.",
    )
    is_active = serializers.BooleanField(required=False)


@extend_schema_field(
    {
        "type": "array",
        "nullable": True,
        "items": {
            "type": "object",
            "properties": {
                "weekday": {"type": "string", "enum": list(WEEKDAYS)},
                "opens": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "08:00"},
                "closes": {
                    "type": "string",
                    "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                    "example": "20:00",
                },
            },
            "required": ["weekday", "opens", "closes"],
            "additionalProperties": False,
        },
        "example": [
            {"weekday": "monday", "opens": "08:00", "closes": "20:00"},
            {"weekday": "friday", "opens": "22:00", "closes": "02:00"},
        ],
    }
)
class OpeningHoursField(serializers.JSONField):
    """Weekly opening periods in the helpline's time zone (helpline.chat_settings); null: always
    open. A period whose `closes` is earlier than `opens` runs past midnight."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, validators=[validate_opening_hours], **kwargs)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": 1000},
        "example": {"en": "Hello, you are talking to {helpline}. What would you like to tell us?"},
    }
)
class ChatTextsField(serializers.JSONField):
    """Texts per language code; `{helpline}` is replaced by the helpline's name."""

    def __init__(self, **kwargs):
        super().__init__(validators=[validate_texts], **kwargs)


OPENING_HOURS_HELP = (
    "Weekly opening periods in the helpline's time zone: "
    '[{"weekday": "monday", "opens": "08:00", "closes": "20:00"}, ...]; closes earlier than opens '
    'runs past midnight, "24:00" is the end of the day. null (the default): always open (24/7). '
    "Outside these hours a child starting a web chat is shown the out-of-hours message."
)
GREETING_HELP = (
    "The first message a child sees when a web chat opens, per language code "
    '({"en": "...", "mn": "..."}); missing: the helpline\'s default language, else a built-in text.'
)
TIMEZONE_HELP = "IANA time zone (e.g. Asia/Ulaanbaatar): the opening hours are read in it."
OUT_OF_HOURS_HELP = (
    "Shown after the greeting when a chat opens outside the opening hours, per language code; "
    "missing: a built-in text. The chat stays open and the message waits for the next shift."
)


class HelplineOutput(serializers.ModelSerializer):
    opening_hours = OpeningHoursField(read_only=True, help_text=OPENING_HOURS_HELP)
    chat_greeting = ChatTextsField(read_only=True, help_text=GREETING_HELP)
    out_of_hours_message = ChatTextsField(read_only=True, help_text=OUT_OF_HOURS_HELP)

    class Meta:
        model = Helpline
        fields = [
            "id",
            "code",
            "name",
            "country",
            "timezone",
            "default_language",
            "languages",
            "label_overrides",
            "due_policy",
            "retention_years",
            "opening_hours",
            "chat_greeting",
            "out_of_hours_message",
            "is_active",
            "intake_team",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "intake_team": {
                "help_text": "The team that receives new intake cases nobody chose a team for (opened "
                "from SMS, calls and web chat, or by staff in no team); null: none."
            }
        }


DEFAULT_LANGUAGE_HELP = (
    "The language of the helpline's children and staff unless they choose another: one of this "
    "installation's languages."
)
LANGUAGES_HELP = (
    "The other languages a child may be answered in (a number's or the web chat's language); the "
    "default language is always one."
)
LABEL_OVERRIDES_HELP = (
    "The helpline's own wording of labels, per language and `vocabulary.code` "
    '({"es": {"category.bullying": "Acoso escolar", "channel.chat": "Chat"}}); '
    "see GET /api/v1/vocabularies/ and /api/v1/categories/."
)


class LabelOverridesField(serializers.JSONField):
    """Checked against the registered vocabularies here; a category's code against the helpline's
    own categories by the service (helpline.services.helpline_update)."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        try:
            validate_label_overrides(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return data


class DuePolicyField(serializers.JSONField):
    """{"intake": {"critical": 15, ...}, ...}: minutes per state and risk level."""

    def to_internal_value(self, data):
        provided = cases_provided()
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError(_("Must be an object of states."))
        for state, by_risk in data.items():
            if state not in provided.due_states:
                raise serializers.ValidationError(
                    _("%(state)r has no automatic due date.") % {"state": state}
                )
            if not isinstance(by_risk, dict):
                raise serializers.ValidationError(
                    _("%(state)r must map risk levels to minutes.") % {"state": state}
                )
            for risk, minutes in by_risk.items():
                if risk not in provided.risk_levels:
                    raise serializers.ValidationError(_("%(risk)r is not a risk level.") % {"risk": risk})
                if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 525600:
                    raise serializers.ValidationError(
                        # Translators: %(state)s.%(risk)s names a value of the request (e.g. intake.high).
                        _("%(state)s.%(risk)s must be whole minutes, 1 to 525600.")
                        % {"state": state, "risk": risk}
                    )
        return data


class HelplineCreateInput(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Za-z0-9]{2,20}$")
    name = serializers.CharField(max_length=200)
    country = serializers.RegexField(r"^[A-Za-z]{2}$")
    timezone = serializers.CharField(
        max_length=64, default="UTC", help_text=TIMEZONE_HELP, validators=[validate_time_zone]
    )
    default_language = serializers.ChoiceField(
        LANGUAGE_CHOICES, default="en", help_text=DEFAULT_LANGUAGE_HELP
    )
    languages = serializers.ListField(
        child=serializers.ChoiceField(LANGUAGE_CHOICES),
        required=False,
        default=list,
        max_length=20,
        help_text=LANGUAGES_HELP,
    )
    due_policy = DuePolicyField(required=False, default=dict)
    retention_years = serializers.IntegerField(min_value=1, max_value=100, default=7)
    opening_hours = OpeningHoursField(required=False, default=None, help_text=OPENING_HOURS_HELP)
    chat_greeting = ChatTextsField(required=False, default=dict, help_text=GREETING_HELP)
    out_of_hours_message = ChatTextsField(required=False, default=dict, help_text=OUT_OF_HOURS_HELP)


class HelplineUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False)
    timezone = serializers.CharField(
        max_length=64, required=False, help_text=TIMEZONE_HELP, validators=[validate_time_zone]
    )
    default_language = serializers.ChoiceField(
        LANGUAGE_CHOICES, required=False, help_text=DEFAULT_LANGUAGE_HELP
    )
    languages = serializers.ListField(
        child=serializers.ChoiceField(LANGUAGE_CHOICES),
        required=False,
        max_length=20,
        help_text=LANGUAGES_HELP,
    )
    label_overrides = LabelOverridesField(required=False, help_text=LABEL_OVERRIDES_HELP)
    due_policy = DuePolicyField(required=False)
    retention_years = serializers.IntegerField(min_value=1, max_value=100, required=False)
    opening_hours = OpeningHoursField(required=False, help_text=OPENING_HOURS_HELP)
    chat_greeting = ChatTextsField(required=False, help_text=GREETING_HELP)
    out_of_hours_message = ChatTextsField(required=False, help_text=OUT_OF_HOURS_HELP)
    is_active = serializers.BooleanField(required=False)
    intake_team = OwnHelplinePrimaryKeyRelatedField(
        model=Team,
        required=False,
        allow_null=True,
        help_text="A team of this helpline, not retired, to receive new intake cases nobody chose a "
        "team for (its round-robin, if on, assigns them); null: none.",
    )


class TeamMemberOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "role", "is_active"]
        read_only_fields = fields


class TeamOutput(serializers.ModelSerializer):
    helpline = serializers.CharField(source="helpline.code")
    members = TeamMemberOutput(
        many=True, read_only=True, help_text="Everyone in the team, deactivated people included."
    )

    class Meta:
        model = Team
        fields = ["id", "helpline", "name", "is_active", "retired_at", "auto_assign", "created_at", "members"]
        read_only_fields = fields
        extra_kwargs = {
            "is_active": {"help_text": "false: retired (keeps its cases and history, receives no new ones)."},
            "auto_assign": {
                "help_text": "New intake cases the team receives go to its active operators in turn."
            },
        }


class TeamCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    auto_assign = serializers.BooleanField(
        default=False,
        help_text="Assign the new intake cases the team receives to its active operators in turn.",
    )
    helpline = OwnHelplinePrimaryKeyRelatedField(
        model=Helpline,
        helpline_field="pk",
        required=False,
        help_text="Platform administrators only, and required for them; a helpline's administrator "
        "creates teams in their own helpline.",
    )


class TeamUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    auto_assign = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(
        required=False,
        help_text="false retires the team (409 while it has active members or receives the helpline's "
        "intake cases); true reactivates it.",
    )


class AuditEntryListOutput(serializers.ListSerializer):
    def to_representation(self, data) -> list:
        entries = list(data.all() if hasattr(data, "all") else data)
        # The keys of the page's cases with sealed values, in one query (not one per entry).
        sealed = {e.case_id for e in entries if any(crypto.is_sealed(v) for v in (e.extra or {}).values())}
        if sealed and isinstance(self.context, dict):
            self.context.setdefault("case_keys", {}).update(crypto.case_keys(sealed))
        return super().to_representation(entries)


class AuditEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        list_serializer_class = AuditEntryListOutput
        fields = [
            "id",
            "at",
            "actor",
            "actor_username",
            "actor_role",
            "action",
            "object_type",
            "object_id",
            "case_id",
            "changes",
            "outcome",
            "request_id",
            "client_ip",
            "user_agent",
            "extra",
            "chain_seq",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields

    def to_representation(self, instance: AuditEntry) -> dict:
        data = super().to_representation(instance)
        # Reasons are sealed under their case's key: opened for the reader, "[erased]" once the
        # case was anonymised. The keys are looked up once per case for a whole page.
        keys = self.context.setdefault("case_keys", {}) if isinstance(self.context, dict) else {}
        data["extra"] = crypto.unsealed(data["extra"] or {}, case_id=instance.case_id, keys=keys)
        return data


class SetPasswordLinkOutput(serializers.Serializer):
    token = serializers.CharField(
        help_text="Shown once (only a hash is stored): hand it to the person, who sets their own "
        "password with it (POST /api/v1/auth/password/). It works once."
    )
    expires_at = serializers.DateTimeField()


class UserCreatedOutput(UserOutput):
    """The new person, and the link with which they set their password (shown only here)."""

    # The view puts the IssuedLink on the user as `set_password_link`.
    set_password = SetPasswordLinkOutput(source="set_password_link", read_only=True)

    class Meta(UserOutput.Meta):
        fields = [*UserOutput.Meta.fields, "set_password"]
        read_only_fields = fields


class PasswordSetInput(serializers.Serializer):
    token = serializers.CharField(max_length=128, help_text="The set-password link's token.")
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TotpEnrolInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TotpConfirmInput(TotpEnrolInput):
    otp = serializers.RegexField(
        r"^[0-9]{6,8}$", help_text="The code the new authenticator shows now: proves it was set up."
    )


class TotpEnrolmentOutput(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret for an authenticator app; shown only now.")
    otpauth_url = serializers.CharField(help_text="The same as a provisioning URL (QR code content).")


class SecurityEventOutput(serializers.ModelSerializer):
    """A change to the caller's own sign-in (password, authenticator), and who made it."""

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "action", "actor_username", "actor_role", "client_ip"]
        read_only_fields = fields
