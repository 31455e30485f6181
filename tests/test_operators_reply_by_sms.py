"""Operators reply to a case's SMS/WhatsApp sender: the reply is stored (encrypted, queued) with
its audit entry, sent once by a task through twilio's Client against a fake Twilio (a real local
HTTP server), retried on 5xx/429/timeouts without ever sending twice, failed on a 4xx, moved
forward (never back) by status callbacks; without credentials it lands in the local outbox."""

import io
import logging
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from cases.models import Case
from channels_sms.models import EventKind, InboundEvent, Message, PhoneNumber
from channels_sms.sms import inbound_event_process
from channels_sms.tasks import send_outbound_message
from helpline import policy
from helpline.models import AuditEntry, AuditOutcome
from helpline.vocabulary import PolicyAction
from tests.twilio_signing import PUBLIC, TOKEN, twilio_signature

from . import factories
from .fake_twilio import FakeTwilio

ACCOUNT = "AC" + "1" * 32
CHILD = "+254712345678"
OURS = "+15005550006"
WHATSAPP_OURS = "whatsapp:+14155238886"
REPLY = "We are here for you. Are you safe right now?"
STATUS_URL = "/webhooks/twilio/sms/status/"


@pytest.fixture
def fake():
    server = FakeTwilio(slow_seconds=1.5).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def twilio_settings(settings, fake):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_API_BASE_URL = fake.url
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 0.5
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.OUTBOUND_RETRY_BASE_SECONDS = 0.01
    settings.OUTBOUND_MAX_RETRIES = 3


@pytest.fixture
def numbers(helpline):
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OURS)
    PhoneNumber.objects.create(helpline=helpline, channel="whatsapp", number=WHATSAPP_OURS)


def signed_post(path, data, query=""):
    signature = twilio_signature(path + query, data)
    return Client().post(path + query, data, HTTP_X_TWILIO_SIGNATURE=signature)


def inbound(sid="SM" + "a" * 32, sender=CHILD, to=OURS, body="my uncle hits me") -> Message:
    """A child's message through the real webhook, threaded into a case."""
    data = {"AccountSid": ACCOUNT, "MessageSid": sid, "From": sender, "To": to, "Body": body, "NumMedia": "0"}
    response = signed_post("/webhooks/twilio/sms/", data)
    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get(kind=EventKind.MESSAGE, external_id=sid)
    inbound_event_process(event_id=event.pk)
    return Message.objects.get(event=event)


def reply(api, user, case_id, body=REPLY):
    return api(user).post(f"/api/v1/cases/{case_id}/messages/", {"body": body}, format="json")


