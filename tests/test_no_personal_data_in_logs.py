"""What children and reporters tell the helpline leaves no trace in any log record or SQL statement,
even with every logger at DEBUG: an SMS from webhook to operator's screen, an operator's SMS reply
sent through Twilio with its status callback, a web chat, a phone call (with its menu digit and
status callbacks), and a referral naming the child delivered to the agency's webhook.

"Personal" is the child's name and precise location, the reporter's name and phone number (in
every form: E.164, without the plus, national, URL-encoded), the safe-contact note, and every
message body; a chat session's secret is held to the same rule. Each flow is shown to have really
carried them (the operator reads them, the agency receives them). tests/test_no_personal_data_in_
process_output.py holds the same rule for what gunicorn, the Celery worker and beat print."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

import channels_sms.outbound  # noqa: F401  (pins its loggers: PINNED)
from channels_sms.models import InboundEvent, Message, PhoneNumber
from channels_sms.sms import inbound_event_process
from channels_sms.tasks import send_outbound_message
from channels_sms.voice import voice_call_process
from referrals import tasks as referral_tasks
from referrals.models import Delivery
from tests.fake_twilio import FakeTwilio
from tests.test_agency_webhooks_are_signed_and_retried import SECRET, Receiver
from tests.twilio_signing import PUBLIC, TOKEN, twilio_signature

CHILD_NUMBER = "+254711222333"
OURS = "+15005550006"
ACCOUNT = "AC" + "1" * 32
# Loggers our code keeps quiet on purpose, whatever the configuration: they stay as they are.
PINNED = {
    # twilio's HTTP client logs each request's form (the recipient, the body) at INFO.
    "channels_sms.twilio_http": logging.WARNING,
}


def phone_forms(number: str) -> list[str]:
    """A number as it may be written: E.164, without the plus, national (the subscriber part), and
    the subscriber part spaced in threes."""
    digits = number.lstrip("+")
    local = digits[3:]  # the country code of the numbers used here has three digits
    return [number, digits, local, " ".join(local[i : i + 3] for i in range(0, len(local), 3))]


def written_forms(values: list[str]) -> set[str]:
    """Each value as it stands and URL-encoded (how a form body or a query string carries it)."""
    forms = set()
    for value in values:
        forms |= {value, urllib.parse.quote_plus(value), urllib.parse.quote(value, safe="")}
    return forms


@pytest.fixture
def every_logger_at_debug(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG (but those PINNED), and the records of loggers that do not propagate
    to the root captured too."""
    for name, level in PINNED.items():
        assert logging.getLogger(name).level == level, f"{name} is no longer kept at {level}"
    caplog.set_level(logging.DEBUG)
    detached = []
    for name, found in list(logging.root.manager.loggerDict.items()):
        if not isinstance(found, logging.Logger) or name in PINNED:
            continue
        caplog.set_level(logging.DEBUG, logger=name)
        if not found.propagate:
            found.addHandler(caplog.handler)
            detached.append(found)
    yield caplog
    for found in detached:
        found.removeHandler(caplog.handler)


def assert_nothing_personal(caplog, queries: CaptureQueriesContext, personal: list[str]) -> None:
    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL was not logged"
    forms = written_forms(personal)
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        leaked = sorted(form for form in forms if form in text)
        assert not leaked, (record.name, record.getMessage()[:300], leaked)
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    leaked = sorted(form for form in forms if form in sql)
    assert not leaked, leaked


def signed_post(path: str, params: dict, query: str = ""):
    signature = twilio_signature(path + query, params)
    return Client().post(path + query, params, HTTP_X_TWILIO_SIGNATURE=signature)


def sms(sid: str, body: str, sender: str = CHILD_NUMBER) -> dict:
    return {
        "AccountSid": ACCOUNT,
        "MessageSid": sid,
        "From": sender,
        "To": OURS,
        "Body": body,
        "NumMedia": "0",
    }


def process_all_events() -> None:
    for event in InboundEvent.objects.filter(processed_at__isnull=True).order_by("id"):
        inbound_event_process(event_id=event.pk)


@pytest.fixture
def twilio(settings) -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_API_BASE_URL = fake.url
    settings.PUBLIC_BASE_URL = PUBLIC
    yield fake
    fake.stop()


# --- the flows -------------------------------------------------------------------------------------


