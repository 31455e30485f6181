"""Under a burst, a worker threads a queued message together with other untried queued messages in
one transaction (one commit, one turn of the audit chain), and still exactly once: a message tried
before goes alone, and a message that fails holds up no other."""

import itertools
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from cases.models import Case, Contact
from channels_sms import contacters, sms
from channels_sms.models import InboundEvent, Message, PhoneNumber
from channels_sms.senders import sender_hash
from channels_sms.sms import inbound_event_process, inbound_message_receive
from helpline.audit import verify_chain
from helpline.models import AuditEntry
from tests.factories import HelplineFactory
from tests.twilio_signing import PUBLIC, TOKEN, sms_params, twilio_signature

AMINA, BARAKA, CHEGE = "+254712000001", "+254712000002", "+254712000003"


@pytest.fixture(autouse=True)
def inbound_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.CONVERSATION_IDLE_MINUTES = 30
    settings.INBOUND_BATCH_SIZE = 5


@pytest.fixture
def queued(sms_number, monkeypatch):
    """Stores messages without dispatching them: they wait in the queue for the calls below."""
    monkeypatch.setattr(sms, "dispatch", lambda event_id: None)

    sids = itertools.count()

    def receive(*senders):
        events = []
        for sender in senders:
            data = {name: [value] for name, value in sms_params(f"SM{next(sids)}-{sender}", sender).items()}
            events.append(inbound_message_receive(number=sms_number, params=data).event)
        return events

    return receive


def state(events):
    """(processed?, attempts) of each event, in order."""
    rows = InboundEvent.objects.values_list("pk", "processed_at", "attempts")
    found = {pk: (processed_at is not None, attempts) for pk, processed_at, attempts in rows}
    return [found[event.pk] for event in events]


@pytest.mark.django_db
def test_a_burst_is_threaded_oldest_first_in_batches_of_the_configured_size(queued, helpline):
    events = queued(AMINA, BARAKA, AMINA, CHEGE, AMINA, BARAKA, CHEGE)
    assert inbound_event_process(event_id=events[0].pk) == "threaded"
    # The message and the four oldest others: threaded; the last two untouched, never tried.
    assert state(events) == [(True, 1)] * 5 + [(False, 0)] * 2
    entries = list(AuditEntry.objects.filter(action="message.receive").order_by("chain_seq"))
    assert len(entries) == 5
    # One transaction: the batch's entries are written by one transaction, and chained as any other.
    assert len({entry.txid for entry in entries}) == 1
    assert verify_chain(helpline.pk).ok
    # Their own tasks find them done; the next message takes the last one along.
    assert [inbound_event_process(event_id=event.pk) for event in events[1:5]] == ["already_processed"] * 4
    assert inbound_event_process(event_id=events[5].pk) == "threaded"
    assert inbound_event_process(event_id=events[6].pk) == "already_processed"
    assert state(events) == [(True, 1)] * 7
    # Threaded as one by one: a case per sender, each sender's messages in one conversation.
    assert Case.objects.count() == 3 and Contact.objects.count() == 3
    for sender, count in ((AMINA, 3), (BARAKA, 2), (CHEGE, 2)):
        case = Case.objects.get(reporter_phone_hash=sender_hash(sender))
        assert Message.objects.filter(case=case, contact__case=case).count() == count
        assert Contact.objects.filter(case=case).count() == 1
    assert sorted(Message.objects.values_list("event_id", flat=True)) == sorted(e.pk for e in events)
    assert verify_chain(helpline.pk).ok


@pytest.mark.django_db
def test_a_message_tried_before_is_threaded_alone(queued):
    events = queued(AMINA, BARAKA, CHEGE)
    InboundEvent.objects.filter(pk=events[1].pk).update(attempts=1)  # an earlier attempt died
    assert inbound_event_process(event_id=events[1].pk) == "threaded"
    assert state(events) == [(False, 0), (True, 2), (False, 0)]


@pytest.mark.django_db
def test_a_failing_message_holds_up_no_other(queued, monkeypatch, helpline):
    events = queued(AMINA, BARAKA, AMINA)
    real_active_flags = contacters.active_flags

    def fails_for_baraka(*, senders, since):
        if (helpline.pk, sender_hash(BARAKA)) in senders:
            raise RuntimeError("something about this message breaks threading")
        return real_active_flags(senders=senders, since=since)

    monkeypatch.setattr(contacters, "active_flags", fails_for_baraka)
    # Amina's first message took the others along; the batch failed; hers was threaded alone.
    assert inbound_event_process(event_id=events[0].pk) == "threaded"
    assert state(events) == [(True, 1), (False, 1), (False, 1)]
    # Tried once already, the others now go alone: Amina's is threaded, Baraka's fails by itself.
    assert inbound_event_process(event_id=events[2].pk) == "threaded"
    with pytest.raises(RuntimeError):
        inbound_event_process(event_id=events[1].pk)
    assert state(events) == [(True, 1), (False, 2), (True, 2)]
    # Mended, Baraka's is threaded; nothing lost, nothing twice.
    monkeypatch.setattr(contacters, "active_flags", real_active_flags)
    assert inbound_event_process(event_id=events[1].pk) == "threaded"
    assert sorted(Message.objects.values_list("event_id", flat=True)) == sorted(e.pk for e in events)
    assert Message.objects.filter(case__reporter_phone_hash=sender_hash(AMINA)).count() == 2
    assert verify_chain(helpline.pk).ok


