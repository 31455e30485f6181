"""When a web chat opens the child is greeted by the helpline (its own greeting in the chat's
language, else its default language's, else the built-in one, `{helpline}` filled in). Once they
have written, while no counsellor has answered, each poll tells them their place among the
helpline's waiting chats, by when each child first wrote: 1 is next. An answered, ended or closed
chat leaves the queue (null), and other helplines' chats never count."""

# ruff: noqa: RUF001  (Mongolian texts: their Cyrillic letters are the point)

import pytest
from rest_framework.test import APIClient

from cases.models import Case
from channels_sms import texts
from channels_sms.models import ChatSession, Message

from . import factories

SESSIONS = "/api/v1/chat/sessions/"


@pytest.fixture(autouse=True)
def chat_rates(settings):
    settings.CHAT_RATES = {
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }


def child():
    return APIClient(REMOTE_ADDR="10.6.6.6")


def start(helpline, language="en"):
    response = child().post(SESSIONS, {"helpline": helpline.code, "language": language}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def write(session, body="hello"):
    response = child().post(
        f"{SESSIONS}{session['id']}/messages/",
        {"body": body},
        format="json",
        HTTP_X_CHAT_SECRET=session["secret"],
    )
    assert response.status_code == 201, response.content


def poll(session):
    response = child().get(f"{SESSIONS}{session['id']}/messages/", HTTP_X_CHAT_SECRET=session["secret"])
    assert response.status_code == 200, response.content
    return response.json()


def case_of(session):
    return ChatSession.objects.select_related("contact").get(pk=session["id"]).contact.case_id


def test_the_child_is_greeted_with_the_default_text_naming_the_helpline(helpline):
    session = start(helpline)
    expected = texts.DEFAULT_GREETING.replace("{helpline}", helpline.name)
    assert [(n["kind"], n["body"]) for n in session["notices"]] == [("greeting", expected)]
    assert poll(session)["notices"] == session["notices"]
    # Not in the helpline's queue, nor its cases, before the child writes.
    assert poll(session)["queue_position"] is None and not Case.objects.exists()


def test_the_helplines_greeting_in_the_chats_language_or_its_default_language(db):
    helpline = factories.HelplineFactory(
        code="UB108",
        name="108",
        default_language="mn",
        languages=["en"],
        chat_greeting={"mn": "Сайн уу, {helpline} байна.", "en": "Hi, this is {helpline}."},
    )
    assert start(helpline, "en")["notices"][0]["body"] == "Hi, this is 108."
    assert start(helpline, "mn")["notices"][0]["body"] == "Сайн уу, 108 байна."
    assert start(helpline, "kk")["notices"][0]["body"] == "Сайн уу, 108 байна."
    assert start(helpline, "")["notices"][0]["body"] == "Сайн уу, 108 байна."


def test_waiting_children_see_their_place_until_a_counsellor_answers(api, operator, helpline):
    first, second, third = start(helpline), start(helpline), start(helpline)
    write(second, "I wrote first")
    write(first, "I wrote second")
    write(third)
    write(second, "anyone?")  # writing again keeps one's place
    elsewhere = factories.HelplineFactory(code="ELSE")
    write(start(elsewhere))  # another helpline's queue

    assert [poll(s)["queue_position"] for s in (second, first, third)] == [1, 2, 3]

    answered = api(operator).post(f"/api/v1/cases/{case_of(second)}/messages/", {"body": "Hi"}, format="json")
    assert answered.status_code == 201, answered.content
    assert [poll(s)["queue_position"] for s in (second, first, third)] == [None, 1, 2]

    ended = child().post(f"{SESSIONS}{first['id']}/end/", HTTP_X_CHAT_SECRET=first["secret"])
    assert ended.status_code == 200
    assert [poll(s)["queue_position"] for s in (first, third)] == [None, 1]

    Case.objects.filter(pk=case_of(third)).update(state="closed")
    assert poll(third)["queue_position"] is None


def test_the_greeting_opens_the_operators_thread_and_is_not_repeated_to_the_child(api, operator, helpline):
    session = start(helpline)
    write(session, "hello")
    page = poll(session)
    assert [(m["kind"], m["body"]) for m in page["results"]] == [("message", "hello")]
    thread = api(operator).get(f"/api/v1/cases/{case_of(session)}/messages/").json()["results"]
    assert [(m["kind"], m["direction"]) for m in thread] == [("greeting", "outbound"), ("message", "inbound")]
    assert thread[0]["body"] == session["notices"][0]["body"]
    # Written once, however often the child writes.
    write(session, "again")
    assert Message.objects.filter(kind="greeting").count() == 1
