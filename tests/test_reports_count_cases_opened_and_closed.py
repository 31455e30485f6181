"""A supervisor's cases report counts a known month exactly, on the helpline's clock: cases opened
and closed by day, team and risk level (a case opened at 00:30 local time on the 1st is in the
month though it is still October in UTC; one opened on the 31st of October and closed in November
counts as closed only), filtered by team; the open cases now by risk with the overdue ones; the
file suppressed; the read on record; bad queries 400; other roles 404. Cases are made and moved
through the API at the instants they happen."""

import csv
import io
from datetime import datetime

import pytest
import time_machine

from cases.models import Case
from helpline.models import AuditEntry
from reports import rollups
from tests import factories

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/reports/cases/"
MONTH = {"date_from": "2026-11-01", "date_to": "2026-11-30"}
ZONE = "Africa/Nairobi"  # UTC+3


def at(local: str) -> datetime:
    """An instant given on Nairobi's clock."""
    return datetime.fromisoformat(f"{local}+03:00")


def act(api, user, when: str, method: str, path: str, body: dict) -> dict:
    with time_machine.travel(at(when), tick=False):
        answer = getattr(api(user), method)(path, body, format="json")
    assert answer.status_code in (200, 201), answer.content
    return answer.json()


@pytest.fixture
def month(api, helpline, team, operator, supervisor):
    helpline.timezone = ZONE
    helpline.save()
    night = factories.TeamFactory(helpline=helpline, name="Night shift")
    night_operator = factories.OperatorFactory(username="night1", helpline=helpline, team=night)
    floater = factories.OperatorFactory(username="floater1", helpline=helpline, team=None)

    def opened(user, when, call_type="child"):
        body = {"channel": "voice", "call_type": call_type, "started_at": at(when).isoformat()}
        return act(api, user, when, "post", "/api/v1/cases/", body)["id"]

    def step(user, when, case, name, **fields):
        act(api, user, when, "post", f"/api/v1/cases/{case}/transitions/", {"name": name, **fields})

    def risk(user, when, case, level):
        act(api, user, when, "patch", f"/api/v1/cases/{case}/", {"risk_level": level})

    first = opened(operator, "2026-11-01T00:30:00")  # 21:30 UTC on the 31st of October
    step(operator, "2026-11-01T00:40:00", first, "start_assessment")  # the day shift's
    risk(operator, "2026-11-01T00:45:00", first, "high")
    step(supervisor, "2026-11-03T10:00:00", first, "close", reason="Supported.")  # high risk: theirs
    last = opened(floater, "2026-11-30T23:30:00")  # stays in intake; its operator has no team
    before = opened(operator, "2026-10-31T23:50:00")  # October's, closed in November
    step(operator, "2026-11-01T08:00:00", before, "start_assessment")
    risk(operator, "2026-11-01T08:05:00", before, "low")
    step(operator, "2026-11-02T09:00:00", before, "close", reason="Supported.")
    silent = opened(operator, "2026-11-10T12:00:00", call_type="silent")
    step(operator, "2026-11-10T12:01:00", silent, "dismiss", reason="Silent.")
    critical = opened(night_operator, "2026-11-10T22:00:00")
    step(night_operator, "2026-11-10T22:05:00", critical, "start_assessment")  # the night shift's
    risk(night_operator, "2026-11-10T22:06:00", critical, "critical")
    opened(operator, "2026-12-01T00:10:00")  # December's
    rollups.rollups_refresh()
    return {"night": night, "first": first, "last": last, "critical": critical}


def report(api, user, **query):
    answer = api(user).get(REPORT, {**MONTH, **query})
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_the_months_cases_on_the_helplines_clock(api, supervisor, month):
    body = report(api, supervisor)
    assert (body["helpline"], body["timezone"]) == ("DEMO", ZONE)
    assert body["total"] == {"opened": 4, "closed": 3}
    days = report(api, supervisor, by="day")["rows"]
    assert [(r["day"], r["opened"], r["closed"]) for r in days] == [
        ("2026-11-01", 1, 0),
        ("2026-11-02", 0, 1),
        ("2026-11-03", 0, 1),
        ("2026-11-10", 2, 1),
        ("2026-11-30", 1, 0),
    ]