def test_an_sms_flow_logs_no_personal_data(
    api, operator, supervisor, helpline, twilio, every_logger_at_debug
):
    body = "My uncle hurts me at night, please help"
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OURS)

    with CaptureQueriesContext(connection) as queries:
        assert signed_post("/webhooks/twilio/sms/", sms("SM" + "a" * 32, body)).status_code == 200
        assert signed_post("/webhooks/twilio/sms/", sms("SM" + "b" * 32, "still there?")).status_code == 200
        process_all_events()
        case_id = api(supervisor).get("/api/v1/cases/").json()["results"][0]["id"]
        messages = api(supervisor).get(f"/api/v1/cases/{case_id}/messages/").json()["results"]
        assert [m["body"] for m in messages] == [body, "still there?"]  # the flow really ran
        assert api(supervisor).get(f"/api/v1/cases/{case_id}/history/").status_code == 200
        assert api(operator).get(f"/api/v1/cases/{case_id}/").status_code == 200

    personal = [*phone_forms(CHILD_NUMBER), body, "still there?"]
    assert_nothing_personal(every_logger_at_debug, queries, personal)


def test_an_operators_sms_reply_logs_no_personal_data(api, operator, helpline, twilio, every_logger_at_debug):
    asked, answer = "Can someone call my aunt?", "Yes. Is it safe to call you at 6 tonight?"
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OURS)

    with CaptureQueriesContext(connection) as queries:
        assert signed_post("/webhooks/twilio/sms/", sms("SM" + "c" * 32, asked)).status_code == 200
        process_all_events()
        case_id = api(operator).get("/api/v1/cases/").json()["results"][0]["id"]
        sent = api(operator).post(f"/api/v1/cases/{case_id}/messages/", {"body": answer}, format="json")
        assert sent.status_code == 201, sent.content
        assert send_outbound_message.apply(args=(sent.json()["id"],)).get() == "sent"
        [request] = twilio.requests
        assert (request["form"]["To"], request["form"]["Body"]) == (CHILD_NUMBER, answer)
        message = Message.objects.get(pk=sent.json()["id"])
        for status in ("sent", "delivered"):
            callback = {
                "AccountSid": ACCOUNT,
                "MessageSid": message.external_id,
                "MessageStatus": status,
                "From": OURS,
                "To": CHILD_NUMBER,
                "ApiVersion": "2010-04-01",
            }
            response = signed_post("/webhooks/twilio/sms/status/", callback, f"?m={message.pk}")
            assert response.status_code == 200
        process_all_events()
        shown = api(operator).get(f"/api/v1/cases/{case_id}/messages/").json()["results"]
        assert [(m["body"], m["status"]) for m in shown][-1] == (answer, "delivered")

    personal = [*phone_forms(CHILD_NUMBER), asked, answer]
    assert_nothing_personal(every_logger_at_debug, queries, personal)


def test_a_web_chat_logs_no_personal_data(api, operator, helpline, settings, every_logger_at_debug):
    settings.CHAT_RATES = {scope: "1000/min" for scope in settings.CHAT_RATES}
    said, answer, more = (
        "My mum's boyfriend locks me in",
        "We hear you. Where are you now?",
        "At home in Kibera",
    )
    child = APIClient(REMOTE_ADDR="10.9.13.1")

    with CaptureQueriesContext(connection) as queries:
        session = child.post("/api/v1/chat/sessions/", {"helpline": helpline.code}, format="json").json()
        messages = f"/api/v1/chat/sessions/{session['id']}/messages/"
        headers = {"HTTP_X_CHAT_SECRET": session["secret"]}
        assert child.post(messages, {"body": said}, format="json", **headers).status_code == 201
        case_id = api(operator).get("/api/v1/cases/").json()["results"][0]["id"]
        replied = api(operator).post(f"/api/v1/cases/{case_id}/messages/", {"body": answer}, format="json")
        assert replied.status_code == 201, replied.content
        assert child.post(messages, {"body": more}, format="json", **headers).status_code == 201
        polled = child.get(messages, **headers).json()["results"]
        assert [m["body"] for m in polled] == [said, answer, more]  # the flow really ran
        ended = child.post(f"/api/v1/chat/sessions/{session['id']}/end/", **headers)
        assert ended.status_code == 200

    personal = [said, answer, more, session["secret"]]
    assert_nothing_personal(every_logger_at_debug, queries, personal)


