"""What the reports API takes and answers (OpenAPI: /api/schema/)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cases.models import Channel
from cases.workflow import CallType

from ..cases_report import CASE_GROUPS, NO_TEAM
from ..files import FileFormat
from ..selectors import CONTACT_GROUPS, MAX_DAYS

UNCLASSIFIED = "unclassified"  # a contact no one has given a call type yet


class PeriodQuery(serializers.Serializer):
    """A report's period (both days included, on the helpline's clock) and file."""

    date_from = serializers.DateField(
        help_text="The period's first day, on the helpline's clock (YYYY-MM-DD)."
    )
    date_to = serializers.DateField(
        help_text="The period's last day, included, on the helpline's clock (YYYY-MM-DD)."
    )
    file = serializers.ChoiceField(
        choices=[f.value for f in FileFormat],
        required=False,
        help_text="Download the report as a file to share (`csv` or `xlsx`): counts below "
        "`REPORT_SUPPRESS_BELOW` (5) are shown as `<5`, and others as `c` where the total would "
        "reveal them; a mean handle time only where at least as many contacts ended. Without it: "
        "JSON, every figure, for the supervisor's own screen.",
    )

    def validate(self, attrs):
        return checked_period(attrs, too_long=_("A report covers at most %(days)d days."))


def checked_period(attrs: dict, *, too_long: str) -> dict:
    """A period's days in order and at most MAX_DAYS long (`too_long` names what it is of)."""
    if attrs["date_to"] < attrs["date_from"]:
        raise serializers.ValidationError(
            {"date_to": [_("The period ends before it starts.")]}, code="period_reversed"
        )
    if attrs["date_to"] - attrs["date_from"] > timedelta(days=MAX_DAYS):
        raise serializers.ValidationError(
            {"date_to": [too_long % {"days": MAX_DAYS}]}, code="period_too_long"
        )
    return attrs


def _groups(value: list[str], allowed: list[str]) -> list[str]:
    _choices(value, allowed)
    if len(value) > 2:
        raise serializers.ValidationError(_("Group by at most two."), code="max_length")
    if len(set(value)) != len(value):
        raise serializers.ValidationError(_("Group by each at most once."), code="duplicate")
    return value


class ContactReportQuery(PeriodQuery):
    by = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"Group by one or two of {', '.join(CONTACT_GROUPS)}, in order (repeat the parameter); "
        "none: the total.",
    )
    channel = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"Only contacts of these channels: {', '.join(Channel.values)} (repeat the parameter).",
    )
    call_type = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"Only contacts of these call types: {', '.join(CallType.values)}, or `{UNCLASSIFIED}` "
        "for none given yet (repeat the parameter).",
    )

    def validate_by(self, value: list[str]) -> list[str]:
        return _groups(value, list(CONTACT_GROUPS))

    def validate_channel(self, value: list[str]) -> list[str]:
        return _choices(value, Channel.values)

    def validate_call_type(self, value: list[str]) -> list[str]:
        return _choices(value, [*CallType.values, UNCLASSIFIED])


class CaseReportQuery(PeriodQuery):
    by = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"Group by one or two of {', '.join(CASE_GROUPS)}, in order (repeat the parameter); "
        "none: the total.",
    )
    team = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"Only cases of these teams of the helpline (ids), or `{NO_TEAM}` for cases without "
        "one (repeat the parameter).",
    )

    def validate_by(self, value: list[str]) -> list[str]:
        return _groups(value, list(CASE_GROUPS))

    def validate_team(self, value: list[str]) -> list[str]:
        return _choices(value, [*self.context["teams"], NO_TEAM])


# The 400s the query can answer, by parameter (drf-standardized-errors documents them).
QUERY_ERRORS = {
    "date_from": ["required", "invalid", "null"],
    "date_to": ["required", "invalid", "null", "period_reversed", "period_too_long"],
    "by": ["invalid_choice", "max_length", "duplicate"],
    "channel": ["invalid_choice"],
    "call_type": ["invalid_choice"],
    "file": ["invalid_choice"],
}
CASE_QUERY_ERRORS = {
    "date_from": ["required", "invalid", "null"],
    "date_to": ["required", "invalid", "null", "period_reversed", "period_too_long"],
    "by": ["invalid_choice", "max_length", "duplicate"],
    "team": ["invalid_choice"],
    "file": ["invalid_choice"],
}


def _choices(value: list[str], allowed: list[str]) -> list[str]:
    wrong = [item for item in value if item not in allowed]
    if wrong:
        raise serializers.ValidationError(
            _("%(value)r is not one of: %(choices)s.") % {"value": wrong[0], "choices": ", ".join(allowed)},
            code="invalid_choice",
        )
    return value


