"""Twilio's inbound message webhook: signed by Twilio, stored before it is answered, answered in
TwiML, and never stored twice."""

import json
import xml.etree.ElementTree as ET

import pytest
from django.test import Client, override_settings

from cases.models import Contact
from channels_sms.models import EventKind, InboundEvent, Message, PhoneNumber
from channels_sms.sms import inbound_event_process
from helpline.audit import verify_chain
from helpline.models import AuditChainHead, AuditEntry, AuditOutcome
from tests.twilio_signing import PUBLIC, TOKEN, twilio_signature

SMS_URL = "/webhooks/twilio/sms/"
STATUS_URL = "/webhooks/twilio/sms/status/"
CHILD = "+254712345678"
ACK = "Thank you for contacting the child helpline. A counsellor will reply to you soon."

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def numbers(helpline):
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    PhoneNumber.objects.create(helpline=helpline, channel="whatsapp", number="whatsapp:+14155238886")


def sms_params(sid="SM" + "a" * 32, body="I need help", sender=CHILD, to="+15005550006", **extra):
    return {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCity": "NAIROBI",
        "FromState": "",
        "FromZip": "",
        "FromCountry": "KE",
        "ToCity": "",
        "ToState": "CA",
        "ToZip": "",
        "ToCountry": "US",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def post(params, path=SMS_URL, *, signature=None, token=TOKEN, base=PUBLIC, client=None, **headers):
    """Posts form-encoded params signed the way Twilio signs them: for the public URL it called."""
    if signature is None:
        signature = twilio_signature(path, params, token=token, base=base)
    if signature:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return (client or Client()).post(path, params, **headers)


def twiml_messages(response) -> list[str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return [element.text for element in root.findall("Message")]


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "errors"} and body["errors"][0]["code"] == code, body


def test_signed_sms_is_stored_encrypted_and_acknowledged(numbers, helpline):
    response = post(sms_params())
    assert twiml_messages(response) == [ACK]
    event = InboundEvent.objects.get()
    assert (event.helpline_id, event.channel, event.kind, event.provider) == (
        helpline.pk,
        "sms",
        EventKind.MESSAGE,
        "twilio",
    )
    assert (event.sender, event.body, event.processed_at, event.attempts) == (CHILD, "I need help", None, 0)
    assert json.loads(event.params)["FromCity"] == "NAIROBI"
    assert event.sender_hash and len(event.sender_hash) == 64
    # At rest: no number, body or city in clear.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sender, body, params FROM channels_sms_inboundevent")
        stored = " ".join(cursor.fetchone())
    assert CHILD not in stored and "I need help" not in stored and "NAIROBI" not in stored
    entry = AuditEntry.objects.get(action="inbound.receive")
    assert entry.object_id == str(event.pk) and entry.helpline_id == helpline.pk
    assert CHILD not in json.dumps(entry.extra) and "help" not in json.dumps(entry.extra)


def test_mms_media_are_kept(numbers):
    params = sms_params(
        sid="MM" + "b" * 32,
        body="",
        NumMedia="2",
        MediaContentType0="image/jpeg",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0",
        MediaContentType1="audio/ogg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME1",
    )
    assert twiml_messages(post(params)) == [ACK]
    event = InboundEvent.objects.get()
    assert event.num_media == 2
    assert [m["content_type"] for m in json.loads(event.media)] == ["image/jpeg", "audio/ogg"]


def test_whatsapp_message_with_profile_name_and_unknown_params(numbers):
    params = sms_params(
        sid="SM" + "c" * 32,
        sender="whatsapp:" + CHILD,
        to="whatsapp:+14155238886",
        ProfileName="Amina",
        WaId=CHILD.lstrip("+"),
        MessagingServiceSid="MG" + "0" * 32,
        SomeFutureTwilioParam="new",
    )
    assert twiml_messages(post(params)) == [ACK]
    event = InboundEvent.objects.get()
    assert (event.channel, event.sender) == ("whatsapp", "whatsapp:" + CHILD)
    assert json.loads(event.params)["SomeFutureTwilioParam"] == "new"
    assert inbound_event_process(event_id=event.pk) == "threaded"
    assert Contact.objects.get().channel == "whatsapp"


def test_unknown_params_are_part_of_the_signature(numbers):
    params = sms_params(SomeFutureTwilioParam="new")
    signature = twilio_signature(SMS_URL, params)
    tampered = {**params, "SomeFutureTwilioParam": "changed"}
    assert_error(post(tampered, signature=signature), 403, "permission_denied")
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    ("signature", "token", "reason"),
    [
        ("", TOKEN, "missing_signature"),
        (None, "another-token", "bad_signature"),
        ("bm90IGEgc2lnbmF0dXJl", TOKEN, "bad_signature"),
    ],
)
def test_missing_or_bad_signature_is_refused_and_audited(numbers, signature, token, reason):
    response = post(sms_params(), signature=signature, token=token)
    assert_error(response, 403, "permission_denied")
    assert not InboundEvent.objects.exists() and not Message.objects.exists()
    entry = AuditEntry.objects.get(action="webhook.rejected")
    assert entry.outcome == AuditOutcome.DENIED and entry.extra == {"reason": reason}
    recorded = json.dumps([entry.extra, entry.changes, entry.object_id])
    assert CHILD not in recorded and "I need help" not in recorded