def status_callback(message_sid, status, *, ref=None, error_code=None, sender=OURS):
    data = {
        "AccountSid": ACCOUNT,
        "MessageSid": message_sid,
        "MessageStatus": status,
        "From": sender,
        "To": CHILD,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        data["ErrorCode"] = error_code
    response = signed_post(STATUS_URL, data, f"?m={ref}" if ref is not None else "")
    assert response.status_code == 200, response.content
    return response


def send(message_id):
    """Runs the send task the way a worker would (retries included, eagerly)."""
    return send_outbound_message.apply(args=(message_id,)).get()


# --- the reply -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reply_is_stored_queued_and_sent_once_with_the_right_parameters(api, operator, numbers, fake):
    child = inbound()
    response = reply(api, operator, child.case_id)
    assert response.status_code == 201, response.content
    out = response.json()
    assert (out["direction"], out["channel"], out["status"], out["body"]) == (
        "outbound",
        "sms",
        "queued",
        REPLY,
    )
    message = Message.objects.get(pk=out["id"])
    assert (message.contact_id, message.from_address, message.to_address) == (child.contact_id, OURS, CHILD)
    assert message.author == operator and message.external_id == ""
    with connection.cursor() as cursor:  # the body and the recipient are encrypted at rest
        cursor.execute("SELECT body, to_address FROM channels_sms_message WHERE id = %s", [message.pk])
        raw = " ".join(cursor.fetchone())
    assert REPLY not in raw and CHILD not in raw
    entry = AuditEntry.objects.get(action="message.send")
    assert (entry.actor, entry.case_id, entry.object_id) == (operator, child.case_id, str(message.pk))
    assert REPLY not in str(entry.extra) and REPLY not in str(entry.changes) and CHILD not in str(entry.extra)
    assert fake.requests == []  # nothing is sent in the request itself

    assert send(message.pk) == "sent"
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request["auth"] == f"{ACCOUNT}:{TOKEN}"
    assert request["form"] == {
        "To": CHILD,
        "From": OURS,
        "Body": REPLY,
        "StatusCallback": f"{PUBLIC}{STATUS_URL}?m={message.pk}",
    }
    message.refresh_from_db()
    assert message.external_id == fake.accepted[0]["sid"] and message.status == "queued"
    assert message.sent_at is not None and message.attempts == 1

    # Redelivered (acks_late after a lost ack) or dispatched again: nothing more is sent.
    assert send(message.pk) == "already_sent"
    assert send(message.pk) == "already_sent"
    assert len(fake.requests) == 1

    # The conversation lists both directions, in order.
    page = api(operator).get(f"/api/v1/cases/{child.case_id}/messages/").json()
    assert [(m["direction"], m["body"]) for m in page["results"]] == [
        ("inbound", "my uncle hits me"),
        ("outbound", REPLY),
    ]


@pytest.mark.django_db
def test_a_whatsapp_sender_is_answered_on_whatsapp_from_our_whatsapp_number(api, supervisor, numbers, fake):
    child = inbound(sender="whatsapp:" + CHILD, to=WHATSAPP_OURS)
    response = reply(api, supervisor, child.case_id)
    assert response.status_code == 201, response.content
    assert send(response.json()["id"]) == "sent"
    assert fake.requests[0]["form"]["To"] == "whatsapp:" + CHILD
    assert fake.requests[0]["form"]["From"] == WHATSAPP_OURS
    assert Message.objects.get(pk=response.json()["id"]).channel == "whatsapp"


@pytest.mark.django_db
@pytest.mark.parametrize("failure", [500, 503, 429, "timeout"])
def test_a_transient_failure_is_retried_and_the_message_is_sent_exactly_once(
    api, operator, numbers, fake, failure
):
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    fake.plan = [failure, failure]
    assert send(message_id) == "sent"
    assert len(fake.requests) == 3 and len(fake.accepted) == 1
    message = Message.objects.get(pk=message_id)
    assert (message.external_id, message.status, message.attempts, message.error_code) == (
        fake.accepted[0]["sid"],
        "queued",
        3,
        "",
    )
    assert AuditEntry.objects.filter(action="message.deliver", object_id=str(message_id)).count() == 1


@pytest.mark.django_db
def test_retries_exhausted_fail_the_message(api, operator, numbers, fake, settings):
    settings.OUTBOUND_MAX_RETRIES = 2
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    fake.plan = [500, 500, 500, 500]
    assert send(message_id) == "failed"
    assert len(fake.requests) == 3 and fake.accepted == []
    message = Message.objects.get(pk=message_id)
    assert (message.status, message.error_code, message.external_id) == ("failed", "http_500", "")


@pytest.mark.django_db
def test_a_4xx_fails_the_message_with_twilios_error_code_and_is_not_retried(api, operator, numbers, fake):
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    fake.plan = [400]
    assert send(message_id) == "failed"
    assert len(fake.requests) == 1 and fake.accepted == []
    message = Message.objects.get(pk=message_id)
    assert (message.status, message.error_code, message.external_id) == ("failed", "21211", "")
    assert send(message_id) == "not_queued"
    assert len(fake.requests) == 1
    entry = AuditEntry.objects.get(action="message.failed")
    assert entry.extra["error_code"] == "21211" and entry.case_id == child.case_id


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_task_at_once_send_once(api, operator, numbers, fake):
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    fake.delay = 0.3  # the first send holds the row lock while Twilio answers
    results = []

    def deliver():
        try:
            results.append(send(message_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(results) == ["already_sent", "sent"]
    assert len(fake.requests) == 1 and len(fake.accepted) == 1
    assert Message.objects.get(pk=message_id).external_id == fake.accepted[0]["sid"]


# --- status callbacks ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_status_callbacks_move_the_message_forward_and_never_back(api, operator, numbers, fake):
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    send(message_id)
    sid = fake.accepted[0]["sid"]

    def current():
        message = Message.objects.get(pk=message_id)
        return message.status, message.error_code

    status_callback(sid, "sent", ref=message_id)
    assert current() == ("sent", "")
    status_callback(sid, "delivered", ref=message_id)
    assert current() == ("delivered", "")
    status_callback(sid, "sending", ref=message_id)  # late, out of order
    status_callback(sid, "sent", ref=message_id)  # a duplicate of an old one
    status_callback(sid, "undelivered", ref=message_id, error_code="30003")  # no final after final
    assert current() == ("delivered", "")
    status_callback(sid, "read")  # WhatsApp's read goes past delivered (no ?m= is fine too)
    assert current() == ("read", "")
    assert InboundEvent.objects.filter(kind=EventKind.MESSAGE_STATUS).count() == 5  # one per status
    entries = AuditEntry.objects.filter(action="message.status", object_id=str(message_id))
    assert [e.extra["status"] for e in entries.order_by("id")] == ["sent", "delivered", "read"]


@pytest.mark.django_db
def test_undelivered_and_failed_record_the_error_code(api, operator, numbers, fake):
    child = inbound()
    first = reply(api, operator, child.case_id).json()["id"]
    second = reply(api, operator, child.case_id, body="Call 116 any time").json()["id"]
    send(first)
    send(second)
    sid1, sid2 = (m["sid"] for m in fake.accepted)
    status_callback(sid1, "undelivered", ref=first, error_code="30003")
    status_callback(sid2, "sent", ref=second)
    status_callback(sid2, "failed", ref=second, error_code="30008")
    status_callback(sid2, "delivered", ref=second)  # a final status never replaces another
    assert Message.objects.get(pk=first).status == "undelivered"
    assert Message.objects.get(pk=first).error_code == "30003"
    assert (Message.objects.get(pk=second).status, Message.objects.get(pk=second).error_code) == (
        "failed",
        "30008",
    )


@pytest.mark.django_db
def test_a_callback_for_an_unknown_message_is_stored_and_ignored(api, operator, numbers, fake):
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    send(message_id)
    status_callback("SM" + "f" * 32, "delivered")
    status_callback("SM" + "e" * 32, "delivered", ref=message_id)  # names ours, but ours has a sid
    status_callback("SM" + "d" * 32, "delivered", ref="999999")
    assert InboundEvent.objects.filter(kind=EventKind.MESSAGE_STATUS).count() == 3
    assert InboundEvent.objects.filter(kind=EventKind.MESSAGE_STATUS, processed_at__isnull=False).count() == 0
    message = Message.objects.get(pk=message_id)
    assert (message.status, message.external_id) == ("queued", fake.accepted[0]["sid"])


@pytest.mark.django_db
def test_a_callback_naming_our_message_adopts_a_lost_sid_so_a_retry_does_not_send_again(
    api, operator, numbers, fake
):
    """The residual window: Twilio accepted, but the sid was never committed (the worker died).
    Twilio's status callback names our message id in its URL; the sid is adopted, and the task's
    retry finds it and sends nothing."""
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    status_callback("SM" + "c" * 32, "sent", ref=message_id)
    message = Message.objects.get(pk=message_id)
    assert (message.external_id, message.status) == ("SM" + "c" * 32, "sent")
    assert send(message_id) == "already_sent"
    assert fake.requests == []


# --- without Twilio: the outbox ----------------------------------------------------------------------


@pytest.mark.django_db
def test_without_credentials_the_reply_is_kept_in_the_outbox_and_logged_without_its_content(
    api, operator, numbers, fake, settings, caplog
):
    settings.TWILIO_ACCOUNT_SID = ""
    child = inbound()
    message_id = reply(api, operator, child.case_id).json()["id"]
    with caplog.at_level(logging.INFO):
        assert send(message_id) == "outbox"
    assert fake.requests == []
    message = Message.objects.get(pk=message_id)
    assert (message.status, message.external_id) == ("outbox", "")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("channels_sms")]
    assert len(lines) == 1 and str(message_id) in lines[0] and "outbox" in lines[0]
    assert all(
        REPLY not in line and CHILD not in line and "712345678" not in line for line in caplog.messages
    )
    assert send(message_id) == "not_queued"  # never sent twice, not even into the outbox

    out = io.StringIO()
    call_command("outbox", stdout=out)
    listing = out.getvalue()
    case = Case.objects.get(pk=child.case_id)
    assert f"message {message_id}" in listing and f"case {case.pk} ({case.reference})" in listing
    assert REPLY not in listing and CHILD not in listing
    out = io.StringIO()
    call_command("outbox", "--show-bodies", stdout=out)
    assert REPLY in out.getvalue() and CHILD in out.getvalue()


@pytest.mark.django_db
def test_the_outbox_command_says_when_it_is_empty(numbers):
    out = io.StringIO()
    call_command("outbox", stdout=out)
    assert "empty" in out.getvalue()


# --- who may reply, and to what ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_case_without_a_messaging_sender_is_409_and_stores_nothing(api, operator, walk_in, numbers, fake):
    case = walk_in(reporter_phone="0712 345 678")
    response = reply(api, operator, case["id"])
    assert response.status_code == 409, response.content
    assert response.json()["errors"][0]["code"] == "conflict"
    assert not Message.objects.exists()
    entry = AuditEntry.objects.get(action="message.send")
    assert (entry.outcome, entry.case_id) == (AuditOutcome.DENIED, case["id"])


@pytest.mark.django_db
def test_a_case_out_of_scope_is_404_and_stores_nothing(api, helpline, operator, numbers, fake):
    child = inbound()
    elsewhere = factories.HelplineFactory(code="ELSE")
    outsider = factories.OperatorFactory(username="else-op", helpline=elsewhere)
    night = factories.TeamFactory(helpline=helpline, name="Night")
    Case.objects.filter(pk=child.case_id).update(state="assessment", team=night)
    for user in (outsider, operator):  # another helpline; another team's case past intake
        response = reply(api, user, child.case_id)
        assert response.status_code == 404, response.content
    response = reply(api, operator, 999999)
    assert response.status_code == 404
    assert not Message.objects.filter(direction="outbound").exists()
    entries = AuditEntry.objects.filter(action="message.send", outcome=AuditOutcome.DENIED)
    assert entries.count() == 3 and not entries.filter(case_id=child.case_id).exists()


@pytest.mark.django_db
def test_anonymous_is_401_and_roles_outside_the_policy_are_refused(
    api, operator, supervisor, agency_user, admin_user, numbers, fake
):
    child = inbound()
    assert reply(api, None, child.case_id).status_code == 401
    case = Case.objects.get(pk=child.case_id)
    assert policy.can(operator, PolicyAction.MESSAGE_SEND, case) and policy.can(
        supervisor, PolicyAction.MESSAGE_SEND, case
    )
    for user in (agency_user, admin_user):
        assert not policy.can(user, PolicyAction.MESSAGE_SEND, case)
        assert reply(api, user, child.case_id).status_code == 404  # they cannot see the case at all
    other = factories.HelplineFactory(code="ELSE")
    assert not policy.can(
        factories.OperatorFactory(username="x", helpline=other), PolicyAction.MESSAGE_SEND, case
    )
    assert not Message.objects.filter(direction="outbound").exists()


@pytest.mark.django_db
def test_permission_denied_by_the_service_is_403(api, operator, numbers, fake, monkeypatch):
    """A role that sees a case but may not reply gets 403 (no such role today: the rule is patched)."""
    child = inbound()
    monkeypatch.setitem(policy.RULES, PolicyAction.MESSAGE_SEND, {})
    response = reply(api, operator, child.case_id)
    assert response.status_code == 403, response.content
    assert not Message.objects.filter(direction="outbound").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "required"),
        ({"body": ""}, "blank"),
        ({"body": "x" * 1601}, "max_length"),
        ({"body": None}, "null"),
    ],
)
def test_a_bad_body_is_400(api, operator, numbers, fake, body, code):
    child = inbound()
    response = api(operator).post(f"/api/v1/cases/{child.case_id}/messages/", body, format="json")
    assert response.status_code == 400
    assert {(e["attr"], e["code"]) for e in response.json()["errors"]} == {("body", code)}
    assert not Message.objects.filter(direction="outbound").exists()


