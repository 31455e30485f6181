"""What gunicorn, the Celery worker and Celery beat print holds no personal data, with every one of
them at DEBUG and gunicorn's access log on (as in production): a child's SMS through the signed
webhook, the operator's reply sent through (a fake) Twilio and its status callback, a web chat, a
phone call with its menu digit, and a referral naming the child delivered to the agency's webhook,
all over HTTP to the real processes; then their output (and every file they wrote) is read.

The same values as tests/test_no_personal_data_in_logs.py (which holds the rule for log records
and SQL in-process), in the same written forms."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from cases.models import Contact
from channels_sms.models import InboundEvent, Message, PhoneNumber
from referrals.models import Delivery
from tests.fake_twilio import FakeTwilio
from tests.processes import Stack, http_request, wait_until
from tests.test_agency_webhooks_are_signed_and_retried import SECRET, Receiver
from tests.test_no_personal_data_in_logs import phone_forms, written_forms
from tests.twilio_signing import twilio_signature

ACCOUNT = "AC" + "1" * 32
CHILD_NUMBER = "+254711222333"
CALLER_NUMBER = "+254733444555"
OURS, OURS_VOICE = "+15005550006", "+15005550007"
SAID = "My uncle hurts me at night, please help"
ANSWER = "We are here for you. Is it safe to call you at 6 tonight?"
CHATTED = "My mum's boyfriend locks me in"
CHAT_ANSWER = "We hear you. Where are you now?"
CHILD = {
    "child_first_name": "Wanjiru",
    "child_location": "Behind the Kawangware market, blue gate",
    "safe_contact": "Call her aunt Njeri after 6 pm",
    "reporter_name": "Grace Akinyi",
    "reporter_phone": "+254799888777",
    "child_details_note": "Sleeps at the neighbour's on Fridays",
}
SUMMARY = "Wanjiru disclosed abuse by her stepfather; needs protection today."
PERSONAL = [
    *phone_forms(CHILD_NUMBER),
    *phone_forms(CALLER_NUMBER),
    *phone_forms(CHILD["reporter_phone"]),
    *(value for name, value in CHILD.items() if name != "reporter_phone"),
    SAID,
    ANSWER,
    CHATTED,
    CHAT_ANSWER,
    SUMMARY,
    "KISUMU",
]


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def receiver(agency_user) -> Iterator[Receiver]:
    """The agency's webhook endpoint; police1's agency points at it."""
    receiver = Receiver(SECRET)
    receiver.start()
    agency = agency_user.agency_membership.agency
    agency.webhook_url, agency.webhook_secret = receiver.url, SECRET
    agency.save()
    yield receiver
    receiver.stop()


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, twilio: FakeTwilio) -> Iterator[Stack]:
    processes = Stack(
        settings_dict=connection.settings_dict,
        directory=tmp_path / "processes",
        log_level="DEBUG",
        extra_env={
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_API_BASE_URL": twilio.url,
            # The fake agency listens on loopback over plain http.
            "AGENCY_WEBHOOK_ALLOW_HTTP": "true",
            "AGENCY_WEBHOOK_ALLOW_NON_PUBLIC": "true",
        },
    )
    try:
        yield processes
    finally:
        processes.close()


class Http:
    """The stack's gunicorn over HTTP, as one caller (an API token, or none)."""

    def __init__(self, base_url: str, token: str = "") -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Token {token}"} if token else {}

    def json(self, method: str, path: str, body: dict | None = None, *, expect: int = 200, **headers) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        sent = {**self.headers, "Content-Type": "application/json", **headers}
        response = http_request(self.base_url, path, method=method, body=data, headers=sent)
        assert response.status == expect, (method, path, response.status, response.body[:500])
        return json.loads(response.body) if response.body else None

    def twilio(self, path: str, params: dict, query: str = "", *, public: str) -> None:
        """A webhook signed as Twilio signs it, for the public URL it called."""
        signature = twilio_signature(path + query, params, base=public)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        body = urllib.parse.urlencode(params).encode()
        response = http_request(self.base_url, path + query, method="POST", body=body, headers=headers)
        assert response.status == 200, (path, response.status, response.body[:500])


def sms(sid: str, body: str) -> dict:
    return {
        "AccountSid": ACCOUNT,
        "MessageSid": sid,
        "From": CHILD_NUMBER,
        "To": OURS,
        "Body": body,
        "NumMedia": "0",
    }


