"""The operator sees a web chat end as an entry in the case's conversation (`kind:
session_ended`), whether the child ended it or its time ran out (the beat task ends expired chats
at their expiry, once); a reply to an ended chat still answers 409 with the code `chat_ended`, and
stores nothing."""

from datetime import timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from channels_sms.chat import chat_sessions_close_expired
from channels_sms.models import ChatSession, Message
from helpline.models import AuditEntry

SESSIONS = "/api/v1/chat/sessions/"


@pytest.fixture(autouse=True)
def chat_rates(settings):
    settings.CHAT_RATES = {
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }


def child():
    return APIClient(REMOTE_ADDR="10.5.5.5")


def chat_case(helpline):
    session = child().post(SESSIONS, {"helpline": helpline.code}, format="json").json()
    sent = child().post(
        f"{SESSIONS}{session['id']}/messages/",
        {"body": "help"},
        format="json",
        HTTP_X_CHAT_SECRET=session["secret"],
    )
    assert sent.status_code == 201, sent.content
    return session, ChatSession.objects.select_related("contact").get(pk=session["id"]).contact.case_id


def thread(api, operator, case_id):
    response = api(operator).get(f"/api/v1/cases/{case_id}/messages/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_the_child_ending_the_chat_shows_in_the_thread_and_replies_are_refused(api, operator, helpline):
    session, case_id = chat_case(helpline)
    ended = child().post(f"{SESSIONS}{session['id']}/end/", HTTP_X_CHAT_SECRET=session["secret"])
    assert ended.status_code == 200
    assert (
        child().post(f"{SESSIONS}{session['id']}/end/", HTTP_X_CHAT_SECRET=session["secret"]).status_code
        == 200
    )

    entries = thread(api, operator, case_id)
    assert [m["kind"] for m in entries] == ["greeting", "message", "session_ended"]
    assert entries[-1]["body"] == "" and entries[-1]["channel"] == "chat"

    refused = api(operator).post(
        f"/api/v1/cases/{case_id}/messages/", {"body": "Still there?"}, format="json"
    )
    assert refused.status_code == 409
    assert [e["code"] for e in refused.json()["errors"]] == ["chat_ended"]
    assert not Message.objects.filter(direction="outbound", kind="message").exists()
    # The child sees the end too, as the last entry of their conversation.
    page = child().get(f"{SESSIONS}{session['id']}/messages/", HTTP_X_CHAT_SECRET=session["secret"]).json()
    assert [m["kind"] for m in page["results"]] == ["message", "session_ended"]


def test_an_expired_chat_ends_at_its_expiry_once(api, operator, helpline):
    session, case_id = chat_case(helpline)
    child().post(SESSIONS, {"helpline": helpline.code}, format="json")  # opened, never written in
    expires_at = ChatSession.objects.get(pk=session["id"]).expires_at

    with time_machine.travel(expires_at + timedelta(minutes=5), tick=False):
        assert chat_sessions_close_expired() == 1  # the unused one has no conversation to end
        assert chat_sessions_close_expired() == 0

        entries = thread(api, operator, case_id)
        assert [m["kind"] for m in entries] == ["greeting", "message", "session_ended"]
        assert Message.objects.get(kind="session_ended").at == expires_at
        assert ChatSession.objects.get(pk=session["id"]).ended_at == expires_at
        entry = AuditEntry.objects.get(action="chat.session.end")
        assert entry.extra == {"expired": True} and entry.case_id == case_id
        refused = api(operator).post(f"/api/v1/cases/{case_id}/messages/", {"body": "Hello?"}, format="json")
        assert refused.status_code == 409 and refused.json()["errors"][0]["code"] == "chat_ended"
        # The child is told why they can no longer write.
        late = child().post(
            f"{SESSIONS}{session['id']}/messages/",
            {"body": "hi"},
            format="json",
            HTTP_X_CHAT_SECRET=session["secret"],
        )
        assert late.status_code == 409 and late.json()["errors"][0]["detail"] == "This chat has expired."
