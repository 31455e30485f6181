"""A partner agency without a webhook hears of a new referral at its notify_email (a real SMTP
server) and notify_sms (the fake Twilio): the referral's number, its urgency and a link, never the
packet. An agency with a webhook gets the signed webhook instead; one with neither, nothing."""

from collections.abc import Iterator

import pytest

from cases.models import Case
from cases.services import case_transition
from notifications import outbox
from notifications.models import Delivery, Notification
from referrals.models import Delivery as WebhookDelivery
from referrals.services import referral_create
from tests.fake_twilio import FakeTwilio
from tests.smtp_server import SmtpServer

from . import factories

SUMMARY = "Wanjiru, 9, beaten by her stepfather; safe to call after 6pm"
REASON = "Physical abuse disclosed by the child"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def outbound(settings, smtp, twilio):
    for name, value in smtp.settings().items():
        setattr(settings, name, value)
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "test-token"
    settings.TWILIO_API_BASE_URL = twilio.url
    settings.NOTIFICATION_SMS_FROM = "+15005550006"
    settings.NOTIFICATION_LINK_BASE_URL = "https://lifeline.example"


def refer(walk_in, operator, agency):
    case = Case.objects.get(pk=walk_in(child_first_name="Wanjiru", reporter_phone="+254712345678")["id"])
    case = case_transition(actor=operator, case=case, name="start_assessment")
    return referral_create(
        actor=operator,
        case=case,
        agency=agency,
        service_type="investigation",
        urgency="emergency",
        reason=REASON,
        summary=SUMMARY,
    )


def test_an_agency_without_a_webhook_gets_the_reference_and_a_link(
    outbound, smtp, twilio, helpline, walk_in, operator
):
    agency = factories.AgencyFactory(
        helpline=helpline, notify_email="duty@police.example", notify_sms="+254700000555"
    )
    referral = refer(walk_in, operator, agency)
    notification = Notification.objects.get(kind="agency_referral")
    assert (notification.user_id, notification.agency_id, notification.referral_id) == (
        None,
        agency.pk,
        referral.pk,
    )
    for delivery in Delivery.objects.filter(notification=notification):
        assert outbox.delivery_attempt(delivery_id=delivery.pk) == "sent"
    link = f"https://lifeline.example/api/v1/referrals/{referral.pk}/"
    [mail] = smtp.to("duty@police.example")
    [sms] = [r["form"] for r in twilio.requests if r["path"].endswith("/Messages.json")]
    assert sms["To"] == "+254700000555"
    for text in (mail.subject + mail.body, sms["Body"]):
        assert f"referral {referral.pk} (emergency)" in text and link in text
        for secret in ("Wanjiru", "stepfather", "6pm", "Physical abuse", "712345678"):
            assert secret not in text
    assert not WebhookDelivery.objects.exists()


def test_an_agency_with_a_webhook_gets_the_webhook_and_one_with_neither_nothing(helpline, walk_in, operator):
    hooked = factories.AgencyFactory(
        helpline=helpline,
        notify_email="duty@police.example",
        webhook_url="https://police.example/hook",
        webhook_secret="s3cret",
    )
    refer(walk_in, operator, hooked)
    assert WebhookDelivery.objects.count() == 1
    silent = factories.AgencyFactory(helpline=helpline)
    refer(walk_in, operator, silent)
    assert not Notification.objects.filter(kind="agency_referral").exists()
