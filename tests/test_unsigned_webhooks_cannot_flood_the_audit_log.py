"""Unsigned webhook POSTs cannot flood the audit log (issue #13, leak 8a). Each is still refused
(403, the same answer every time), but per client address and minute only the first
WEBHOOK_REFUSALS_RECORDED["per_address"] refusals are recorded, then one entry saying that further
ones are counted, not recorded; the next recorded refusal from that address carries the count.
Twilio's signed requests are never held back, whatever came from their address before."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from channels_sms.models import InboundEvent, PhoneNumber
from channels_sms.webhook_refusals import unrecorded_refusals_key
from helpline.models import AuditEntry
from tests.twilio_signing import PUBLIC, TOKEN, sms_params, twilio_signature

WEBHOOKS = [
    "/webhooks/twilio/sms/",
    "/webhooks/twilio/sms/status/",
    "/webhooks/twilio/voice/",
    "/webhooks/twilio/voice/gather/",
    "/webhooks/twilio/voice/status/",
]
PER_ADDRESS = 5

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.WEBHOOK_REFUSALS_RECORDED = {"per_address": PER_ADDRESS, "all": 100}


@pytest.fixture
def address():
    """A client address of this test alone; its count of unrecorded refusals is forgotten after."""
    ip = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    cache.delete(unrecorded_refusals_key(ip))
    yield ip
    cache.delete(unrecorded_refusals_key(ip))


def unsigned(path, address, n=1):
    return [
        Client().post(path, sms_params("SM" + uuid.uuid4().hex, "+254712345678"), REMOTE_ADDR=address)
        for _ in range(n)
    ]


def refusals(address):
    return list(AuditEntry.objects.filter(action="webhook.rejected", client_ip=address).order_by("id"))


@pytest.mark.parametrize("path", WEBHOOKS)
def test_thirty_unsigned_posts_write_a_handful_of_entries(path, address):
    answers = unsigned(path, address, 30)

    assert {answer.status_code for answer in answers} == {403}
    assert len({answer.content for answer in answers}) == 1
    recorded = refusals(address)
    assert [entry.extra for entry in recorded] == [{"reason": "missing_signature"}] * PER_ADDRESS + [
        {"reason": "missing_signature", "further_refusals": "counted, not recorded, for a minute"}
    ]


def test_the_next_recorded_refusal_carries_the_count(address):
    unsigned("/webhooks/twilio/sms/", address, 30)

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        unsigned("/webhooks/twilio/sms/", address)

    last = refusals(address)[-1]
    assert last.extra == {"reason": "missing_signature", "unrecorded_before": 30 - PER_ADDRESS - 1}


def test_another_address_is_recorded_meanwhile(address):
    unsigned("/webhooks/twilio/sms/", address, 30)
    other = "203.0.113.9"
    cache.delete(unrecorded_refusals_key(other))

    unsigned("/webhooks/twilio/sms/", other, 2)

    assert len(refusals(other)) == 2


def test_twilios_signed_requests_are_never_held_back(helpline, address):
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    unsigned("/webhooks/twilio/sms/", address, 30)

    for n in range(10):
        params = sms_params("SM" + uuid.uuid4().hex, f"+2547123456{n:02d}")
        signature = twilio_signature("/webhooks/twilio/sms/", params)
        answer = Client().post(
            "/webhooks/twilio/sms/", params, REMOTE_ADDR=address, HTTP_X_TWILIO_SIGNATURE=signature
        )
        assert answer.status_code == 200, answer.content

    assert InboundEvent.objects.count() == 10


def test_signed_refusals_are_all_recorded(address):
    """A signed request for a number we do not have is Twilio's (a misconfiguration to fix): each
    one is on the record."""
    for _ in range(PER_ADDRESS + 3):
        params = sms_params("SM" + uuid.uuid4().hex, "+254712345678", to="+15005550999")
        signature = twilio_signature("/webhooks/twilio/sms/", params)
        answer = Client().post(
            "/webhooks/twilio/sms/", params, REMOTE_ADDR=address, HTTP_X_TWILIO_SIGNATURE=signature
        )
        assert answer.status_code == 404

    assert [entry.extra for entry in refusals(address)] == [{"reason": "unknown_number"}] * (PER_ADDRESS + 3)
