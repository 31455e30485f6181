from django.utils.translation import gettext as _
from rest_framework import serializers

from helpline.api.fields import OwnHelplinePrimaryKeyRelatedField
from helpline.labels import CATEGORY, labeller
from helpline.models import Team, User

from ..models import (
    AgeRange,
    Case,
    CaseAccess,
    CaseLink,
    CaseLinkKind,
    Category,
    Channel,
    Contact,
    Escalation,
    Gender,
    Note,
    ReporterRelation,
    VulnerabilityFlag,
)
from ..selectors import CASE_SUMMARY_FIELDS
from ..workflow import TRANSITION_NAMES, CallType, RiskLevel


class CaseOutput(serializers.ModelSerializer):
    helpline = serializers.CharField(source="helpline.code")
    reporter_phone = serializers.SerializerMethodField(
        help_text="In full for supervisors and holders of `cases.view_reporter_phone`; otherwise "
        "masked to its last 3 digits."
    )
    available_transitions = serializers.SerializerMethodField()
    merged_into = serializers.SerializerMethodField(
        help_text="The case this one was merged into (a duplicate merged by a supervisor: closed for "
        "good, its history kept); null otherwise, or when the caller may not see that case."
    )
    merged_cases = serializers.SerializerMethodField(
        help_text="Ids of the cases merged into this one that the caller may see; their notes, "
        "contacts and history are read through this case."
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "reference",
            "helpline",
            "state",
            "risk_level",
            "categories",
            "child_first_name",
            "child_age",
            "child_age_range",
            "child_gender",
            "child_area",
            "child_location",
            "child_language",
            "child_details_note",
            "safe_contact",
            "vulnerability_flags",
            "reporter_relation",
            "reporter_name",
            "reporter_phone",
            "assigned_to",
            "team",
            "next_action_due_at",
            "overdue_since",
            "state_changed_at",
            "restricted",
            "closure_reason",
            "closed_at",
            "anonymised_at",
            "created_by",
            "created_at",
            "updated_at",
            "merged_into",
            "merged_cases",
            "available_transitions",
        ]
        read_only_fields = fields

    def get_merged_into(self, case: Case) -> int | None:
        from helpline import policy

        if case.merged_into_id is None:
            return None
        user = self.context["request"].user
        return case.merged_into_id if policy.visible_case_ids(user, [case.merged_into_id]) else None

    def get_merged_cases(self, case: Case) -> list[int]:
        from ..selectors import merged_case_ids

        return sorted(merged_case_ids(self.context["request"].user, case.pk))

    def get_reporter_phone(self, case: Case) -> str:
        from ..selectors import reporter_phone_for

        return reporter_phone_for(user=self.context["request"].user, case=case)

    def get_available_transitions(self, case: Case) -> list[str]:
        from ..services import case_available_transitions

        return case_available_transitions(case=case, user=self.context["request"].user)


class CaseSummaryOutput(serializers.ModelSerializer):
    """A case as lists show it: what a queue needs to pick and order cases. The details, the
    reporter and the transitions open to the caller come with the case itself
    (`GET /api/v1/cases/{id}/`), so a page of 50 costs neither their decryption nor a workflow
    evaluation per case."""

    helpline = serializers.CharField(source="helpline.code")

    class Meta:
        model = Case
        fields = list(CASE_SUMMARY_FIELDS)
        read_only_fields = fields


class _CaseFieldsInput(serializers.Serializer):
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, required=False)
    categories = serializers.ListField(
        child=serializers.SlugField(max_length=64), max_length=20, required=False
    )
    child_first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    child_age = serializers.IntegerField(min_value=0, max_value=25, required=False, allow_null=True)
    child_age_range = serializers.ChoiceField(choices=AgeRange.choices, required=False)
    child_gender = serializers.ChoiceField(choices=Gender.choices, required=False)
    child_area = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="District or town."
    )
    child_location = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="The precise place."
    )
    child_language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    child_details_note = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    vulnerability_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=VulnerabilityFlag.choices), max_length=20, required=False
    )
    safe_contact = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="How an agency can reach the child safely (times, who may answer).",
    )
    reporter_relation = serializers.ChoiceField(choices=ReporterRelation.choices, required=False)
    reporter_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    reporter_phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    assigned_to = OwnHelplinePrimaryKeyRelatedField(model=User, required=False, allow_null=True)
    team = OwnHelplinePrimaryKeyRelatedField(model=Team, required=False, allow_null=True)
    restricted = serializers.BooleanField(required=False)


class CaseCreateInput(_CaseFieldsInput):
    call_type = serializers.ChoiceField(choices=CallType.choices)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.WALK_IN)
    summary = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")
    started_at = serializers.DateTimeField(required=False)


class CaseUpdateInput(_CaseFieldsInput):
    pass


class TransitionInput(serializers.Serializer):
    name = serializers.ChoiceField(choices=[(n, n) for n in TRANSITION_NAMES])
    reason = serializers.CharField(max_length=500, required=False, allow_blank=False)
    follow_up_due_at = serializers.DateTimeField(required=False)