def output_of(stack: Stack) -> dict[str, str]:
    """Everything the stack's processes wrote in its directory (their output, beat's schedule)."""
    return {
        path.name: path.read_bytes().decode(errors="replace")
        for path in sorted(stack.directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.django_db(transaction=True)
def test_what_the_processes_print_holds_no_personal_data(
    stack, twilio, receiver, helpline, operator, supervisor, agency_user
):
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OURS)
    PhoneNumber.objects.create(helpline=helpline, channel="voice", number=OURS_VOICE)
    stack.redis()
    web, worker, beat = stack.gunicorn(wait=False), stack.worker(wait=False), stack.beat(wait=False)
    for process in (web, worker, beat):
        process.wait_ready()
    alive = lambda: [p.check_alive() for p in (web, worker, beat)]  # noqa: E731
    public = stack.public_base_url
    anyone = Http(web.url)
    staff = Http(web.url, AuthToken.objects.create(user=operator)[1])
    head = Http(web.url, AuthToken.objects.create(user=supervisor)[1])

    # A child's SMS, threaded into a case by the worker; the operator answers, Twilio confirms.
    anyone.twilio("/webhooks/twilio/sms/", sms("SM" + "a" * 32, SAID), public=public)
    said = wait_until(
        "the worker to thread the SMS",
        lambda: Message.objects.filter(direction="inbound", case__isnull=False).first(),
        timeout=30,
        check=alive,
    )
    reply = staff.json("POST", f"/api/v1/cases/{said.case_id}/messages/", {"body": ANSWER}, expect=201)
    sid = wait_until(
        "the worker to send the reply",
        lambda: Message.objects.get(pk=reply["id"]).external_id,
        timeout=30,
        check=alive,
    )
    assert twilio.requests[0]["form"]["To"] == CHILD_NUMBER  # the flow really carried the number
    callback = {
        "AccountSid": ACCOUNT,
        "MessageSid": sid,
        "MessageStatus": "delivered",
        "From": OURS,
        "To": CHILD_NUMBER,
    }
    anyone.twilio("/webhooks/twilio/sms/status/", callback, f"?m={reply['id']}", public=public)
    wait_until(
        "the status callback to be applied",
        lambda: Message.objects.filter(pk=reply["id"], status="delivered").exists(),
        timeout=30,
        check=alive,
    )

    # A web chat, answered.
    session = anyone.json("POST", "/api/v1/chat/sessions/", {"helpline": helpline.code}, expect=201)
    chat = f"/api/v1/chat/sessions/{session['id']}/messages/"
    anyone.json("POST", chat, {"body": CHATTED}, expect=201, **{"X-Chat-Secret": session["secret"]})
    chat_case = Message.objects.get(channel="chat", direction="inbound").case_id
    staff.json("POST", f"/api/v1/cases/{chat_case}/messages/", {"body": CHAT_ANSWER}, expect=201)
    polled = anyone.json("GET", chat, **{"X-Chat-Secret": session["secret"]})["results"]
    assert [m["body"] for m in polled] == [CHATTED, CHAT_ANSWER]

    # A phone call: the emergency digit, then the call ends.
    call = {
        "AccountSid": ACCOUNT,
        "CallSid": "CA" + "a" * 32,
        "From": CALLER_NUMBER,
        "To": OURS_VOICE,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "Caller": CALLER_NUMBER,
        "Called": OURS_VOICE,
        "CallerCity": "KISUMU",
    }
    anyone.twilio("/webhooks/twilio/voice/", call, public=public)
    anyone.twilio(
        "/webhooks/twilio/voice/gather/", {**call, "CallStatus": "in-progress", "Digits": "9"}, public=public
    )
    anyone.twilio(
        "/webhooks/twilio/voice/status/",
        {**call, "CallStatus": "completed", "CallDuration": "42"},
        public=public,
    )

    # A referral naming the child, delivered to the agency's webhook by the worker.
    case = staff.json(
        "POST", "/api/v1/cases/", {"call_type": "child", "risk_level": "high", **CHILD}, expect=201
    )
    path = f"/api/v1/cases/{case['id']}/"
    staff.json("POST", path + "transitions/", {"name": "start_assessment"})
    consent = {
        "given_by": "child",
        "given_at": timezone.now().isoformat(),
        "scope": ["referral", "information_sharing", "reporter_identity"],
    }
    staff.json("POST", path + "consent/", consent, expect=201)
    referral = {
        "agency": agency_user.agency_membership.agency_id,
        "service_type": "investigation",
        "urgency": "urgent",
        "reason": "Disclosure of abuse at home",
        "summary": SUMMARY,
    }
    referral_id = staff.json("POST", path + "referrals/", referral, expect=201)["id"]
    wait_until(
        "the worker to deliver the referral",
        lambda: Delivery.objects.filter(referral_id=referral_id, state="delivered").exists(),
        timeout=30,
        check=alive,
    )
    packet = receiver.requests[0].event["data"]["packet"]
    assert (packet["child"]["first_name"], packet["reporter"]["phone"]) == (
        "Wanjiru",
        CHILD["reporter_phone"],
    )

    # Every call is processed (beat's sweep too would have picked up a lost one); staff read it all.
    wait_until(
        "the worker to process every inbound event",
        lambda: not InboundEvent.objects.filter(processed_at__isnull=True).exists(),
        timeout=30,
        check=alive,
    )
    call_case = Contact.objects.get(channel="voice").case_id
    head.json("GET", "/api/v1/cases/")
    for case_id in {said.case_id, chat_case, call_case, case["id"]}:
        assert head.json("GET", f"/api/v1/cases/{case_id}/")["id"] == case_id
        head.json("GET", f"/api/v1/cases/{case_id}/messages/")
        head.json("GET", f"/api/v1/cases/{case_id}/history/")
    assert head.json("GET", f"/api/v1/cases/{call_case}/")["reporter_phone"] == CALLER_NUMBER  # it ran
    Http(web.url, AuthToken.objects.create(user=agency_user)[1]).json(
        "GET", f"/api/v1/referrals/{referral_id}/"
    )
    stack.close()  # everything the processes had to say is written

    output = output_of(stack)
    assert {"gunicorn", "worker", "beat"} <= {name.split("-", 1)[1].split(".")[0] for name in output}
    text = "\n".join(output.values())
    assert " DEBUG " in text and "POST /webhooks/twilio/sms/ HTTP" in text  # every level, and the access log
    forms = written_forms(PERSONAL)
    leaks = {name: sorted(form for form in forms if form in content) for name, content in output.items()}
    assert not any(leaks.values()), {name: found for name, found in leaks.items() if found}
