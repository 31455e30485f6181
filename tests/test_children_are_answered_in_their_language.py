"""A child is answered in the language of the number or chat they reached (issue #16): the SMS
acknowledgement, the chat's greeting and out-of-hours notice and the voice prompts, in Mongolian
(Cyrillic) for a Mongolian helpline and in Spanish for a Spanish one; each contact records its
language, and the case the child's. Nothing is guessed from what the child writes."""

# ruff: noqa: RUF001  (Mongolian texts: their Cyrillic letters are the point)

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from cases.models import Case, Contact
from channels_sms import texts
from channels_sms.models import InboundEvent, PhoneNumber
from channels_sms.sms import inbound_event_process
from channels_sms.voice import voice_call_process
from tests import factories
from tests.twilio_signing import PUBLIC, TOKEN, twilio_signature

pytestmark = pytest.mark.django_db

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
SMS_URL = "/webhooks/twilio/sms/"
VOICE_URL = "/webhooks/twilio/voice/"
SESSIONS = "/api/v1/chat/sessions/"
ENGLISH_ACK = "Thank you for contacting the child helpline. A counsellor will reply to you soon."


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.CHAT_RATES = {
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }


def signed_post(path: str, params: dict, **headers):
    headers["HTTP_X_TWILIO_SIGNATURE"] = twilio_signature(path, params, token=TOKEN, base=PUBLIC)
    return Client().post(path, params, **headers)


def sms(to: str, sender: str = "+97699112233", sid: str = "SM" + "a" * 32, body: str = "Hello"):
    params = {"MessageSid": sid, "From": sender, "To": to, "Body": body, "NumMedia": "0"}
    response = signed_post(SMS_URL, params)
    assert response.status_code == 200, response.content
    return [m.text for m in ET.fromstring(response.content).findall("Message")]


def call(to: str, sid: str = "CA" + "a" * 32) -> ET.Element:
    params = {"CallSid": sid, "From": "+97699112233", "To": to, "CallStatus": "ringing"}
    response = signed_post(VOICE_URL, params)
    assert response.status_code == 200, response.content
    return ET.fromstring(response.content)


