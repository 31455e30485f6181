"""Web chat for children, anonymous: a session is created with a secret shown once (stored as a
hash); its messages thread like an SMS sender's (the first opens a case at intake with a chat
contact, later ones join that contact); the child polls the conversation with a cursor and sees
operators' replies, which never go to Twilio; a wrong secret is an unknown session (404); an ended
chat takes no more messages (409); per-session and per-address rate limits answer 429."""

import hashlib
import random
import uuid

import pytest
from rest_framework.test import APIClient

from cases.models import Case, Contact
from channels_sms.models import ChatSession, Message
from helpline.models import AuditEntry

from . import factories

SESSIONS = "/api/v1/chat/sessions/"
TEXT = "my uncle hits me"
REPLY = "We are here for you. Are you safe right now?"


ADDRESSES = {"child": "", "other": ""}


@pytest.fixture(autouse=True)
def fresh_throttles(settings):
    """Throttle counts live in the shared Redis cache: each test writes from addresses of its own
    (sessions are new in each test anyway) instead of flushing the cache."""
    ADDRESSES["child"], ADDRESSES["other"] = (
        f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}" for _ in range(2)
    )
    settings.CHAT_RATES = {
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }


def child():
    return APIClient(REMOTE_ADDR=ADDRESSES["child"])


def start(helpline, client=None):
    response = (client or child()).post(
        SESSIONS, {"helpline": helpline.code, "language": "en"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def url(session, tail="messages/"):
    return f"{SESSIONS}{session['id']}/{tail}"


def send(session, body=TEXT, secret=None, client=None):
    return (client or child()).post(
        url(session), {"body": body}, format="json", HTTP_X_CHAT_SECRET=secret or session["secret"]
    )


def poll(session, after=None, secret=None):
    query = f"?after={after}" if after is not None else ""
    return child().get(url(session) + query, HTTP_X_CHAT_SECRET=secret or session["secret"])


def test_session_is_created_with_a_secret_stored_only_as_its_hash(helpline):
    session = start(helpline)
    assert set(session) == {"id", "secret", "expires_at", "language", "notices"}
    stored = ChatSession.objects.get(pk=session["id"])
    assert stored.secret_hash == hashlib.sha256(session["secret"].encode()).hexdigest()
    assert session["secret"] not in str(ChatSession.objects.filter(pk=session["id"]).values().first())
    entry = AuditEntry.objects.get(action="chat.session.create")
    assert entry.actor is None and entry.object_id == session["id"]
    assert session["secret"] not in str(entry.extra) + str(entry.changes)


def test_life_cycle_post_poll_with_cursor_operator_reply_and_end(helpline, api, operator):
    session = start(helpline)
    before = poll(session).json()
    assert (before["results"], before["cursor"], before["queue_position"]) == ([], None, None)
    assert [n["kind"] for n in before["notices"]] == ["greeting"]
    first = send(session)
    assert first.status_code == 201, first.content
    case = Case.objects.get()
    assert case.state == "intake"
    contact = Contact.objects.get(case=case)
    assert contact.channel == "chat"

    page = poll(session).json()
    assert [(m["direction"], m["body"]) for m in page["results"]] == [("inbound", TEXT)]
    cursor = page["cursor"]

    # The operator sees it with the case's conversation and replies through the same endpoint.
    conversation = api(operator).get(f"/api/v1/cases/{case.pk}/messages/").json()["results"]
    greeting = before["notices"][0]["body"]
    assert [(m["channel"], m["kind"], m["body"]) for m in conversation] == [
        ("chat", "greeting", greeting),
        ("chat", "message", TEXT),
    ]
    response = api(operator).post(f"/api/v1/cases/{case.pk}/messages/", {"body": REPLY}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "delivered"
    reply = Message.objects.get(direction="outbound", kind="message")
    assert reply.channel == "chat" and reply.contact_id == contact.pk and reply.to_address == ""

    page = poll(session, after=cursor).json()
    assert [(m["direction"], m["body"]) for m in page["results"]] == [("outbound", REPLY)]
    assert poll(session, after=page["cursor"]).json()["results"] == []

    assert send(session, "thank you").status_code == 201
    full = poll(session).json()["results"]
    assert [m["body"] for m in full] == [TEXT, REPLY, "thank you"]

    ended = child().post(url(session, "end/"), HTTP_X_CHAT_SECRET=session["secret"])
    assert ended.status_code == 200 and ended.json()["ended_at"]
    refused = send(session, "are you there?")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "conflict"
    # The operator's reply to an ended chat is refused too, and nothing is stored.
    late = api(operator).post(f"/api/v1/cases/{case.pk}/messages/", {"body": REPLY}, format="json")
    assert late.status_code == 409
    assert Message.objects.filter(kind="message").count() == 3
    actions = list(AuditEntry.objects.filter(actor=None).values_list("action", flat=True))
    assert actions.count("message.receive") == 2 and "chat.session.end" in actions


def test_messages_of_one_session_thread_into_one_contact_and_sessions_get_their_own_case(helpline):
    one, two = start(helpline), start(helpline)
    for body in ("a", "b", "c"):
        assert send(one, body).status_code == 201
    assert send(two, "other child").status_code == 201
    assert Case.objects.count() == 2
    contact = ChatSession.objects.get(pk=one["id"]).contact
    written = Message.objects.filter(contact=contact, kind="message")
    assert list(written.values_list("body", flat=True)) == ["a", "b", "c"]
    assert Contact.objects.filter(case=contact.case).count() == 1


def test_closing_the_case_ends_the_chat(helpline):
    session = start(helpline)
    send(session)
    Case.objects.update(state="closed")
    assert send(session, "hello?").status_code == 409


def test_wrong_missing_or_other_sessions_secret_is_not_found(helpline):
    mine, other = start(helpline), start(helpline)
    send(mine)
    for secret in ("wrong-secret", other["secret"]):
        assert send(mine, secret=secret).status_code == 404
        assert poll(mine, secret=secret).status_code == 404
        assert child().post(url(mine, "end/"), HTTP_X_CHAT_SECRET=secret).status_code == 404
    missing = child().get(url(mine))
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}],
    }
    unknown = {"id": str(uuid.uuid4()), "secret": mine["secret"]}
    assert send(unknown).status_code == 404
    assert Message.objects.filter(kind="message").count() == 1
    assert ChatSession.objects.get(pk=mine["id"]).ended_at is None