def test_by_team_and_risk_level_as_the_cases_are_now(api, supervisor, team, month):
    teams = report(api, supervisor, by="team")["rows"]
    assert [(r["team_label"], r["opened"], r["closed"]) for r in teams] == [
        ("Day shift", 2, 3),
        ("Night shift", 1, 0),
        ("No team", 1, 0),
    ]
    assert teams[0]["team"] == str(team.pk) and teams[2]["team"] == "none"
    risks = report(api, supervisor, by="risk_level")["rows"]
    assert {r["risk_level"]: (r["opened"], r["closed"]) for r in risks} == {
        "critical": (1, 0),
        "high": (1, 1),
        "low": (0, 1),
        "unassessed": (2, 1),
    }
    assert next(r for r in risks if r["risk_level"] == "critical")["risk_level_label"] == "Critical"


def test_a_team_filter_narrows_the_period_and_the_open_cases(api, supervisor, month):
    night = report(api, supervisor, team=str(month["night"].pk))
    assert night["total"] == {"opened": 1, "closed": 0}
    critical = next(r for r in night["open_now"] if r["risk_level"] == "critical")
    assert (critical["open"], critical["overdue"]) == (1, 1)  # its due time passed in November
    without = report(api, supervisor, team="none")
    assert without["total"] == {"opened": 1, "closed": 0}


def test_open_cases_now_by_risk(api, supervisor, month):
    now = {r["risk_level"]: (r["open"], r["overdue"]) for r in report(api, supervisor)["open_now"]}
    # Open: the one in intake (and December's), the critical one; the others are closed.
    assert now["critical"] == (1, 1)
    assert now["unassessed"][0] == 2
    assert now["high"] == now["low"] == (0, 0)


def test_a_later_change_moves_the_figures(api, supervisor, operator, month):
    Case.objects.filter(pk=month["last"]).update(risk_level="medium")  # even written by hand
    rollups.rollups_refresh()
    risks = {r["risk_level"]: r["opened"] for r in report(api, supervisor, by="risk_level")["rows"]}
    assert risks["medium"] == 1 and risks["unassessed"] == 1


def test_the_file_hides_small_counts(api, supervisor, month):
    answer = api(supervisor).get(REPORT, {**MONTH, "by": "team", "file": "csv"})
    assert answer.status_code == 200, answer.content
    lines = list(csv.reader(io.StringIO(answer.content.decode())))
    assert lines[0] == ["team", "team_label", "opened", "closed"]
    # Every count is small: each list's total is below 5, so every cell reads "<5".
    assert [line[2:] for line in lines[1:]] == [["<5", "<5"]] * 4


def test_the_read_is_on_record(api, supervisor, month):
    report(api, supervisor, by="team", team="none")
    entry = AuditEntry.objects.filter(action="report.read").latest("id")
    assert entry.extra == {
        "report": "cases",
        "date_from": "2026-11-01",
        "date_to": "2026-11-30",
        "by": ["team"],
        "team": ["none"],
    }


@pytest.mark.parametrize(
    ("query", "attr", "code"),
    [
        ({"by": "hour_of_day"}, "by", "invalid_choice"),
        ({"by": ["team", "team"]}, "by", "duplicate"),
        ({"team": "999999"}, "team", "invalid_choice"),
        ({"date_to": "2026-10-01"}, "date_to", "period_reversed"),
        ({"colour": "red"}, "colour", "unknown_parameter"),
    ],
)
def test_bad_queries_answer_400(api, supervisor, month, query, attr, code):
    answer = api(supervisor).get(REPORT, {**MONTH, **query})
    assert answer.status_code == 400
    assert (answer.json()["errors"][0]["attr"], answer.json()["errors"][0]["code"]) == (attr, code)


def test_another_helplines_team_is_not_one_to_filter_by(api, supervisor, month):
    elsewhere = factories.TeamFactory(helpline=factories.HelplineFactory(code="ELSE"), name="Theirs")
    answer = api(supervisor).get(REPORT, {**MONTH, "team": str(elsewhere.pk)})
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "invalid_choice"


def test_operators_get_404(api, operator, month):
    assert api(operator).get(REPORT, MONTH).status_code == 404
