"""A helpline's opening hours are weekly periods in its own time zone (null: always open, the
default). A chat opened outside them shows the child the greeting and then the out-of-hours
message (the helpline's own, in the chat's language, or the built-in one), and stays open: what
the child writes is kept for the next shift, with the notices in the thread for the operator.
Periods may run past midnight; the hours are read in the helpline's zone (Ulaanbaatar, Mexico
City), not UTC. Administrators set all of it through the helplines endpoint, validated."""

# ruff: noqa: RUF001  (Mongolian texts: their Cyrillic letters are the point)

import zoneinfo
from datetime import datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from channels_sms import texts
from channels_sms.models import ChatSession, Message
from helpline.chat_settings import is_open
from helpline.models import AuditEntry

from . import factories

SESSIONS = "/api/v1/chat/sessions/"
UB = zoneinfo.ZoneInfo("Asia/Ulaanbaatar")  # UTC+8, no daylight saving
MX = zoneinfo.ZoneInfo("America/Mexico_City")  # UTC-6 since 2022
WEEKNIGHTS = [
    {"weekday": day, "opens": "18:00", "closes": "02:00"}
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
]


@pytest.fixture(autouse=True)
def chat_rates(settings):
    settings.CHAT_RATES = {
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }


def at(zone, *args):
    return datetime(*args, tzinfo=zone)


def test_periods_past_midnight_are_read_in_the_helplines_zone():
    # 2026-12-07 is a Monday.
    assert is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 7, 18, 0))
    assert is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 7, 23, 59))
    assert is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 8, 1, 59))  # Monday night, Tuesday 01:59
    assert not is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 8, 2, 0))
    assert not is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 7, 17, 59))
    # Saturday 01:00 is Friday night; Sunday 01:00 is not (no Saturday period).
    assert is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 12, 1, 0))
    assert not is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 13, 1, 0))
    # Monday 01:00 is Sunday night: closed (no Sunday period).
    assert not is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", at(UB, 2026, 12, 7, 1, 0))
    # The same instant in UTC (Monday 10:30 UTC = Monday 18:30 in Ulaanbaatar = 04:30 in Mexico City).
    instant = datetime(2026, 12, 7, 10, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))
    assert is_open(WEEKNIGHTS, "Asia/Ulaanbaatar", instant)
    assert not is_open(WEEKNIGHTS, "America/Mexico_City", instant)
    assert not is_open(WEEKNIGHTS, "UTC", instant)
    office = [{"weekday": "monday", "opens": "09:00", "closes": "24:00"}]
    assert is_open(office, "America/Mexico_City", at(MX, 2026, 12, 7, 23, 59))
    assert not is_open(office, "America/Mexico_City", at(MX, 2026, 12, 8, 0, 0))
    assert is_open(None, "America/Mexico_City", instant)  # no hours: always open