def test_a_phone_call_logs_no_personal_data(api, supervisor, helpline, twilio, every_logger_at_debug):
    PhoneNumber.objects.create(helpline=helpline, channel="voice", number=OURS)
    sid = "CA" + "a" * 32
    call = {
        "AccountSid": ACCOUNT,
        "CallSid": sid,
        "From": CHILD_NUMBER,
        "To": OURS,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "Caller": CHILD_NUMBER,
        "Called": OURS,
        "CallerCity": "KISUMU",
        "CallerCountry": "KE",
    }

    with CaptureQueriesContext(connection) as queries:
        assert signed_post("/webhooks/twilio/voice/", call).status_code == 200
        assert voice_call_process(call_sid=sid) == "processed"
        gathered = {**call, "CallStatus": "in-progress", "Digits": "9"}
        assert signed_post("/webhooks/twilio/voice/gather/", gathered).status_code == 200
        ended = {**call, "CallStatus": "completed", "CallDuration": "42"}
        assert signed_post("/webhooks/twilio/voice/status/", ended).status_code == 200
        voice_call_process(call_sid=sid)
        [case] = api(supervisor).get("/api/v1/cases/").json()["results"]
        shown = api(supervisor).get(f"/api/v1/cases/{case['id']}/").json()
        assert (shown["reporter_phone"], shown["risk_level"]) == (CHILD_NUMBER, "critical")  # it ran

    personal = [*phone_forms(CHILD_NUMBER), "KISUMU"]
    assert_nothing_personal(every_logger_at_debug, queries, personal)


def test_a_referral_delivered_to_the_agency_logs_no_personal_data(
    api, operator, agency_user, walk_in, every_logger_at_debug, settings
):
    # The fake agency listens on loopback over plain http: allowed for this test only.
    settings.AGENCY_WEBHOOK_ALLOW_HTTP = settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = True
    child = {
        "child_first_name": "Wanjiru",
        "child_location": "Behind the Kawangware market, blue gate",
        "safe_contact": "Call her aunt Njeri after 6 pm",
        "reporter_name": "Grace Akinyi",
        "reporter_phone": "+254799888777",
        "child_details_note": "Sleeps at the neighbour's on Fridays",
    }
    summary = "Wanjiru disclosed abuse by her stepfather; needs protection today."
    receiver = Receiver(SECRET)
    receiver.start()
    agency = agency_user.agency_membership.agency
    agency.webhook_url, agency.webhook_secret = receiver.url, SECRET
    agency.save()
    client = api(operator)
    try:
        with CaptureQueriesContext(connection) as queries:
            case = walk_in(risk_level="high", **child)
            path = f"/api/v1/cases/{case['id']}/"
            assert (
                client.post(path + "transitions/", {"name": "start_assessment"}, format="json").status_code
                == 200
            )
            consent = {
                "given_by": "child",
                "given_at": timezone.now().isoformat(),
                "scope": ["referral", "information_sharing", "reporter_identity"],
            }
            assert client.post(path + "consent/", consent, format="json").status_code == 201
            referral = {
                "agency": agency.pk,
                "service_type": "investigation",
                "urgency": "urgent",
                "reason": "Disclosure of abuse at home",
                "summary": summary,
            }
            made = client.post(path + "referrals/", referral, format="json")
            assert made.status_code == 201, made.content
            delivery = Delivery.objects.get(referral_id=made.json()["id"])
            assert referral_tasks.deliver_to_agency(delivery.pk) == "delivered"
            [received] = receiver.requests
            packet = received.event["data"]["packet"]  # the agency got who and where the child is
            assert (packet["child"]["first_name"], packet["child"]["location"]) == (
                "Wanjiru",
                child["child_location"],
            )
            assert packet["reporter"]["phone"] == child["reporter_phone"]
            deliveries = api(agency_user).get(f"/api/v1/referrals/{delivery.referral_id}/deliveries/")
            assert deliveries.status_code == 200
    finally:
        receiver.stop()

    personal = [
        *phone_forms(child["reporter_phone"]),
        summary,
        *(v for k, v in child.items() if k != "reporter_phone"),
    ]
    assert_nothing_personal(every_logger_at_debug, queries, personal)
    assert json.loads(delivery.body)["data"]["packet"] == packet
