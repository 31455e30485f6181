"""Canned replies: a helpline's supervisors and administrators write, change and retire them per
language; its operators list them and reply with one (`canned_reply` instead of `body`) in SMS and
web chat: the text stored and sent is the reply as written, `{helpline}` filled with the
helpline's name and nothing else evaluated. Bad input answers 400 in the one error shape: unknown
fields, both or neither of body and canned_reply, another helpline's, a retired or another
language's reply, an unknown placeholder; operators cannot write replies; other helplines' replies
are invisible."""

# ruff: noqa: RUF001  (Mongolian texts: their Cyrillic letters are the point)

import pytest
from django.test import Client
from rest_framework.test import APIClient

from channels_sms.models import CannedReply, EventKind, InboundEvent, Message, PhoneNumber
from channels_sms.sms import inbound_event_process
from channels_sms.tasks import send_outbound_message
from helpline.models import AuditEntry
from tests.twilio_signing import PUBLIC, TOKEN, twilio_signature

from . import factories
from .fake_twilio import FakeTwilio

REPLIES = "/api/v1/canned-replies/"
ACCOUNT = "AC" + "2" * 32
CHILD, OURS = "+254712345670", "+15005550007"
SAFE = "You reached {helpline}. Are you safe right now?"


@pytest.fixture
def fake(settings):
    server = FakeTwilio(slow_seconds=1.5).start()
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_API_BASE_URL = server.url
    settings.PUBLIC_BASE_URL = PUBLIC
    yield server
    server.stop()


def sms_case(helpline) -> Message:
    """A child's SMS through the real webhook, threaded into a case."""
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OURS)
    data = {"AccountSid": ACCOUNT, "MessageSid": "SM" + "c" * 32, "From": CHILD, "To": OURS, "Body": "help"}
    path = "/webhooks/twilio/sms/"
    response = Client().post(path, data, HTTP_X_TWILIO_SIGNATURE=twilio_signature(path, data))
    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get(kind=EventKind.MESSAGE)
    inbound_event_process(event_id=event.pk)
    return Message.objects.get(event=event)


def write(api, user, **fields):
    return api(user).post(
        REPLIES, {"language": "en", "title": "Safe?", "body": SAFE, **fields}, format="json"
    )


def reply(api, user, case_id, body):
    return api(user).post(f"/api/v1/cases/{case_id}/messages/", body, format="json")


def errors(response):
    return {(e["attr"], e["code"]) for e in response.json()["errors"]}


@pytest.fixture
def canned(api, supervisor):
    response = write(api, supervisor)
    assert response.status_code == 201, response.json()
    return response.json()


def test_an_sms_reply_from_a_canned_reply_is_sent_as_written(api, operator, helpline, canned, fake):
    child = sms_case(helpline)

    response = reply(api, operator, child.case_id, {"canned_reply": canned["id"]})

    assert response.status_code == 201, response.json()
    expected = f"You reached {helpline.name}. Are you safe right now?"
    assert (response.json()["body"], response.json()["canned_reply"]) == (expected, canned["id"])
    message = Message.objects.get(pk=response.json()["id"])
    assert message.body == expected and message.canned_reply_id == canned["id"]
    entry = AuditEntry.objects.get(action="message.send")
    assert entry.extra["canned_reply"] == canned["id"] and expected not in str(entry.extra)
    assert send_outbound_message.apply(args=(message.pk,)).get() == "sent"
    assert fake.requests[0]["form"]["Body"] == expected


def test_a_chat_reply_from_a_canned_reply_reaches_the_child_as_written(api, operator, helpline, canned):
    child = APIClient(REMOTE_ADDR="10.9.8.7")
    session = child.post(
        "/api/v1/chat/sessions/", {"helpline": helpline.code, "language": "en"}, format="json"
    )
    session = session.json()
    messages = f"/api/v1/chat/sessions/{session['id']}/messages/"
    assert (
        child.post(messages, {"body": "hi"}, format="json", HTTP_X_CHAT_SECRET=session["secret"]).status_code
        == 201
    )
    case_id = Message.objects.get(kind="message").case_id

    assert reply(api, operator, case_id, {"canned_reply": canned["id"]}).status_code == 201

    page = child.get(messages, HTTP_X_CHAT_SECRET=session["secret"]).json()
    assert page["results"][-1]["body"] == f"You reached {helpline.name}. Are you safe right now?"


def test_a_placeholder_typed_by_someone_is_never_evaluated(api, supervisor, operator, helpline, fake):
    # Only `{helpline}` is known; anything that looks like a template is refused, not run.
    for body in ("{helpline.users}", "{0}", "{__class__}", "{{helpline}}x{secret}"):
        refused = write(api, supervisor, title=body, body=body)
        assert refused.status_code == 400, body
        assert errors(refused) == {("body", "invalid_placeholder")}
    plain = write(api, supervisor, title="Braces", body="Text with % and {helpline} and }{ as typed: %(x)s")
    assert plain.status_code == 201, plain.json()
    child = sms_case(helpline)
    sent = reply(api, operator, child.case_id, {"canned_reply": plain.json()["id"]})
    assert sent.json()["body"] == f"Text with % and {helpline.name} and }}{{ as typed: %(x)s"