def start(helpline, language="en"):
    response = APIClient(REMOTE_ADDR="10.7.7.7").post(
        SESSIONS, {"helpline": helpline.code, "language": language}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_chat_opened_out_of_hours_gets_the_notice_and_stays_open(api, db):
    helpline = factories.HelplineFactory(
        code="MNCHAT", name="Child Line 108", timezone="Asia/Ulaanbaatar", opening_hours=WEEKNIGHTS
    )
    # Monday 12:00 in Ulaanbaatar (04:00 UTC): closed.
    with time_machine.travel(at(UB, 2026, 12, 7, 12, 0), tick=False):
        session = start(helpline)
    assert [n["kind"] for n in session["notices"]] == ["greeting", "out_of_hours"]
    assert session["notices"][1]["body"] == texts.DEFAULT_OUT_OF_HOURS
    assert "Child Line 108" in session["notices"][0]["body"]
    entry = AuditEntry.objects.get(action="chat.session.create")
    assert entry.extra["out_of_hours"] is True

    child = APIClient(REMOTE_ADDR="10.7.7.8")
    url = f"{SESSIONS}{session['id']}/messages/"
    with time_machine.travel(at(UB, 2026, 12, 7, 12, 5), tick=False):
        sent = child.post(
            url, {"body": "is anyone there"}, format="json", HTTP_X_CHAT_SECRET=session["secret"]
        )
    assert sent.status_code == 201, sent.content
    with time_machine.travel(at(UB, 2026, 12, 7, 12, 6), tick=False):
        page = child.get(url, HTTP_X_CHAT_SECRET=session["secret"]).json()
    assert [n["kind"] for n in page["notices"]] == ["greeting", "out_of_hours"]
    assert page["queue_position"] == 1 and [m["body"] for m in page["results"]] == ["is anyone there"]
    # The operator of the next shift reads the thread as the child saw it.
    case_id = Message.objects.get(kind="message").case_id
    operator = factories.OperatorFactory(username="mn-operator", helpline=helpline)
    thread = api(operator).get(f"/api/v1/cases/{case_id}/messages/").json()["results"]
    assert [m["kind"] for m in thread] == ["greeting", "out_of_hours", "message"]
    assert thread[1]["body"] == texts.DEFAULT_OUT_OF_HOURS


def test_within_hours_there_is_no_notice_and_the_helplines_own_texts_are_used(db):
    helpline = factories.HelplineFactory(
        code="MXCHAT",
        name="Línea de la Vida",
        timezone="America/Mexico_City",
        default_language="es",
        languages=["en"],
        opening_hours=WEEKNIGHTS,
        chat_greeting={"es": "Hola, esto es {helpline}.", "en": "Hello, this is {helpline}."},
        out_of_hours_message={"es": "Estamos cerrados; te leeremos al abrir."},
    )
    # Monday 20:00 in Mexico City (Tuesday 02:00 UTC): open.
    with time_machine.travel(at(MX, 2026, 12, 7, 20, 0), tick=False):
        inside = start(helpline, language="en")
    assert inside["notices"] == [
        {"kind": "greeting", "body": "Hello, this is Línea de la Vida.", "at": inside["notices"][0]["at"]}
    ]
    # Monday 03:00 in Mexico City (09:00 UTC): closed. A language without a text falls back to
    # the helpline's default language.
    with time_machine.travel(at(MX, 2026, 12, 7, 3, 0), tick=False):
        outside = start(helpline, language="fr")
    assert [n["body"] for n in outside["notices"]] == [
        "Hola, esto es Línea de la Vida.",
        "Estamos cerrados; te leeremos al abrir.",
    ]
    assert (
        ChatSession.objects.get(pk=outside["id"]).out_of_hours_notice
        == "Estamos cerrados; te leeremos al abrir."
    )


def test_administrators_set_the_hours_zone_and_texts_through_the_api(api, admin_user, helpline):
    url = f"/api/v1/helplines/{helpline.pk}/"
    settings_body = {
        "timezone": "Asia/Ulaanbaatar",
        "opening_hours": WEEKNIGHTS,
        "chat_greeting": {"en": "Hi from {helpline}", "mn": "Сайн уу, {helpline}"},
        "out_of_hours_message": {"en": "We are closed."},
    }
    response = api(admin_user).patch(url, settings_body, format="json")
    assert response.status_code == 200, response.json()
    assert {k: response.json()[k] for k in settings_body} == settings_body
    helpline.refresh_from_db()
    assert (helpline.timezone, helpline.opening_hours) == ("Asia/Ulaanbaatar", WEEKNIGHTS)
    entry = AuditEntry.objects.filter(action="helpline.update").latest("id")
    assert set(entry.changes) == {"timezone", "opening_hours", "chat_greeting", "out_of_hours_message"}
    # Back to 24/7.
    always = api(admin_user).patch(url, {"opening_hours": None}, format="json")
    assert always.status_code == 200 and always.json()["opening_hours"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"opening_hours": []}, "empty"),
        ({"opening_hours": {"monday": "08:00-20:00"}}, "invalid"),
        ({"opening_hours": [{"weekday": "mon", "opens": "08:00", "closes": "20:00"}]}, "invalid"),
        ({"opening_hours": [{"weekday": "monday", "opens": "8am", "closes": "20:00"}]}, "invalid"),
        ({"opening_hours": [{"weekday": "monday", "opens": "24:00", "closes": "02:00"}]}, "invalid"),
        ({"opening_hours": [{"weekday": "monday", "opens": "08:00", "closes": "08:00"}]}, "invalid"),
        ({"opening_hours": [{"weekday": "monday", "opens": "08:00"}]}, "invalid"),
        # The schema declares the period's keys: another is refused as any unknown field is.
        (
            {"opening_hours": [{"weekday": "monday", "opens": "08:00", "closes": "20:00", "note": "x"}]},
            ("opening_hours.0.note", "unknown_field"),
        ),
        ({"opening_hours": [{"weekday": "monday", "opens": "08:00", "closes": "20:00"}] * 51}, "max_length"),
        ({"timezone": "Mars/Olympus_Mons"}, "invalid"),
        ({"chat_greeting": {"en": "Hello {name}"}}, "invalid_placeholder"),
        ({"chat_greeting": {"english": "Hello"}}, "invalid"),
        ({"chat_greeting": {"en": ""}}, "blank"),
        ({"out_of_hours_message": ["closed"]}, "invalid"),
        ({"out_of_hours_message": {"en": "x" * 1001}}, "max_length"),
    ],
)
def test_invalid_chat_settings_are_refused_and_nothing_changes(api, admin_user, helpline, body, code):
    response = api(admin_user).patch(f"/api/v1/helplines/{helpline.pk}/", body, format="json")
    assert response.status_code == 400, response.json()
    (error,) = response.json()["errors"]
    expected = code if isinstance(code, tuple) else (next(iter(body)), code)
    assert (error["attr"], error["code"]) == expected
    helpline.refresh_from_db()
    assert (helpline.opening_hours, helpline.chat_greeting, helpline.timezone) == (None, {}, "Africa/Nairobi")


def test_operators_and_supervisors_cannot_change_the_hours(api, operator, supervisor, helpline):
    for user in (operator, supervisor):
        response = api(user).patch(
            f"/api/v1/helplines/{helpline.pk}/", {"opening_hours": None}, format="json"
        )
        assert response.status_code in (403, 404)
