"""`manage.py simulate_inbound` signs realistic Twilio webhooks and posts them to a running server:
the server accepts the signature, stores the event and answers TwiML, which the command prints."""

import io
import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command

from channels_sms.models import EventKind, InboundEvent, PhoneNumber, VoiceEventKind
from channels_sms.senders import sender_hash

pytestmark = pytest.mark.django_db(transaction=True)

CHILD = "+254712345678"


@pytest.fixture
def server(live_server, settings, helpline):
    settings.TWILIO_AUTH_TOKEN = "simulate-token-0123456789abcdef"
    settings.PUBLIC_BASE_URL = live_server.url
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    PhoneNumber.objects.create(helpline=helpline, channel="whatsapp", number="whatsapp:+14155238886")
    PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550006")
    return live_server


def simulate(*args):
    out = io.StringIO()
    call_command("simulate_inbound", *args, stdout=out)
    return out.getvalue()


def twiml_of(output):
    status_line, _, body = output.partition("\n")
    return status_line, ET.fromstring(body.strip())


def test_sms_is_signed_stored_and_answered(server):
    status_line, twiml = twiml_of(
        simulate("sms", "--from", CHILD, "--body", "I need help", "--url", server.url)
    )
    assert "-> 200" in status_line
    assert twiml.tag == "Response" and twiml.find("Message") is not None
    event = InboundEvent.objects.get(kind=EventKind.MESSAGE)
    assert (event.channel, event.sender, event.body) == ("sms", CHILD, "I need help")
    assert event.sender_hash == sender_hash(CHILD) and event.external_id.startswith("SM")


def test_whatsapp_is_signed_and_stored(server):
    status_line, twiml = twiml_of(simulate("whatsapp", "--from", CHILD, "--body", "hi"))
    assert "-> 200" in status_line and twiml.tag == "Response"
    event = InboundEvent.objects.get(kind=EventKind.MESSAGE)
    assert (event.channel, event.sender) == ("whatsapp", "whatsapp:" + CHILD)


def test_voice_call_is_answered_with_the_greeting_and_queue(server):
    status_line, twiml = twiml_of(simulate("voice", "--from", CHILD, "--url", server.url))
    assert "-> 200" in status_line
    assert twiml.tag == "Response" and twiml.find(".//Gather") is not None
    event = InboundEvent.objects.get(kind=VoiceEventKind.CALL)
    assert event.external_id.startswith("CA") and event.external_id.endswith(":ringing")
    assert event.sender_hash == sender_hash(CHILD)


def test_a_refusal_is_printed_and_fails_the_command(server):
    with pytest.raises(CommandError, match="404"):
        simulate("sms", "--from", CHILD, "--to", "+15005550099")  # not a helpline number here
    assert not InboundEvent.objects.exists()