def test_without_a_configured_token_every_webhook_is_refused(numbers, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    response = post(sms_params(), token="anything")
    assert_error(response, 403, "permission_denied")
    assert not InboundEvent.objects.exists()
    assert AuditEntry.objects.get(action="webhook.rejected").extra == {"reason": "not_configured"}


def test_signature_is_checked_against_the_public_url_behind_a_proxy(numbers, settings):
    # The proxy passes the request on to an internal host; Twilio signed the public URL.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "10.0.0.7"]
    assert twiml_messages(post(sms_params(), HTTP_HOST="10.0.0.7:8000")) == [ACK]
    # Signed for the internal URL instead: refused.
    response = post(sms_params(sid="SM" + "d" * 32), base="http://10.0.0.7:8000", HTTP_HOST="10.0.0.7:8000")
    assert_error(response, 403, "permission_denied")
    assert InboundEvent.objects.count() == 1


@override_settings(PUBLIC_BASE_URL=PUBLIC + "/lifeline")
def test_query_string_and_public_prefix_are_signed_too(numbers):
    path = SMS_URL + "?helpline=demo"
    signature = twilio_signature("/lifeline" + path, sms_params())
    response = Client().post(path, sms_params(), HTTP_X_TWILIO_SIGNATURE=signature)
    assert twiml_messages(response) == [ACK]


def test_replayed_message_returns_the_same_answer_and_creates_nothing(numbers):
    first = post(sms_params())
    event = InboundEvent.objects.get()
    chain_length = AuditChainHead.objects.get(chain=event.helpline_id).last_seq
    again = post(sms_params())
    assert first.content == again.content
    # The replay took no place in the audit chain (and wrote nothing to be rolled back).
    assert AuditChainHead.objects.get(chain=event.helpline_id).last_seq == chain_length
    assert verify_chain(event.helpline_id).ok
    inbound_event_process(event_id=event.pk)
    third = post(sms_params())
    assert third.content == first.content
    assert inbound_event_process(event_id=event.pk) == "already_processed"
    assert (InboundEvent.objects.count(), Message.objects.count(), Contact.objects.count()) == (1, 1, 1)
    assert AuditEntry.objects.filter(action="inbound.receive").count() == 1


def test_only_the_first_message_of_a_conversation_is_acknowledged(numbers):
    assert twiml_messages(post(sms_params(sid="SM1"))) == [ACK]
    assert twiml_messages(post(sms_params(sid="SM2", body="are you there?"))) == []
    # Another child's first message is acknowledged.
    assert twiml_messages(post(sms_params(sid="SM3", sender="+254700000001"))) == [ACK]


def test_acknowledgement_is_configurable_per_helpline_number(numbers):
    PhoneNumber.objects.filter(channel="sms").update(acknowledgement="Asante, tutakujibu hivi karibuni.")
    assert twiml_messages(post(sms_params())) == ["Asante, tutakujibu hivi karibuni."]


def test_unknown_to_number_is_refused_and_recorded(numbers):
    response = post(sms_params(to="+15005550099"))
    assert_error(response, 404, "not_found")
    assert not InboundEvent.objects.exists()
    entry = AuditEntry.objects.get(action="webhook.rejected")
    assert entry.extra == {"reason": "unknown_number"} and "+1500" not in json.dumps(entry.extra)


def test_oversized_body_is_refused_with_413_in_the_error_shape(numbers, settings):
    params = sms_params(body="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    assert_error(post(params, signature="irrelevant"), 413, "payload_too_large")
    assert not InboundEvent.objects.exists()


def test_get_is_not_allowed(numbers):
    assert_error(Client().get(SMS_URL), 405, "method_not_allowed")


def test_message_status_callback_is_stored_once(numbers, helpline):
    params = {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": "SM" + "e" * 32,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "ErrorMessage": "Unreachable destination handset",
        "From": "+15005550006",
        "To": CHILD,
        "ApiVersion": "2010-04-01",
    }
    assert twiml_messages(post(params, path=STATUS_URL)) == []
    assert twiml_messages(post(params, path=STATUS_URL)) == []
    event = InboundEvent.objects.get()
    assert (event.kind, event.external_id, event.helpline_id) == (
        EventKind.MESSAGE_STATUS,
        "SM" + "e" * 32 + ":undelivered",
        helpline.pk,
    )
    assert_error(post(params, path=STATUS_URL, signature="bad"), 403, "permission_denied")