@pytest.mark.django_db
def test_a_body_of_1600_characters_is_accepted(api, operator, numbers, fake):
    child = inbound()
    assert reply(api, operator, child.case_id, body="y" * 1600).status_code == 201


# --- through a real worker ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_reply_after_commit(celery_worker, api, operator, numbers, fake):
    child = inbound()
    fake.plan = [500]  # one retry through the broker, with backoff
    response = reply(api, operator, child.case_id)
    assert response.status_code == 201
    message_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = Message.objects.get(pk=message_id)
        if message.external_id:
            break
        time.sleep(0.1)
    assert message.external_id == fake.accepted[0]["sid"]
    assert len(fake.requests) == 2 and len(fake.accepted) == 1
    assert fake.requests[1]["form"]["Body"] == REPLY


@pytest.mark.django_db(transaction=True)
def test_a_reply_whose_dispatch_was_lost_is_swept_and_sent_once(
    celery_worker, api, operator, numbers, fake, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from channels_sms import outbound

    child = inbound()
    with monkeypatch.context() as patch:
        patch.setattr(outbound, "dispatch", lambda message_id: None)  # the broker was down at commit
        message_id = reply(api, operator, child.case_id).json()["id"]
    assert outbound.unsent_messages_redispatch() == []  # too recent: its dispatch may be on the way
    later = timezone.now() + timedelta(minutes=5)
    assert outbound.unsent_messages_redispatch(now=later) == [message_id]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not Message.objects.get(pk=message_id).external_id:
        time.sleep(0.1)
    assert Message.objects.get(pk=message_id).external_id == fake.accepted[0]["sid"]
    assert outbound.unsent_messages_redispatch(now=later) == []
    assert len(fake.accepted) == 1
