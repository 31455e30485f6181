"""The inbound hot path's database statements are counted, so a change that adds a round trip per
webhook or per message shows here (docs/performance.md: on a busy machine each one is a wait)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from channels_sms import sms
from channels_sms.models import InboundEvent, Message
from channels_sms.sms import inbound_event_process, inbound_message_receive
from tests.twilio_signing import PUBLIC, TOKEN, sms_params, twilio_signature

SENDERS = [f"+2547130000{i:02d}" for i in range(8)]


@pytest.fixture(autouse=True)
def inbound_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.INBOUND_BATCH_SIZE = 20


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements sent, without the savepoints standing in for transactions inside the test's own."""
    return [query["sql"] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]]


def post(sid, sender):
    data = sms_params(sid, sender)
    signature = twilio_signature("/webhooks/twilio/sms/", data)
    return Client().post("/webhooks/twilio/sms/", data, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.django_db
def test_a_webhook_stores_its_event_and_audit_entry_in_two_statements(sms_number, monkeypatch):
    monkeypatch.setattr(sms, "dispatch", lambda event_id: None)
    assert post("SM-first", SENDERS[0]).status_code == 200  # our number found, the chain head made
    with CaptureQueriesContext(connection) as queries:
        response = post("SM-second", SENDERS[1])
    assert response.status_code == 200
    assert InboundEvent.objects.filter(external_id="SM-second").exists()
    sent = statements(queries)
    # The sender's lock, the event and the chain head's advance; then the audit entry with the
    # head's new hash. (Our number is kept by the process; the transaction's COMMIT is not counted.)
    assert len(sent) == 2, sent
    assert "pg_advisory_xact_lock" in sent[0] and "INSERT INTO" in sent[0]
    assert "helpline_auditchainhead" in sent[0] and "helpline_auditentry" in sent[1]


def _queue_and_count_batch(sms_number, count: int, round_: int) -> int:
    """Queues `count` messages from senders with an open case and counts the statements of the
    batch that threads them all."""
    ids = []
    for i in range(count):
        data = {
            name: [value] for name, value in sms_params(f"SM{round_}-{i}", SENDERS[i % len(SENDERS)]).items()
        }
        ids.append(inbound_message_receive(number=sms_number, params=data).event.pk)
    with CaptureQueriesContext(connection) as queries:
        assert inbound_event_process(event_id=ids[0]) == "threaded"
    assert Message.objects.filter(event_id__in=ids).count() == count
    return len(statements(queries))


@pytest.mark.django_db
def test_a_batch_of_messages_costs_the_same_statements_whatever_its_size(sms_number, monkeypatch):
    monkeypatch.setattr(sms, "dispatch", lambda event_id: None)
    # Every sender has an open case and a conversation already.
    _queue_and_count_batch(sms_number, len(SENDERS), round_=0)
    small = _queue_and_count_batch(sms_number, 2, round_=1)
    large = _queue_and_count_batch(sms_number, 16, round_=2)
    assert small == large, (small, large)
    # The read of its state, the claim, the events' lock, the senders' locks, flags, open cases,
    # last messages, the messages' INSERT, the events' UPDATE, the chain head and the entries.
    assert large == 11
