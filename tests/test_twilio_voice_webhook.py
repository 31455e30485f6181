"""Twilio's voice webhooks: signed like the SMS ones, stored before they are answered, answered in
TwiML (greeting in the helpline's language, the emergency digit, the queue or the operators), and
filed once: a voice contact of the caller's open case or of a new intake case."""

import json
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from cases.models import Case, Contact
from channels_sms.models import InboundEvent, PhoneNumber, VoiceEventKind, VoiceRoute
from channels_sms.voice import voice_call_process
from helpline.models import AuditEntry, AuditOutcome
from tests.twilio_signing import PUBLIC, TOKEN, twilio_signature

from . import factories

VOICE_URL = "/webhooks/twilio/voice/"
GATHER_URL = "/webhooks/twilio/voice/gather/"
STATUS_URL = "/webhooks/twilio/voice/status/"
CHILD = "+254712345678"
OURS = "+15005550006"
SID = "CA" + "a" * 32

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def number(helpline):
    return PhoneNumber.objects.create(helpline=helpline, channel="voice", number=OURS)


def call_params(sid=SID, status="ringing", sender=CHILD, to=OURS, **extra):
    """An inbound call webhook with every parameter Twilio documents."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": sid,
        "From": sender,
        "To": to,
        "CallStatus": status,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "Caller": sender,
        "Called": to,
        "CallerCity": "NAIROBI",
        "CallerState": "",
        "CallerZip": "",
        "CallerCountry": "KE",
        "CalledCity": "",
        "CalledState": "CA",
        "CalledZip": "",
        "CalledCountry": "US",
        **extra,
    }


def status_params(status="completed", **extra):
    return call_params(
        status=status,
        CallDuration="42",
        Timestamp="Wed, 25 Nov 2026 03:00:00 +0000",
        SequenceNumber="0",
        CallbackSource="call-progress-events",
        **extra,
    )


def post(params, path=VOICE_URL, *, signature=None, token=TOKEN):
    headers = {}
    if signature is None:
        signature = twilio_signature(path, params, token=token)
    if signature:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return Client().post(path, params, **headers)


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "errors"} and body["errors"][0]["code"] == code, body


def test_inbound_call_is_stored_encrypted_and_answered_with_greeting_gather_and_queue(number, helpline):
    root = twiml(post(call_params()))
    say, gather, enqueue = list(root)
    assert say.tag == "Say" and "child helpline" in say.text and say.get("language") == "en-GB"
    assert gather.tag == "Gather" and gather.get("numDigits") == "1"
    assert gather.get("action") == PUBLIC + GATHER_URL and gather.get("method") == "POST"
    assert "press 9" in gather.find("Say").text
    assert enqueue.tag == "Enqueue" and enqueue.text == helpline.code
    assert enqueue.get("action") == PUBLIC + STATUS_URL
    event = InboundEvent.objects.get()
    assert (event.kind, event.channel, event.external_id, event.helpline_id) == (
        VoiceEventKind.CALL,
        "voice",
        SID + ":ringing",
        helpline.pk,
    )
    assert event.sender == CHILD and len(event.sender_hash) == 64
    assert json.loads(event.params)["CallerCity"] == "NAIROBI"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sender, params FROM channels_sms_inboundevent")
        stored = " ".join(cursor.fetchone())
    assert CHILD not in stored and "NAIROBI" not in stored
    entry = AuditEntry.objects.get(action="inbound.call")
    assert entry.object_id == str(event.pk) and CHILD not in json.dumps(entry.extra)


def test_the_call_becomes_a_voice_contact_of_a_new_intake_case(number, helpline):
    post(call_params())
    assert voice_call_process(call_sid=SID) == "processed"
    contact = Contact.objects.get()
    assert (contact.channel, contact.case.state, contact.case.reporter_phone) == ("voice", "intake", CHILD)
    assert InboundEvent.objects.get().contact == contact


def test_a_caller_with_an_open_case_is_threaded_into_it(number, helpline):
    case = factories.CaseFactory(helpline=helpline, reporter_phone=CHILD)
    from helpline.crypto import identifier_hash

    Case.objects.filter(pk=case.pk).update(reporter_phone_hash=identifier_hash(CHILD))
    post(call_params())
    voice_call_process(call_sid=SID)
    assert Contact.objects.get().case_id == case.pk
    assert Case.objects.count() == 1


def test_greeting_in_the_helplines_language_with_english_fallback(number, helpline):
    helpline.default_language = "sw"
    helpline.save()
    root = twiml(post(call_params()))
    assert root.find("Say").text.startswith("Asante") and root.find("Say").get("language") is None
    helpline.default_language = "xx"
    helpline.save()
    root = twiml(post(call_params(sid="CA" + "b" * 32)))
    assert "child helpline" in root.find("Say").text


def test_greeting_digit_and_dial_mode_are_configurable_per_number(number):
    VoiceRoute.objects.create(
        number=number,
        greeting="Karibu.",
        mode="dial",
        dial_numbers="+254700000001\n+254700000002\n",
        emergency_digit="5",
    )
    root = twiml(post(call_params()))
    assert root.find("Say").text == "Karibu."
    assert "press 5" in root.find("Gather/Say").text
    assert root.find("Enqueue") is None
    dial = root.find("Dial")
    assert [n.text for n in dial.findall("Number")] == ["+254700000001", "+254700000002"]
    assert dial.get("action") == PUBLIC + STATUS_URL


def test_queue_name_is_configurable(number):
    VoiceRoute.objects.create(number=number, queue_name="night-queue")
    assert twiml(post(call_params())).find("Enqueue").text == "night-queue"


@pytest.mark.parametrize(
    ("signature", "token", "reason"),
    [
        ("", TOKEN, "missing_signature"),
        (None, "another-token", "bad_signature"),
        ("bad", TOKEN, "bad_signature"),
    ],
)
@pytest.mark.parametrize("path", [VOICE_URL, GATHER_URL, STATUS_URL])
def test_missing_or_bad_signature_is_refused_and_audited(number, path, signature, token, reason):
    assert_error(post(call_params(), path, signature=signature, token=token), 403, "permission_denied")
    assert not InboundEvent.objects.exists()
    entry = AuditEntry.objects.get(action="webhook.rejected")
    assert entry.outcome == AuditOutcome.DENIED and entry.extra == {"reason": reason}


def test_unknown_number_missing_call_sid_and_get_are_refused(number):
    assert_error(post(call_params(to="+15005550099")), 404, "not_found")
    params = call_params()
    del params["CallSid"]
    assert_error(post(params), 400, "required")
    assert_error(Client().get(VOICE_URL), 405, "method_not_allowed")
    assert not InboundEvent.objects.exists()


def test_an_sms_number_is_not_a_voice_number(helpline):
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OURS)
    assert_error(post(call_params()), 404, "not_found")


def test_replayed_call_returns_the_same_answer_one_event_one_contact(number):
    first = post(call_params())
    again = post(call_params())
    assert first.content == again.content
    assert voice_call_process(call_sid=SID) == "processed"
    assert post(call_params()).content == first.content
    assert voice_call_process(call_sid=SID) == "nothing"
    assert (InboundEvent.objects.count(), Contact.objects.count(), Case.objects.count()) == (1, 1, 1)
    assert AuditEntry.objects.filter(action="inbound.call").count() == 1


def test_emergency_digit_flags_the_case_critical_with_an_audit_entry(number):
    post(call_params())
    voice_call_process(call_sid=SID)
    case = Case.objects.get()
    due_before = case.next_action_due_at
    root = twiml(post(call_params(status="in-progress", Digits="9"), GATHER_URL))
    assert root.find("Say") is not None and root.find("Enqueue") is not None
    voice_call_process(call_sid=SID)
    case.refresh_from_db()
    assert case.risk_level == "critical"
    assert case.next_action_due_at is None or due_before is None or case.next_action_due_at <= due_before
    entry = AuditEntry.objects.get(action="case.emergency")
    assert entry.case_id == case.pk and entry.actor is None
    assert entry.changes["risk_level"] == {"before": "unassessed", "after": "critical"}
    # Replayed: nothing more.
    post(call_params(status="in-progress", Digits="9"), GATHER_URL)
    voice_call_process(call_sid=SID)
    assert AuditEntry.objects.filter(action="case.emergency").count() == 1


def test_another_digit_or_none_just_continues_to_the_queue(number):
    post(call_params())
    root = twiml(post(call_params(status="in-progress", Digits="1"), GATHER_URL))
    assert root.find("Enqueue") is not None
    voice_call_process(call_sid=SID)
    assert Case.objects.get().risk_level == "unassessed"
    assert not AuditEntry.objects.filter(action="case.emergency").exists()


def test_gather_before_the_call_is_processed_is_applied_when_it_is(number):
    post(call_params())
    post(call_params(status="in-progress", Digits="9"), GATHER_URL)
    voice_call_process(call_sid=SID)
    assert Case.objects.get().risk_level == "critical"


def test_status_callbacks_are_stored_once_and_end_the_contact(number):
    post(call_params())
    voice_call_process(call_sid=SID)
    for _ in range(2):
        root = twiml(post(status_params(), STATUS_URL))
        assert list(root) == []
    event = InboundEvent.objects.get(kind=VoiceEventKind.STATUS)
    assert event.external_id == SID + ":completed"
    voice_call_process(call_sid=SID)
    contact = Contact.objects.get()
    assert (contact.ended_at - contact.started_at).total_seconds() == 42
    assert AuditEntry.objects.filter(action="inbound.call_status").count() == 1


def test_queue_result_is_its_own_event(number):
    post(call_params())
    params = call_params(
        status="in-progress", QueueResult="bridged", QueueSid="QU" + "0" * 32, QueueTime="12"
    )
    post(params, STATUS_URL)
    post(params, STATUS_URL)
    post(status_params(), STATUS_URL)
    assert sorted(InboundEvent.objects.filter(kind="voice_status").values_list("external_id", flat=True)) == [
        SID + ":completed",
        SID + ":queue:bridged",
    ]
    voice_call_process(call_sid=SID)
    assert InboundEvent.objects.filter(processed_at__isnull=True).count() == 0


def test_the_sweeper_dispatches_again_calls_left_unprocessed(number, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from channels_sms import tasks, voice

    assert tasks.process_voice_call.name == "channels_sms.tasks.process_voice_call"
    assert "channels_sms.tasks.sweep_unprocessed_calls" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    dispatched = []
    monkeypatch.setattr(voice, "dispatch_call", dispatched.append)
    post(call_params())
    assert voice.unprocessed_calls_redispatch() == []  # just dispatched: not yet
    later = timezone.now() + timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS + 1)
    assert voice.unprocessed_calls_redispatch(now=later) == [SID] and dispatched == [SID]
    voice_call_process(call_sid=SID)
    assert voice.unprocessed_calls_redispatch(now=later + timedelta(hours=1)) == []