def test_unknown_or_inactive_helpline_is_not_found(helpline):
    response = child().post(SESSIONS, {"helpline": "NOPE"}, format="json")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    inactive = factories.HelplineFactory(code="OLD", is_active=False)
    assert child().post(SESSIONS, {"helpline": inactive.code}, format="json").status_code == 404
    assert not ChatSession.objects.exists()


def test_body_too_long_empty_or_malformed_is_400(helpline):
    session = start(helpline)
    too_long = send(session, "x" * 2001)
    assert too_long.status_code == 400
    assert too_long.json()["errors"][0]["attr"] == "body"
    assert send(session, "").status_code == 400
    malformed = child().post(
        url(session), '{"body": ', content_type="application/json", HTTP_X_CHAT_SECRET=session["secret"]
    )
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["code"] == "parse_error"
    assert child().post(SESSIONS, "{", content_type="application/json").status_code == 400
    assert poll(session, after="abc").status_code == 400
    assert send(session, "x" * 2000).status_code == 201
    assert [m.body for m in Message.objects.filter(kind="message")] == ["x" * 2000]


def test_rate_limits_per_session_per_address_and_on_session_creation(helpline, settings):
    settings.CHAT_RATES = {
        "chat_session_create": "3/min",
        "chat_message_session": "2/min",
        "chat_message_ip": "3/min",
    }
    one, two = start(helpline), start(helpline)
    assert [send(one).status_code for _ in range(3)] == [201, 201, 429]
    limited = send(one)
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["code"] == "throttled"
    # Another session from the same address: that address has used its 3 a minute.
    assert send(two).status_code == 429
    # From another address the second session still has its own allowance, then hits it.
    other_address = APIClient(REMOTE_ADDR=ADDRESSES["other"])
    assert send(two, client=other_address).status_code == 201
    assert send(two, client=other_address).status_code == 429
    # Polling is not limited by the message limits.
    assert poll(one).status_code == 200
    # Session creation: 3 a minute per address.
    assert start(helpline)["id"]
    blocked = child().post(SESSIONS, {"helpline": helpline.code}, format="json")
    assert blocked.status_code == 429
    assert start(helpline, client=other_address)["id"]
    assert Message.objects.filter(kind="message").count() == 3


def test_a_chat_message_reads_as_channel_chat_and_the_schema_says_it_may(helpline, api, operator):
    session = start(helpline)
    assert send(session).status_code == 201
    case = Case.objects.get()
    response = api(operator).get(f"/api/v1/cases/{case.pk}/messages/")
    assert response.status_code == 200, response.content
    assert [(m["channel"], m["direction"], m["kind"]) for m in response.json()["results"]] == [
        ("chat", "outbound", "greeting"),
        ("chat", "inbound", "message"),
    ]

    schema = api(operator).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/cases/{case_id}/messages/"]["get"]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]

    def resolve(node: dict) -> dict:
        while "$ref" in node or "allOf" in node:
            node = node["allOf"][0] if "allOf" in node else node
            if "$ref" in node:
                node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
        return node

    message = resolve(resolve(page)["properties"]["results"]["items"])
    channel = resolve(message["properties"]["channel"])
    assert {"sms", "whatsapp", "chat"} <= set(channel["enum"])