class Figures(serializers.Serializer):
    contacts = serializers.IntegerField(help_text="Contacts that started in the period (or group).")
    ended = serializers.IntegerField(help_text="Of those, the ones that have ended.")
    handle_seconds_mean = serializers.FloatField(
        allow_null=True, help_text="The ended ones' mean length in seconds (null: none ended)."
    )


class ContactReportRow(Figures):
    channel = serializers.CharField(required=False)
    channel_label = serializers.CharField(required=False)
    direction = serializers.CharField(required=False)
    direction_label = serializers.CharField(required=False)
    call_type = serializers.CharField(required=False, help_text=f"`{UNCLASSIFIED}`: none given yet.")
    call_type_label = serializers.CharField(required=False)
    language = serializers.CharField(required=False, help_text='"": contacts recorded by staff.')
    language_label = serializers.CharField(required=False)
    day = serializers.DateField(required=False)
    hour_of_day = serializers.IntegerField(required=False, help_text="0-23, on the helpline's clock.")
    day_of_week = serializers.IntegerField(required=False, help_text="1 Monday ... 7 Sunday.")


class ContactReportOutput(serializers.Serializer):
    helpline = serializers.CharField(help_text="The helpline's code.")
    timezone = serializers.CharField(help_text="The helpline's clock, which every day and hour is on.")
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    by = serializers.ListField(child=serializers.CharField())
    rows = ContactReportRow(many=True, help_text="One per group with contacts, in the groups' order.")
    total = Figures(help_text="The whole period (within the filters).")


FIRST_YEAR = 2000


class ChiReportQuery(serializers.Serializer):
    year = serializers.IntegerField(
        min_value=FIRST_YEAR, help_text="The year, on the helpline's clock (1 January to 31 December)."
    )
    file = serializers.ChoiceField(
        choices=[f.value for f in FileFormat],
        required=False,
        help_text="`csv` or `xlsx`: the report as a file to submit. Without it: the same figures as JSON.",
    )

    def validate_year(self, value: int) -> int:
        # The year on the helpline's clock: in Samoa (+13) the new year begins 13 hours before UTC's.
        if value > timezone.localtime(timezone=ZoneInfo(self.context["timezone"])).year:
            raise serializers.ValidationError(_("That year has not begun."), code="year_in_future")
        return value


CHI_QUERY_ERRORS = {
    "year": ["required", "invalid", "null", "min_value", "max_string_length", "year_in_future"],
    "file": ["invalid_choice"],
}


class ChiFigure(serializers.Serializer):
    section = serializers.CharField(
        help_text="contact_types, non_counselling, channel, age, gender, reason:<CHI category>, "
        "reasons_unmapped."
    )
    code = serializers.CharField(help_text="CHI's code of the figure (a list's total: the list's own code).")
    label = serializers.CharField(help_text="CHI's English label (the questionnaire's language).")
    shown = serializers.CharField(help_text="The figure as submitted: a count, `<5` or `c` (suppressed).")


class ChiReportOutput(serializers.Serializer):
    helpline = serializers.CharField()
    year = serializers.IntegerField()
    timezone = serializers.CharField(help_text="The helpline's clock, which the year is on.")
    mapping_version = serializers.CharField(help_text="The version of reports/data/chi-mapping.yaml used.")
    framework = serializers.CharField()
    suppressed_below = serializers.IntegerField(help_text="Counts below this are shown as `<N`.")
    figures = ChiFigure(many=True)


class CaseReportRow(serializers.Serializer):
    day = serializers.DateField(required=False)
    day_of_week = serializers.IntegerField(required=False, help_text="1 Monday ... 7 Sunday.")
    team = serializers.CharField(required=False, help_text=f"The team's id, or `{NO_TEAM}`.")
    team_label = serializers.CharField(required=False)
    risk_level = serializers.CharField(required=False, help_text="The case's risk level now.")
    risk_level_label = serializers.CharField(required=False)
    opened = serializers.IntegerField(help_text="Cases opened in the period (or group).")
    closed = serializers.IntegerField(help_text="Cases closed in the period (and closed still).")


class CaseTotals(serializers.Serializer):
    opened = serializers.IntegerField()
    closed = serializers.IntegerField()


class OpenNow(serializers.Serializer):
    risk_level = serializers.CharField()
    risk_level_label = serializers.CharField()
    open = serializers.IntegerField(help_text="Open cases now (every state but closed).")
    overdue = serializers.IntegerField(help_text="Of those, the ones past their next action's due time.")


class CaseReportOutput(serializers.Serializer):
    helpline = serializers.CharField()
    timezone = serializers.CharField(help_text="The helpline's clock, which every day is on.")
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    by = serializers.ListField(child=serializers.CharField())
    rows = CaseReportRow(many=True, help_text="One per group with cases opened or closed.")
    total = CaseTotals(help_text="The whole period (within the team filter).")
    open_now = OpenNow(many=True, help_text="The helpline's open cases now, by risk level (team filter too).")
