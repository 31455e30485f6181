"""Each staff user has a preferred language (issue #16), set by an administrator or chosen by
themselves: their notifications' e-mail and SMS are written in it (else in their helpline's), and
the API answers them in it when the request names no language of ours."""

import re
from collections.abc import Iterator

import pytest
from django.utils import timezone, translation

from helpline.models import AuditEntry, User
from notifications import outbox
from notifications.models import Delivery, Notification, NotificationKind, Preference
from tests.fake_twilio import FakeTwilio
from tests.smtp_server import SmtpServer

CYRILLIC = re.compile(r"[\u0400-\u04FF]")


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


def in_language(language: str, text) -> str:
    with translation.override(language):
        return str(text)


@pytest.mark.django_db
def test_an_administrator_sets_a_persons_language_on_the_record(api, admin_user, supervisor):
    client = api(admin_user)
    response = client.patch(f"/api/v1/users/{supervisor.pk}/", {"language": "mn"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["language"] == "mn"
    entry = AuditEntry.objects.filter(action="user.update").latest("id")
    assert entry.changes["language"] == {"before": "", "after": "mn"}
    refused = client.patch(f"/api/v1/users/{supervisor.pk}/", {"language": "fr"}, format="json")
    assert refused.status_code == 400, refused.content
    assert [(e["attr"], e["code"]) for e in refused.json()["errors"]] == [("language", "invalid_choice")]
    assert User.objects.get(pk=supervisor.pk).language == "mn"


@pytest.mark.django_db
def test_a_person_chooses_their_own_language_on_the_record(api, operator):
    client = api(operator)
    chosen = client.patch("/api/v1/auth/me/", {"language": "es"}, format="json")
    assert chosen.status_code == 200, chosen.content
    assert chosen.json()["language"] == "es" and chosen["Content-Language"] == "es"
    entry = AuditEntry.objects.filter(action="user.update").latest("id")
    assert (entry.actor_id, entry.object_id) == (operator.pk, str(operator.pk))
    assert entry.changes["language"] == {"before": "", "after": "es"}
    assert client.get("/api/v1/cases/999999/")["Content-Language"] == "es"
    refused = client.patch("/api/v1/auth/me/", {"language": "fr", "role": "admin"}, format="json")
    assert refused.status_code == 400, refused.content
    assert User.objects.get(pk=operator.pk).language == "es"
    back = client.patch("/api/v1/auth/me/", {"language": ""}, format="json")
    assert back.json()["language"] == "" and back["Content-Language"] == "en"  # the helpline's


@pytest.mark.django_db
def test_the_api_answers_a_person_in_their_language_unless_the_request_asks_for_another(api, supervisor):
    supervisor.language = "mn"
    supervisor.save()
    client = api(supervisor)
    mine = client.get("/api/v1/cases/999999/")
    assert mine.status_code == 404 and mine["Content-Language"] == "mn"
    assert mine.json()["errors"][0]["detail"] == in_language("mn", translation.gettext_lazy("Not found."))
    asked = client.get("/api/v1/cases/999999/", HTTP_ACCEPT_LANGUAGE="es")
    assert asked["Content-Language"] == "es"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("own", "helplines", "expected"), [("mn", "en", "mn"), ("", "es", "es")])
def test_notifications_are_written_in_the_recipients_language(
    outbound,
    smtp,
    twilio,
    walk_in,
    helpline,
    supervisor,
    django_capture_on_commit_callbacks,
    own,
    helplines,
    expected,
):
    helpline.default_language = helplines
    helpline.save()
    supervisor.language = own
    supervisor.email = "supervisor1@helpline.example"
    supervisor.save()
    Preference.objects.create(user=supervisor, sms_number="+254700000111")
    with django_capture_on_commit_callbacks(execute=False):
        case = walk_in(risk_level="critical")
    for delivery in Delivery.objects.all():
        assert outbox.delivery_attempt(delivery_id=delivery.pk) == "sent"
    kind = in_language(expected, NotificationKind.CRITICAL_CASE.label)
    assert kind != NotificationKind.CRITICAL_CASE.label
    [mail] = smtp.to("supervisor1@helpline.example")
    # (A long encoded subject is folded onto its own line: a reader unfolds it.)
    assert mail.subject.strip() == f"[Lifeline] {kind}: {case['reference']}"
    [sms] = [r["form"] for r in twilio.requests if r["path"].endswith("/Messages.json")]
    assert sms["Body"].startswith(f"{kind}: {case['reference']}")
    if expected == "mn":
        assert CYRILLIC.search(mail.subject)


@pytest.mark.django_db
def test_an_agencys_notification_is_in_its_helplines_language(outbound, smtp, helpline):
    helpline.default_language = "es"
    helpline.save()
    notification = Notification.objects.create(
        helpline=helpline, kind=NotificationKind.AGENCY_REFERRAL, reference="referral 7 (urgent)", link="/x/"
    )
    delivery = Delivery.objects.create(
        notification=notification,
        channel="email",
        address="duty@police.example",
        next_attempt_at=timezone.now(),
    )
    assert outbox.delivery_attempt(delivery_id=delivery.pk) == "sent"
    [mail] = smtp.to("duty@police.example")
    kind = in_language("es", NotificationKind.AGENCY_REFERRAL.label)
    assert kind != NotificationKind.AGENCY_REFERRAL.label
    assert mail.subject.strip() == f"[Lifeline] {kind}: referral 7 (urgent)"
