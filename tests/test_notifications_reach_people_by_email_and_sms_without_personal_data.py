"""A critical case opened with the child's and the reporter's names and numbers reaches the
supervisor by e-mail (through a real SMTP server) and by SMS (through the fake Twilio API), sent by
a real Celery worker after the commit: each message carries the kind, the reference and a link,
and nothing personal. A failing server is retried with backoff, then the delivery fails; the
delivery log says so with a generic error."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import outbox
from notifications.models import Delivery, Notification, Preference
from tests.fake_twilio import FakeTwilio
from tests.processes import wait_until
from tests.smtp_server import SmtpServer

ACCOUNT = "AC" + "1" * 32
FROM = "+15005550006"
SUPERVISOR_MOBILE = "+254700000111"
LINKS = "https://console.helpline.example"
PERSONAL = {
    "child_first_name": "Wanjiru",
    "child_location": "Behind the blue kiosk, Kibera",
    "reporter_name": "Grace Achieng",
    "reporter_phone": "+254712345678",
    "safe_contact": "Call after 6pm, ask for auntie Mercy",
}


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
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "test-token"
    settings.TWILIO_API_BASE_URL = twilio.url
    settings.NOTIFICATION_SMS_FROM = FROM
    settings.NOTIFICATION_LINK_BASE_URL = LINKS
    settings.NOTIFICATION_MAX_ATTEMPTS = 3


@pytest.fixture
def reachable_supervisor(supervisor):
    supervisor.email = "supervisor1@helpline.example"
    supervisor.save()
    Preference.objects.create(user=supervisor, sms_number=SUPERVISOR_MOBILE)
    return supervisor


def assert_nothing_personal(text: str) -> None:
    for value in PERSONAL.values():
        assert value not in text
    assert "712345678" not in text  # the reporter's number in no form


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_critical_case_reaches_the_supervisor_by_email_and_sms_without_personal_data(
    celery_worker, outbound, smtp, twilio, walk_in, operator, reachable_supervisor
):
    case = walk_in(risk_level="critical", **PERSONAL)
    wait_until(
        "the e-mail and the SMS to be sent",
        lambda: Delivery.objects.filter(state="sent").count() == 2,
        timeout=30,
    )
    link = f"{LINKS}/api/v1/cases/{case['id']}/"
    [mail] = smtp.to("supervisor1@helpline.example")
    assert mail.subject == f"[Lifeline] Critical case: {case['reference']}"
    assert case["reference"] in mail.body and link in mail.body
    [sms] = [r["form"] for r in twilio.requests if r["path"].endswith("/Messages.json")]
    assert (sms["To"], sms["From"]) == (SUPERVISOR_MOBILE, FROM)
    assert case["reference"] in sms["Body"] and link in sms["Body"]
    for text in (mail.subject, mail.body, str(mail.message), sms["Body"]):
        assert_nothing_personal(text)
    log = list(Delivery.objects.order_by("channel").values_list("channel", "state", "attempts", "last_error"))
    assert log == [("email", "sent", 1, ""), ("sms", "sent", 1, "")]
    assert len(smtp.messages) == 1  # the operator who opened it is not told


@pytest.mark.django_db(transaction=True)
def test_a_failing_server_is_retried_with_backoff_then_the_delivery_fails(
    api, outbound, smtp, twilio, walk_in, operator, reachable_supervisor, django_capture_on_commit_callbacks
):
    smtp.plan = ["451 4.3.0 Try again later"] * 3
    twilio.plan = [500, 500, 500]
    with django_capture_on_commit_callbacks(execute=False):
        walk_in(risk_level="critical", **PERSONAL)
    email, sms = Delivery.objects.order_by("channel")
    waits = []
    for attempt in range(1, 4):
        for delivery in (email, sms):
            before = timezone.now()
            outcome = outbox.delivery_attempt(delivery_id=delivery.pk)
            delivery.refresh_from_db()
            assert delivery.attempts == attempt
            if attempt < 3:
                assert (outcome, delivery.state) == ("retry", "pending")
                waits.append(round((delivery.next_attempt_at - before).total_seconds() / 30))
                # Not due yet: another attempt now does nothing.
                assert outbox.delivery_attempt(delivery_id=delivery.pk) == "skipped"
                Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
            else:
                assert (outcome, delivery.state, delivery.next_attempt_at) == ("failed", "failed", None)
    assert waits == [1, 1, 2, 2]  # 30 s, then 60 s: doubling
    email.refresh_from_db()
    sms.refresh_from_db()
    assert email.last_error == "SMTP error (SMTPDataError)"
    assert sms.last_error == "Twilio HTTP 500"
    assert smtp.messages == [] and twilio.accepted == []
    # The failed deliveries leave the inbox as it was: the notification is there, unread.
    assert Notification.objects.get().read_at is None
    # The person reads the delivery log in their inbox: what failed and why, never an address.
    [shown] = api(reachable_supervisor).get("/api/v1/notifications/").json()["results"]
    assert shown["deliveries"] == [
        {
            "channel": "email",
            "state": "failed",
            "attempts": 3,
            "last_error": "SMTP error (SMTPDataError)",
            "sent_at": None,
        },
        {
            "channel": "sms",
            "state": "failed",
            "attempts": 3,
            "last_error": "Twilio HTTP 500",
            "sent_at": None,
        },
    ]
    assert "helpline.example" not in str(shown) and SUPERVISOR_MOBILE not in str(shown)


@pytest.mark.django_db(transaction=True)
def test_the_sweep_dispatches_what_is_due_and_nothing_sent_twice(
    outbound, smtp, twilio, walk_in, operator, reachable_supervisor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        walk_in(risk_level="critical", **PERSONAL)
    due = outbox.due_deliveries_dispatch()
    assert len(due) == 2
    for delivery_id in due:
        outbox.delivery_attempt(delivery_id=delivery_id)
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    for delivery_id in due:  # a late duplicate of the task
        assert outbox.delivery_attempt(delivery_id=delivery_id) == "skipped"
    assert outbox.due_deliveries_dispatch() == []
    assert len(smtp.messages) == 1 and len(twilio.accepted) == 1