@pytest.mark.django_db
def test_a_message_threaded_before_an_older_one_still_holds_the_conversation(queued, monkeypatch):
    # Amina writes at 0, 25 and 50 minutes (the conversation goes idle after 30). The one at 25 was
    # threaded first (alone: an earlier attempt died); the ones at 0 and 50 then go in one batch.
    start = timezone.now()
    events = []
    for minutes in (0, 25, 50):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            events += queued(AMINA)
    InboundEvent.objects.filter(pk=events[1].pk).update(attempts=1)
    assert inbound_event_process(event_id=events[1].pk) == "threaded"
    assert inbound_event_process(event_id=events[0].pk) == "threaded"
    assert state(events) == [(True, 1), (True, 2), (True, 1)]
    # As one by one: 50 is 25 minutes after the newest message before it, the one at 25.
    assert Contact.objects.count() == 1
    assert set(Message.objects.values_list("contact_id", flat=True)) == {Contact.objects.get().pk}


@pytest.mark.django_db(transaction=True)
def test_batches_opening_cases_in_two_helplines_in_opposite_orders_do_not_deadlock(monkeypatch, caplog):
    monkeypatch.setattr(sms, "dispatch", lambda event_id: None)
    numbers = [
        PhoneNumber.objects.create(
            helpline=HelplineFactory(code=code), channel="sms", number=f"+1500555000{i}"
        )
        for i, code in enumerate(["ONE", "TWO"])
    ]

    def receive(sid, number, sender):
        data = {name: [value] for name, value in sms_params(sid, sender, to=number.number).items()}
        return inbound_message_receive(number=number, params=data).event.pk

    # Four first-time senders: each message opens a case, taking its helpline's reference counter.
    one_a, two_a = receive("S1", numbers[0], AMINA), receive("S2", numbers[1], BARAKA)
    two_b, one_b = receive("S3", numbers[1], CHEGE), receive("S4", numbers[0], "+254712000004")
    real = sms.case_create_from_inbound
    start, paused = threading.Barrier(2), threading.local()

    def pause_after_the_first_case(**kwargs):
        made = real(**kwargs)
        if not getattr(paused, "done", False):
            paused.done = True
            # Long enough for the other batch to take its first helpline's counter, if it could.
            time.sleep(0.5)
        return made

    monkeypatch.setattr(sms, "case_create_from_inbound", pause_after_the_first_case)
    errors = []

    def batch(own, ids):
        try:
            start.wait(timeout=20)
            sms._thread_events(own, ids)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    # Arrival order would take ONE then TWO in one batch and TWO then ONE in the other.
    threads = [
        threading.Thread(target=batch, args=(one_a, [one_a, two_a])),
        threading.Thread(target=batch, args=(two_b, [two_b, one_b])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert not InboundEvent.objects.filter(processed_at__isnull=True).exists()
    assert Case.objects.count() == 4
    assert all(verify_chain(number.helpline_id).ok for number in numbers)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_threads_a_burst_of_webhooks_exactly_once(celery_worker, sms_number, helpline, caplog):
    senders = [f"+2547120001{i:02d}" for i in range(8)]
    sids = []
    for i in range(40):
        sid = f"SM{i:032d}"
        data = sms_params(sid, senders[i % len(senders)], body=f"message {i}")
        response = Client().post(
            "/webhooks/twilio/sms/",
            data,
            HTTP_X_TWILIO_SIGNATURE=twilio_signature("/webhooks/twilio/sms/", data),
        )
        assert response.status_code == 200
        sids.append(sid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and InboundEvent.objects.filter(processed_at__isnull=True).exists():
        time.sleep(0.1)
    assert not InboundEvent.objects.filter(processed_at__isnull=True).exists(), "the worker left messages"
    assert sorted(Message.objects.values_list("external_id", flat=True)) == sorted(sids)
    assert Case.objects.count() == len(senders) and Contact.objects.count() == len(senders)
    for sender in senders:
        bodies = list(
            Message.objects.filter(sender_hash=sender_hash(sender))
            .order_by("at", "id")
            .values_list("body", flat=True)
        )
        assert bodies == [f"message {i}" for i in range(40) if senders[i % len(senders)] == sender]
    assert verify_chain(helpline.pk).ok
    assert "Threading a batch" not in caplog.text  # no batch failed and fell back