def translated(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def test_a_mongolian_helplines_sms_acknowledgement_is_in_mongolian(db):
    helpline = factories.HelplineFactory(code="UB108", default_language="mn")
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+97670000108")
    [reply] = sms("+97670000108")
    assert CYRILLIC.search(reply) and reply == translated("mn", ENGLISH_ACK) != ENGLISH_ACK
    inbound_event_process(event_id=InboundEvent.objects.get().pk)
    contact = Contact.objects.get()
    assert contact.language == "mn" and Case.objects.get().child_language == "mn"


def test_a_spanish_number_of_an_english_helpline_answers_in_spanish(db):
    helpline = factories.HelplineFactory(code="MX911", default_language="en", languages=["es"])
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+525500000911", language="es")
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+525500000912")
    [spanish] = sms("+525500000911")
    [english] = sms("+525500000912", sender="+5215511112222", sid="SM" + "b" * 32)
    assert spanish == translated("es", ENGLISH_ACK) != ENGLISH_ACK
    assert english == ENGLISH_ACK
    for event in InboundEvent.objects.order_by("pk"):
        inbound_event_process(event_id=event.pk)
    assert sorted(Contact.objects.values_list("language", flat=True)) == ["en", "es"]


def test_the_numbers_own_acknowledgement_is_sent_as_written(db):
    helpline = factories.HelplineFactory(code="UB108", default_language="mn")
    own = "Сайн байна уу! 108 утас таны мессежийг хүлээн авлаа."
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+97670000108", acknowledgement=own)
    assert sms("+97670000108") == [own]


def test_what_the_child_writes_never_changes_the_language(db):
    helpline = factories.HelplineFactory(code="UB108", default_language="mn", languages=["en", "es"])
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+97670000108")
    [reply] = sms("+97670000108", body="Hello, I need help, please answer in English")
    assert reply == translated("mn", ENGLISH_ACK)


def start_chat(helpline, language="", **headers):
    response = APIClient(REMOTE_ADDR="10.7.7.7").post(
        SESSIONS, {"helpline": helpline.code, "language": language}, format="json", **headers
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_the_chat_greets_in_the_helplines_language_unless_the_child_chose_another_it_speaks(db):
    helpline = factories.HelplineFactory(code="UB108", name="108", default_language="mn", languages=["es"])
    greeting = str(texts.DEFAULT_GREETING)
    mongolian = start_chat(helpline)
    assert mongolian["language"] == "mn"
    assert mongolian["notices"][0]["body"] == translated("mn", greeting).replace("{helpline}", "108")
    assert CYRILLIC.search(mongolian["notices"][0]["body"])
    spanish = start_chat(helpline, "es-MX")
    assert spanish["language"] == "es"
    assert spanish["notices"][0]["body"] == translated("es", greeting).replace("{helpline}", "108")
    # A language the helpline does not speak: the browser's if it does, else the default.
    assert start_chat(helpline, "fr", HTTP_ACCEPT_LANGUAGE="es;q=0.9")["language"] == "es"
    assert start_chat(helpline, "en")["language"] == "mn"


def test_the_out_of_hours_notice_is_in_the_chats_language(db):
    mondays = [{"weekday": "monday", "opens": "09:00", "closes": "17:00"}]
    helpline = factories.HelplineFactory(code="MX911", default_language="es", opening_hours=mondays)
    with time_machine.travel(datetime(2026, 12, 8, 12, 0, tzinfo=UTC), tick=False):  # a Tuesday
        notices = {n["kind"]: n["body"] for n in start_chat(helpline)["notices"]}
    assert (
        notices["out_of_hours"]
        == translated("es", str(texts.DEFAULT_OUT_OF_HOURS))
        != str(texts.DEFAULT_OUT_OF_HOURS)
    )


def test_a_chats_contact_records_the_chats_language(db):
    helpline = factories.HelplineFactory(code="UB108", default_language="mn")
    session = start_chat(helpline)
    response = APIClient(REMOTE_ADDR="10.7.7.8").post(
        f"{SESSIONS}{session['id']}/messages/", {"body": "Сайн уу"}, format="json",
        HTTP_X_CHAT_SECRET=session["secret"],
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert Contact.objects.get().language == "mn" and Case.objects.get().child_language == "mn"


def test_voice_prompts_follow_the_numbers_language_and_voice(db):
    mexico = factories.HelplineFactory(code="MX911", country="MX", default_language="es")
    PhoneNumber.objects.create(helpline=mexico, channel="voice", number="+525500000911")
    say = call("+525500000911").find("Say")
    greeting = "Thank you for calling the child helpline. You are not alone."
    assert say.text == translated("es", greeting) != greeting and say.get("language") == "es-MX"

    mongolia = factories.HelplineFactory(code="UB108", country="MN", default_language="mn")
    PhoneNumber.objects.create(helpline=mongolia, channel="voice", number="+97670000108")
    say = call("+97670000108", sid="CA" + "b" * 32).find("Say")
    # Twilio has no Mongolian voice: the text in Cyrillic, for its default voice.
    assert CYRILLIC.search(say.text) and say.get("language") is None
    voice_call_process(call_sid="CA" + "b" * 32)
    assert Contact.objects.get(helpline=mongolia).language == "mn"


def test_a_number_speaks_only_a_language_of_its_helpline(api, admin_user, helpline):
    client = api(admin_user)
    refused = client.post(
        "/api/v1/phone-numbers/",
        {"channel": "sms", "number": "+15005550007", "language": "mn"},
        format="json",
    )
    assert refused.status_code == 400, refused.content
    assert [(e["attr"], e["code"]) for e in refused.json()["errors"]] == [("language", "not_spoken")]
    assert not PhoneNumber.objects.exists()
    helpline.languages = ["mn"]
    helpline.save()
    created = client.post(
        "/api/v1/phone-numbers/",
        {"channel": "sms", "number": "+15005550007", "language": "mn"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["language"] == "mn"


def test_a_deployment_plays_recordings_for_a_language_twilio_cannot_speak(db, settings):
    settings.VOICE_RECORDINGS = {
        "mn": {
            "greeting": "https://audio.example.mn/greeting.mp3",
            "emergency": "https://audio.example.mn/press-9.mp3",
            "connecting": "https://audio.example.mn/wait.mp3",
        }
    }
    mongolia = factories.HelplineFactory(code="UB108", country="MN", default_language="mn")
    PhoneNumber.objects.create(helpline=mongolia, channel="voice", number="+97670000108")
    root = call("+97670000108")
    assert [(e.tag, e.text) for e in root.iter() if e.tag in ("Say", "Play")] == [
        ("Play", "https://audio.example.mn/greeting.mp3"),
        ("Play", "https://audio.example.mn/press-9.mp3"),
    ]
    # Spanish has a voice: spoken, never the Mongolian recordings.
    mexico = factories.HelplineFactory(code="MX911", country="MX", default_language="es")
    PhoneNumber.objects.create(helpline=mexico, channel="voice", number="+525500000911")
    assert {e.tag for e in call("+525500000911", sid="CA" + "c" * 32).iter()} >= {"Say"}


def test_our_greeting_in_the_childs_language_beats_the_helplines_own_in_another(db):
    helpline = factories.HelplineFactory(
        code="UB108", name="108", default_language="mn", languages=["es"], chat_greeting={"mn": "Сайн уу!"}
    )
    assert start_chat(helpline)["notices"][0]["body"] == "Сайн уу!"
    spanish = start_chat(helpline, "es")["notices"][0]["body"]
    assert spanish == translated("es", str(texts.DEFAULT_GREETING)).replace("{helpline}", "108")


def test_the_browsers_first_language_the_helpline_speaks_is_taken(db):
    helpline = factories.HelplineFactory(code="MX911", default_language="en", languages=["es"])
    # Mongolian is a language of ours, but not of this helpline: the next one the browser names.
    assert start_chat(helpline, HTTP_ACCEPT_LANGUAGE="mn, es;q=0.9")["language"] == "es"


def test_a_number_whose_language_the_helpline_stopped_speaking_answers_in_its_default(db):
    helpline = factories.HelplineFactory(code="MX911", default_language="en", languages=["es"])
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+525500000911", language="es")
    helpline.languages = []
    helpline.save()
    assert sms("+525500000911") == [ENGLISH_ACK]