def test_operators_list_their_helplines_usable_replies_by_language(
    api, operator, supervisor, helpline, canned
):
    write(api, supervisor, language="mn", title="Safe?", body="Та аюулгүй байна уу?")
    retired = write(api, supervisor, title="Old").json()
    assert (
        api(supervisor).patch(f"{REPLIES}{retired['id']}/", {"is_active": False}, format="json").status_code
        == 200
    )
    elsewhere = factories.HelplineFactory(code="ELSE")
    CannedReply.objects.create(
        helpline=elsewhere,
        language="en",
        title="Theirs",
        body="x",
        created_by=factories.AdminFactory(helpline=elsewhere),
    )

    english = api(operator).get(f"{REPLIES}?language=en")
    assert english.status_code == 200
    assert [r["title"] for r in english.json()["results"]] == ["Safe?"]
    everything = api(operator).get(REPLIES).json()["results"]
    assert sorted((r["language"], r["title"]) for r in everything) == [("en", "Safe?"), ("mn", "Safe?")]
    assert [r["id"] for r in api(operator).get(f"{REPLIES}?retired=true").json()["results"]] == [
        retired["id"]
    ]
    theirs = CannedReply.objects.get(helpline=elsewhere)
    assert api(operator).get(f"{REPLIES}{theirs.pk}/").status_code == 404
    assert api(operator).get(f"{REPLIES}?retired=maybe").status_code == 400
    assert api(operator).get(f"{REPLIES}?lang=en").status_code == 400


def test_only_supervisors_and_admins_write_change_and_retire(api, operator, admin_user, canned, helpline):
    refused = write(api, operator, title="Mine")
    assert refused.status_code == 403
    assert api(operator).patch(f"{REPLIES}{canned['id']}/", {"title": "X"}, format="json").status_code == 403
    by_admin = write(api, admin_user, title="From the admin")
    assert by_admin.status_code == 201, by_admin.json()
    changed = api(admin_user).patch(f"{REPLIES}{canned['id']}/", {"body": "Are you safe?"}, format="json")
    assert changed.status_code == 200 and changed.json()["body"] == "Are you safe?"
    entry = AuditEntry.objects.filter(action="canned_reply.update").latest("id")
    assert entry.changes == {"body": {"before": SAFE, "after": "Are you safe?"}}
    elsewhere = factories.HelplineFactory(code="ELSE")
    other_admin = factories.AdminFactory(username="else-admin", helpline=elsewhere)
    assert (
        api(other_admin).patch(f"{REPLIES}{canned['id']}/", {"title": "X"}, format="json").status_code == 404
    )


def test_bad_replies_are_refused_and_nothing_is_sent(api, operator, supervisor, helpline, canned, fake):
    child = sms_case(helpline)
    mongolian = write(api, supervisor, language="mn", title="Safe?", body="Та аюулгүй байна уу?").json()
    retired = write(api, supervisor, title="Retired").json()
    api(supervisor).patch(f"{REPLIES}{retired['id']}/", {"is_active": False}, format="json")
    elsewhere = factories.HelplineFactory(code="ELSE")
    theirs = CannedReply.objects.create(
        helpline=elsewhere,
        language="en",
        title="Theirs",
        body="x",
        created_by=factories.AdminFactory(helpline=elsewhere),
    )
    cases = [
        ({"body": "hi", "canned_reply": canned["id"]}, {("non_field_errors", "invalid")}),
        ({}, {("body", "required")}),
        ({"canned_reply": theirs.pk}, {("canned_reply", "does_not_exist")}),
        ({"canned_reply": 10**9}, {("canned_reply", "does_not_exist")}),
        ({"canned_reply": retired["id"]}, {("canned_reply", "retired")}),
        ({"canned_reply": mongolian["id"]}, {("canned_reply", "wrong_language")}),
        ({"canned_reply": "first"}, {("canned_reply", "invalid")}),
        ({"canned_reply": canned["id"], "template": "x"}, None),
    ]
    for body, expected in cases:
        response = reply(api, operator, child.case_id, body)
        assert response.status_code == 400, (body, response.json())
        if expected is not None:
            assert errors(response) == expected, body
    assert not Message.objects.filter(direction="outbound").exists()

    for fields, expected in [
        ({"language": "english"}, ("language", "invalid")),
        ({"title": ""}, ("title", "blank")),
        ({"body": "x" * 1601}, ("body", "max_length")),
        ({"title": "Safe?"}, ("title", "unique")),
    ]:
        response = write(api, supervisor, **fields)
        assert response.status_code == 400, (fields, response.json())
        assert expected in errors(response), fields
    unknown = write(api, supervisor, title="New", colour="red")
    assert unknown.status_code == 400
    assert CannedReply.objects.filter(helpline=helpline).count() == 3
