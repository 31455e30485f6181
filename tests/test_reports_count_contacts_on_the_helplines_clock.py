"""A supervisor's contacts report counts a known month exactly, on the helpline's own clock: a
contact at 23:30 local time on the month's last day is in the month (though it is the same UTC
day as the next one, which is not), grouped by day, channel, call type, hour of the day and
weekday, with handle times; another helpline's contacts never count; the read is on record; bad
queries answer 400 in the one shape; other roles 404. The contacts are made through the API, and
the report reads the roll-ups the trigger and the refresh keep."""

from datetime import UTC, datetime

import pytest

from cases.models import Contact
from helpline.models import AuditEntry
from reports import rollups
from tests import factories

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/reports/contacts/"
MONTH = {"date_from": "2026-11-01", "date_to": "2026-11-30"}
# Ulaanbaatar: UTC+8 all year.
ZONE = "Asia/Ulaanbaatar"


@pytest.fixture
def mongolia(helpline):
    helpline.timezone = ZONE
    helpline.save()
    return helpline


def opened(api, user, channel: str, call_type: str, local: str) -> int:
    """A case opened through the API with its first contact at `local` (Ulaanbaatar time); the
    contact's id."""
    body = {"channel": channel, "call_type": call_type, "started_at": f"{local}+08:00"}
    answer = api(user).post("/api/v1/cases/", body, format="json")
    assert answer.status_code == 201, answer.content
    return Contact.objects.get(case_id=answer.json()["id"]).pk


@pytest.fixture
def month(api, mongolia, operator):
    """The month: what happened, in Ulaanbaatar time."""
    ids = {
        # The edges: 00:30 on the 1st (the 31st of October in UTC) and 23:30 on the 30th are in;
        # 23:50 on the 31st of October and 00:10 on the 1st of December are out.
        "first": opened(api, operator, "voice", "child", "2026-11-01T00:30:00"),
        "last": opened(api, operator, "sms", "information", "2026-11-30T23:30:00"),
        "before": opened(api, operator, "voice", "child", "2026-10-31T23:50:00"),
        "after": opened(api, operator, "voice", "child", "2026-12-01T00:10:00"),
        # Mid-month: two phone calls on Wednesday the 18th at 14:xx, one of them 10 minutes long.
        "call_a": opened(api, operator, "voice", "child", "2026-11-18T14:05:00"),
        "call_b": opened(api, operator, "voice", "silent", "2026-11-18T14:55:00"),
        "chat": opened(api, operator, "chat", "child", "2026-11-18T09:00:00"),
    }
    ended = api(operator).patch(
        f"/api/v1/contacts/{ids['call_a']}/", {"ended_at": "2026-11-18T14:15:00+08:00"}, format="json"
    )
    assert ended.status_code == 200, ended.content
    # Reclassified later: counted as it is now.
    changed = api(operator).patch(
        f"/api/v1/contacts/{ids['chat']}/", {"call_type": "information"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    # Another helpline's contact in the same hour as `last`: never counted here.
    elsewhere = factories.HelplineFactory(code="ELSE", timezone=ZONE)
    factories.ContactFactory(
        helpline=elsewhere, channel="sms", started_at=datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    )
    rollups.rollups_refresh()
    return ids


def report(api, user, **query):
    return api(user).get(REPORT, {**MONTH, **query})


def test_the_months_total_counts_its_edges_on_the_helplines_clock(api, supervisor, month):
    answer = report(api, supervisor)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["helpline"], body["timezone"], body["by"]) == ("DEMO", ZONE, [])
    assert body["total"] == {"contacts": 5, "ended": 1, "handle_seconds_mean": 600.0}
    assert body["rows"] == [{"contacts": 5, "ended": 1, "handle_seconds_mean": 600.0}]


def test_by_day_puts_23_30_on_its_own_day(api, supervisor, month):
    rows = report(api, supervisor, by="day").json()["rows"]
    assert [(r["day"], r["contacts"]) for r in rows] == [
        ("2026-11-01", 1),
        ("2026-11-18", 3),
        ("2026-11-30", 1),
    ]


def test_by_channel_and_call_type_with_labels_and_handle_time(api, supervisor, month):
    rows = report(api, supervisor, by=["channel", "call_type"]).json()["rows"]
    assert [(r["channel"], r["call_type"], r["contacts"], r["handle_seconds_mean"]) for r in rows] == [
        ("chat", "information", 1, None),
        ("sms", "information", 1, None),
        ("voice", "child", 2, 600.0),
        ("voice", "silent", 1, None),
    ]
    assert rows[0]["channel_label"] == "Web chat"


def test_hour_of_day_and_weekday_are_the_helplines(api, supervisor, month):
    hours = report(api, supervisor, by="hour_of_day").json()["rows"]
    assert [(r["hour_of_day"], r["contacts"]) for r in hours] == [(0, 1), (9, 1), (14, 2), (23, 1)]
    weekdays = report(api, supervisor, by="day_of_week").json()["rows"]
    # The 1st is a Sunday (7), the 18th a Wednesday (3), the 30th a Monday (1).
    assert [(r["day_of_week"], r["contacts"]) for r in weekdays] == [(1, 1), (3, 3), (7, 1)]


def test_filters_narrow_the_counts(api, supervisor, month):
    phone = report(api, supervisor, channel="voice").json()["total"]
    assert phone["contacts"] == 3
    silent = report(api, supervisor, call_type=["silent", "information"]).json()["total"]
    assert silent["contacts"] == 3


def test_in_spanish_the_labels_are_spanish(api, supervisor, month):
    supervisor.language = "es"
    supervisor.save()
    rows = report(api, supervisor, by="channel").json()["rows"]
    assert {r["channel"]: r["channel_label"] for r in rows}["voice"] == "Llamada de voz"


def test_the_read_is_on_record(api, supervisor, month):
    report(api, supervisor, by="day", channel="sms")
    entry = AuditEntry.objects.get(action="report.read")
    assert entry.actor == supervisor
    assert entry.extra["report"] == "contacts"
    assert (entry.extra["by"], entry.extra["channel"]) == (["day"], ["sms"])


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-11-30", "date_to": "2026-11-01"},
        {"date_from": "2026-11-01"},
        {"date_from": "yesterday", "date_to": "2026-11-30"},
        {**MONTH, "by": "colour"},
        {**MONTH, "by": ["day", "day"]},
        {**MONTH, "by": ["day", "channel", "language"]},
        {**MONTH, "channel": "pigeon"},
        {"date_from": "2000-01-01", "date_to": "2026-11-30"},
        {**MONTH, "team": "3"},
    ],
)
def test_bad_queries_answer_400_in_the_one_shape(api, supervisor, query):
    answer = api(supervisor).get(REPORT, query)
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["type"] == "validation_error" and body["errors"]
    assert not AuditEntry.objects.filter(action="report.read").exists()


@pytest.mark.parametrize("role", ["operator", "admin", "agency"])
def test_only_supervisors_read_the_numbers(api, role, operator, admin_user, agency_user):
    user = {"operator": operator, "admin": admin_user, "agency": agency_user}[role]
    assert api(user).get(REPORT, MONTH).status_code == 404
