"""What we send is never lost silently either: an operator's reply, or a referral with the agency
notification written in its transaction, whose database write fails is refused to the operator
with a clear 503 (`service_unavailable`, Retry-After), and nothing is sent, half-written or
recorded as done. The operator sees it at once and sends it again."""

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from channels_sms.models import Message
from helpline.models import AuditEntry
from referrals.models import Delivery, Referral

from .test_operators_reply_by_sms import fake, inbound, numbers, reply, twilio_settings  # noqa: F401
from .test_referral_consent_is_enforced import agencies, case, consent, refer  # noqa: F401


def failing_writes_to(table: str):
    """Every INSERT into `table` fails as when the server went away mid-request."""

    def fail(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and f'"{table}"' in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return connection.execute_wrapper(fail)


def assert_refused(response) -> None:
    assert response.status_code == 503, response.content
    assert response.json()["errors"][0]["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_a_reply_the_database_cannot_store_is_refused_and_not_sent(api, operator, numbers, fake):  # noqa: F811
    child = inbound()
    replies_before = Message.objects.filter(direction="outbound").count()
    client = api(operator)
    client.raise_request_exception = False  # answered as a server answers, not raised in the test
    with failing_writes_to("channels_sms_message"):
        response = client.post(
            f"/api/v1/cases/{child.case_id}/messages/", {"body": "Are you safe?"}, format="json"
        )
    assert_refused(response)
    assert Message.objects.filter(direction="outbound").count() == replies_before
    assert not AuditEntry.objects.filter(action="message.send").exists()
    assert fake.requests == []
    # Once the database takes it again, the same reply goes through.
    assert reply(api, operator, child.case_id).status_code == 201


@pytest.mark.django_db
def test_a_referral_whose_agency_notification_cannot_be_stored_is_refused_whole(
    api,
    operator,
    case,  # noqa: F811
    agencies,  # noqa: F811
):
    client = api(operator)
    client.raise_request_exception = False
    assert consent(client, case).status_code == 201
    police = agencies["police"]
    police.webhook_url = "https://hooks.police.example.org/lifeline"
    police.webhook_secret = "s" * 32
    police.save()
    with failing_writes_to("referrals_delivery"):
        response = refer(client, case, police)
    assert_refused(response)
    # Nothing half-written: no referral without its notification, no audit entry of one.
    assert not Referral.objects.filter(case_id=case["id"]).exists()
    assert not Delivery.objects.exists()
    assert not AuditEntry.objects.filter(action="referral.create", at__lte=timezone.now()).exists()
    created = refer(client, case, police)
    assert created.status_code == 201, created.content
    assert Delivery.objects.filter(referral_id=created.json()["id"]).count() == 1
