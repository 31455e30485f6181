"""A stored inbound message becomes a contact in a case exactly once: a sender's messages thread
into their open case's conversation, a new conversation after an idle gap, a new case when they
have none open; concurrent messages never open two cases, and lost dispatches are swept up."""

import io
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from cases.models import Case, Contact
from channels_sms import sms
from channels_sms.models import InboundEvent, Message, PhoneNumber
from channels_sms.senders import sender_hash
from channels_sms.sms import inbound_event_process, inbound_message_receive
from helpline.models import AuditEntry
from tests.twilio_signing import OUR_NUMBER, PUBLIC, TOKEN, sms_params, twilio_signature

CHILD = "+254712345678"


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.CONVERSATION_IDLE_MINUTES = 30


def params(sid, *, body="hello", sender=CHILD, to=OUR_NUMBER):
    return sms_params(sid, sender, body, to=to)


def webhook(sid, **kwargs):
    data = params(sid, **kwargs)
    signature = twilio_signature("/webhooks/twilio/sms/", data)
    response = Client().post("/webhooks/twilio/sms/", data, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200, response.content
    return InboundEvent.objects.get(external_id=sid)


def receive_and_process(sid, **kwargs):
    event = webhook(sid, **kwargs)
    assert inbound_event_process(event_id=event.pk) == "threaded"
    return Message.objects.select_related("contact").get(event=event)


@pytest.mark.django_db
def test_new_sender_opens_a_case_at_intake_with_an_sms_contact(sms_number, helpline):
    message = receive_and_process("SM1", body="my uncle hits me")
    case = Case.objects.get()
    assert (case.state, case.helpline_id, case.reporter_phone) == ("intake", helpline.pk, CHILD)
    assert case.reporter_phone_hash == sender_hash(CHILD)
    assert case.reference.startswith("DEMO-") and case.next_action_due_at is not None
    contact = Contact.objects.get()
    assert (contact.case_id, contact.channel, contact.direction, contact.call_type) == (
        case.pk,
        "sms",
        "inbound",
        "",
    )
    assert (message.contact_id, message.case_id, message.body, message.direction) == (
        contact.pk,
        case.pk,
        "my uncle hits me",
        "inbound",
    )
    event = InboundEvent.objects.get()
    assert event.processed_at is not None and event.contact_id == contact.pk and event.attempts == 1
    created = AuditEntry.objects.get(action="case.create", case_id=case.pk)
    assert created.actor is None and created.actor_role == "system"
    assert AuditEntry.objects.filter(action="contact.create", case_id=case.pk, actor=None).count() == 1
    received = AuditEntry.objects.get(action="message.receive")
    assert (
        received.case_id == case.pk
        and "uncle" not in str(received.extra)
        and CHILD not in str(received.extra)
    )


@pytest.mark.django_db
def test_messages_within_the_idle_gap_share_a_contact_and_after_it_start_a_new_one(sms_number):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = receive_and_process("SM1")
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        second = receive_and_process("SM2")
    with time_machine.travel(start + timedelta(minutes=29 + 31), tick=False):
        third = receive_and_process("SM3")
    assert second.contact_id == first.contact_id
    assert third.contact_id != first.contact_id
    assert first.case_id == second.case_id == third.case_id
    assert Case.objects.count() == 1 and Contact.objects.count() == 2
    assert list(Message.objects.filter(case_id=first.case_id).values_list("external_id", flat=True)) == [
        "SM1",
        "SM2",
        "SM3",
    ]


@pytest.mark.django_db
def test_a_closed_case_is_not_reopened_by_a_new_message(sms_number):
    first = receive_and_process("SM1")
    Case.objects.filter(pk=first.case_id).update(state="closed", closed_at=timezone.now())
    second = receive_and_process("SM2")
    assert second.case_id != first.case_id
    assert Case.objects.get(pk=second.case_id).state == "intake"


@pytest.mark.django_db
def test_message_threads_into_an_open_case_recorded_with_that_reporter_phone(sms_number, walk_in):
    case = walk_in(reporter_phone="0712 345 678")  # national form, Kenya
    message = receive_and_process("SM1")
    assert message.case_id == case["id"]
    assert Case.objects.count() == 1
    assert Contact.objects.filter(case_id=case["id"], channel="sms").count() == 1


@pytest.mark.django_db
def test_other_senders_get_their_own_cases(sms_number):
    a = receive_and_process("SM1")
    b = receive_and_process("SM2", sender="+254700000001")
    assert a.case_id != b.case_id


@pytest.mark.django_db
def test_sweeper_processes_an_event_whose_dispatch_was_lost(sms_number, settings):
    from config.celery import app

    settings.INBOUND_SWEEP_AFTER_SECONDS = 30
    # In a test transaction on_commit never runs: the dispatch is lost, as if the process had died.
    event = webhook("SM1")
    from channels_sms.tasks import sweep_unprocessed_events

    app.conf.task_always_eager = True
    try:
        assert sweep_unprocessed_events() == 0  # not yet: its first dispatch may still be on the way
        with time_machine.travel(timezone.now() + timedelta(seconds=31)):
            assert sweep_unprocessed_events() == 1
            assert sweep_unprocessed_events() == 0
    finally:
        app.conf.task_always_eager = False
    event.refresh_from_db()
    assert event.processed_at is not None
    assert Message.objects.filter(event=event).count() == 1 and Case.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_messages_from_one_new_sender_open_one_case(helpline, monkeypatch, caplog):
    monkeypatch.setattr(sms, "dispatch", lambda event_id: None)  # processed by the threads below
    number = PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    ids = []
    for i in range(50):
        data = {name: [value] for name, value in params(f"SM{i:03d}", body=f"message {i}").items()}
        ids.append(inbound_message_receive(number=number, params=data).event.pk)
    barrier = threading.Barrier(len(ids))
    results, errors = [], []

    def work(event_id):
        try:
            barrier.wait(timeout=30)
            results.append(inbound_event_process(event_id=event_id))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(event_id,)) for event_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    # Each message threaded by its own call or taken along in another's batch.
    assert len(results) == 50 and set(results) <= {"threaded", "already_processed"}
    assert sorted(Message.objects.values_list("event_id", flat=True)) == sorted(ids)
    assert "Threading a batch" not in caplog.text  # no batch failed (a deadlock) and fell back
    assert Case.objects.count() == 1
    assert Contact.objects.count() == 1
    assert Message.objects.filter(case=Case.objects.get()).count() == 50
    assert not InboundEvent.objects.filter(processed_at__isnull=True).exists()
    # A second round (a redelivery of every task) changes nothing.
    assert {inbound_event_process(event_id=event_id) for event_id in ids} == {"already_processed"}
    assert Message.objects.count() == 50


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_threads_a_webhook_message(celery_worker, sms_number):
    event = webhook("SM" + "f" * 32, body="is anyone there")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        event.refresh_from_db()
        if event.processed_at is not None:
            break
        time.sleep(0.1)
    assert event.processed_at is not None, "the worker did not process the event"
    message = Message.objects.get(event=event)
    assert message.body == "is anyone there"
    assert Case.objects.get().pk == message.case_id
    entry = AuditEntry.objects.get(action="message.receive")
    assert entry.request_id.startswith("task-")


