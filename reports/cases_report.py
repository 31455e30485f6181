"""The cases report (issue #18): cases a helpline opened and closed in a period, by day, team, risk
level and weekday, from the day roll-up (reports.models.CaseDay); and its open cases now, by risk
level, with how many are past their next action's due time (read live: a count over the open
cases' urgency index, which holds only open cases)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import ExtractIsoWeekDay
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case
from cases.workflow import CaseState, RiskLevel
from helpline import labels
from helpline.models import Team, User

from .models import CaseDay
from .selectors import record_report_read, report_helpline

CASE_GROUPS = {
    "day": F("day"),
    "day_of_week": ExtractIsoWeekDay("day"),
    "team": F("team_id"),
    "risk_level": F("risk_level"),
}
NO_TEAM = "none"


@dataclass(frozen=True)
class CaseFilters:
    date_from: date
    date_to: date
    by: tuple[str, ...] = ()
    team: tuple[str, ...] = ()  # team ids as given, or "none" for cases without a team
    file: str = ""


def case_report(*, user: User, filters: CaseFilters) -> dict:
    """The caller's helpline's cases opened and closed in the period, grouped by `filters.by`,
    with labels in the reader's language; and its open cases now. On record."""
    helpline = report_helpline(user=user)
    rows = CaseDay.objects.filter(helpline=helpline, day__gte=filters.date_from, day__lte=filters.date_to)
    open_now = Case.objects.filter(helpline=helpline).exclude(state=CaseState.CLOSED)
    if filters.team:
        chosen = Q(team_id__in=[int(t) for t in filters.team if t != NO_TEAM])
        if NO_TEAM in filters.team:
            chosen |= Q(team_id__isnull=True)
        rows, open_now = rows.filter(chosen), open_now.filter(chosen)
    sums = {"opened": Sum("opened"), "closed": Sum("closed")}
    totals = rows.aggregate(**sums)
    groups = {f"g_{name}": CASE_GROUPS[name] for name in filters.by}
    counted = (
        list(rows.annotate(**groups).values(*groups).annotate(**sums).order_by(*groups)) if groups else []
    )
    teams = dict(Team.objects.filter(helpline=helpline).values_list("id", "name"))
    reader = labels.labeller(helpline)
    risks = labels.vocabulary_choices("risk_level") or {}
    now = timezone.now()
    by_risk = {
        row["risk_level"]: row
        for row in open_now.values("risk_level").annotate(
            open=Count("id"), overdue=Count("id", filter=Q(next_action_due_sort__lt=now))
        )
    }
    result = {
        "helpline": helpline.code,
        "timezone": helpline.timezone,
        "date_from": filters.date_from,
        "date_to": filters.date_to,
        "by": list(filters.by),
        "rows": [
            _row(row, filters.by, teams, reader, risks) for row in counted if row["opened"] or row["closed"]
        ],
        "total": {"opened": totals["opened"] or 0, "closed": totals["closed"] or 0},
        "open_now": [
            {
                "risk_level": risk,
                "risk_level_label": reader.label("risk_level", risk, str(risks.get(risk, risk))),
                "open": by_risk[risk]["open"] if risk in by_risk else 0,
                "overdue": by_risk[risk]["overdue"] if risk in by_risk else 0,
            }
            for risk in RiskLevel.values
        ],
    }
    record_report_read(
        user=user,
        helpline=helpline,
        report="cases",
        file=filters.file,
        date_from=filters.date_from.isoformat(),
        date_to=filters.date_to.isoformat(),
        by=list(filters.by),
        team=list(filters.team),
    )
    return result


def _row(row: dict, by: tuple[str, ...], teams: dict, reader: labels.Labeller, risks: dict) -> dict:
    answer: dict = {}
    for name in by:
        value = row[f"g_{name}"]
        if name == "team":
            answer["team"] = NO_TEAM if value is None else str(value)
            answer["team_label"] = str(_("No team")) if value is None else teams.get(value, str(value))
        elif name == "risk_level":
            answer["risk_level"] = value
            answer["risk_level_label"] = reader.label("risk_level", value, str(risks.get(value, value)))
        else:
            answer[name] = value
    answer["opened"], answer["closed"] = row["opened"], row["closed"]
    return answer