class ContactOutput(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "case",
            "channel",
            "direction",
            "call_type",
            "language",
            "summary",
            "started_at",
            "ended_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ContactUpdateInput(serializers.Serializer):
    call_type = serializers.ChoiceField(choices=CallType.choices, required=False)
    summary = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    ended_at = serializers.DateTimeField(required=False, allow_null=True)


class ContactAttachInput(serializers.Serializer):
    case = serializers.IntegerField(min_value=1)


class NoteOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")

    class Meta:
        model = Note
        fields = ["id", "case", "author", "body", "created_at"]
        read_only_fields = fields


class NoteInput(serializers.Serializer):
    body = serializers.CharField(max_length=20000, allow_blank=False, trim_whitespace=True)


class EscalationOutput(serializers.ModelSerializer):
    case_reference = serializers.CharField(source="case.reference")

    class Meta:
        model = Escalation
        fields = [
            "id",
            "kind",
            "case",
            "case_reference",
            "referral",
            "detail",
            "team",
            "due_at",
            "state",
            "risk_level",
            "created_at",
            "acknowledged_by",
            "acknowledged_at",
        ]
        read_only_fields = fields


class CategoryOutput(serializers.ModelSerializer):
    label = serializers.SerializerMethodField(
        help_text="In the answer's language (Content-Language): the helpline's own wording for it "
        "(`label_overrides`), else the default list's translation, else the label as written."
    )

    class Meta:
        model = Category
        fields = ["code", "label", "parent_code"]
        read_only_fields = fields

    def get_label(self, category: Category) -> str:
        labels = self.context.get("labels") or labeller(None)
        return labels.label(CATEGORY, category.code, category.label)


class CaseAccessInput(serializers.Serializer):
    users = OwnHelplinePrimaryKeyRelatedField(model=User, many=True, allow_empty=True)


class CaseAccessUserOutput(serializers.Serializer):
    id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")
    granted_at = serializers.DateTimeField()


class CaseAccessOutput(serializers.Serializer):
    restricted = serializers.BooleanField()
    need_to_know = CaseAccessUserOutput(many=True)


class BreakGlassInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=False, trim_whitespace=True)


class BreakGlassOutput(serializers.ModelSerializer):
    case_reference = serializers.CharField(source="case.reference")
    username = serializers.CharField(source="user.username")

    class Meta:
        model = CaseAccess
        fields = [
            "id",
            "case",
            "case_reference",
            "user",
            "username",
            "reason",
            "granted_at",
            "expires_at",
            "reviewed_by",
            "reviewed_at",
        ]
        read_only_fields = fields


class LinkedCaseOutput(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["id", "reference", "state"]
        read_only_fields = fields


class CaseLinkOutput(serializers.ModelSerializer):
    case = LinkedCaseOutput(
        source="other", help_text="The other case of the link, seen from the case asked about."
    )
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = CaseLink
        fields = ["id", "kind", "case", "created_by", "created_at", "removed_at"]
        read_only_fields = fields


class CaseLinkInput(serializers.Serializer):
    case = serializers.IntegerField(min_value=1, help_text="The id of the case to link to.")
    kind = serializers.ChoiceField(choices=CaseLinkKind.choices)


class CaseMergeInput(serializers.Serializer):
    into = serializers.IntegerField(
        min_value=1, help_text="The id of the case that carries on (the survivor)."
    )
    reason = serializers.CharField(
        max_length=500,
        allow_blank=False,
        trim_whitespace=True,
        help_text="Why the cases are one; becomes the merged case's closure reason.",
    )


class TransferInput(serializers.Serializer):
    to_user = OwnHelplinePrimaryKeyRelatedField(
        model=User,
        required=False,
        help_text="Hand the case to this person (an active operator or supervisor of the helpline): "
        "assigned to them, it moves to their team.",
    )
    to_team = OwnHelplinePrimaryKeyRelatedField(
        model=Team,
        required=False,
        help_text="Hand the case to this team's queue (a team of the helpline, not retired): assigned "
        "to nobody until one of them takes it.",
    )
    note = serializers.CharField(
        max_length=10000,
        help_text="What the receiver needs to know. Stored encrypted as a case note they read in the case.",
    )

    def validate(self, attrs: dict) -> dict:
        if ("to_user" in attrs) == ("to_team" in attrs):
            raise serializers.ValidationError(
                _("Name either to_user or to_team, not both."), code="one_receiver"
            )
        return attrs


class TransferOutput(serializers.Serializer):
    """The handover as done: where the case is now and the note written (no case details: the
    caller may no longer see the case)."""

    case = serializers.IntegerField(source="case.pk")
    reference = serializers.CharField(source="case.reference")
    assigned_to = serializers.IntegerField(source="case.assigned_to_id", allow_null=True)
    team = serializers.IntegerField(source="case.team_id", allow_null=True)
    note = serializers.IntegerField(source="note.pk", help_text="The handover note, among the case's notes.")
    receivers = serializers.ListField(
        child=serializers.IntegerField(),
        source="receiver_ids",
        help_text="Who received the case: the person, or the team's active staff.",
    )