@pytest.mark.django_db
def test_staff_who_see_the_case_read_its_conversation_in_order(sms_number, api, operator, agency_user):
    start = timezone.now()
    for minute, sid in enumerate(["SM1", "SM2", "SM3"]):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            message = receive_and_process(sid, body=f"text {sid}")
    url = f"/api/v1/cases/{message.case_id}/messages/"
    response = api(operator).get(url, {"page_size": 2})
    assert response.status_code == 200
    page = response.json()
    assert [row["body"] for row in page["results"]] == ["text SM1", "text SM2"]
    assert page["results"][0]["direction"] == "inbound" and page["results"][0]["channel"] == "sms"
    rest = api(operator).get(page["next"]).json()["results"]
    assert [row["body"] for row in rest] == ["text SM3"]
    assert AuditEntry.objects.filter(action="message.list", actor=operator, case_id=message.case_id).exists()
    assert api(agency_user).get(url).status_code == 404
    assert api().get(url).status_code == 401


@pytest.mark.django_db
def test_a_failed_dispatch_still_answers_and_leaves_the_event_to_the_sweeper(
    sms_number, monkeypatch, django_capture_on_commit_callbacks
):
    from channels_sms.tasks import process_inbound_event

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(process_inbound_event, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = webhook("SM1")
    assert len(callbacks) == 1
    event.refresh_from_db()
    assert event.processed_at is None  # stored, answered, waiting for the sweeper


@pytest.mark.django_db
def test_dispatch_on_commit_sends_the_event_to_the_task(
    sms_number, monkeypatch, django_capture_on_commit_callbacks
):
    from channels_sms.tasks import process_inbound_event

    sent = []
    monkeypatch.setattr(process_inbound_event, "apply_async", lambda args, **kwargs: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        event = webhook("SM1")
    assert sent == [(event.pk,)]


def test_beat_schedules_the_inbound_sweeper():
    from django.conf import settings

    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-unprocessed-inbound-events"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks and entry["schedule"] == 60
    assert "channels_sms.tasks.process_inbound_event" in app.tasks


@pytest.mark.django_db
def test_seed_demo_registers_the_demo_numbers():
    from django.core.management import call_command

    for _ in range(2):  # idempotent
        call_command("seed_demo", totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", stdout=io.StringIO())
    assert sorted(PhoneNumber.objects.filter(helpline__code="DEMO").values_list("number", "channel")) == [
        ("+15005550006", "sms"),
        ("+15005550006", "voice"),
        ("whatsapp:+14155238886", "whatsapp"),
    ]
