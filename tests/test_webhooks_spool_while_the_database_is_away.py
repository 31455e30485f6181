"""While the database cannot take a signed Twilio webhook, the request goes to this node's durable
spool and is answered as if stored; the drain stores it once the database is back: exactly once,
in arrival order, with its arrival time, its audit entry and the reply it was answered with; then
it is threaded as usual and its case is raised as stored late. Nothing in the spool is readable
without the encryption keys; a full spool answers 503 and never drops silently; an entry no
service can take is held aside, never deleted."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from cases.models import Escalation
from channels_sms import spool
from channels_sms.models import InboundEvent, Message, PhoneNumber, VoiceRoute
from channels_sms.sms import inbound_event_process
from channels_sms.spool_drain import drain_round, spool_drain
from helpline.models import AuditEntry

from .twilio_signing import OUR_NUMBER, PUBLIC, TOKEN, sms_params, twilio_signature

SMS_PATH = "/webhooks/twilio/sms/"
CHILD = "+254712345678"
ACK = "Thank you for contacting the child helpline. A counsellor will reply to you soon."


@pytest.fixture(autouse=True)
def signed(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


class DatabaseAway:
    """Every query of this process fails as when the server is gone, while active."""

    def __enter__(self):
        def fail(execute, sql, params, many, context):
            raise OperationalError("connection to server failed: Connection refused")

        self._wrapper = connection.execute_wrapper(fail)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc_info):
        self._wrapper.__exit__(*exc_info)


def post(path: str, params: dict[str, str]):
    return APIClient(raise_request_exception=False).post(
        path, params, HTTP_X_TWILIO_SIGNATURE=twilio_signature(path, params)
    )


def sms(sid: str, body: str = "I need help", sender: str = CHILD) -> dict[str, str]:
    return sms_params(sid, sender, body)


@pytest.fixture
def known_number(sms_number):
    """The number as a web process knows it after serving one webhook: kept in memory."""
    assert post(SMS_PATH, sms("SM" + "0" * 32, "earlier", sender="+254700000999")).status_code == 200
    return sms_number


def test_a_message_is_spooled_answered_and_stored_once_the_database_is_back(known_number):
    with time_machine.travel(datetime(2026, 12, 7, 3, 0, tzinfo=UTC), tick=False), DatabaseAway():
        first = post(SMS_PATH, sms("SM" + "1" * 32, "Amina here, my uncle hits me"))
        second = post(SMS_PATH, sms("SM" + "2" * 32, "please answer"))
    # Answered as if stored: the acknowledgement on the sender's first message only.
    assert first.status_code == 200 and first["Content-Type"].startswith("text/xml")
    assert ACK in first.content.decode()
    assert second.status_code == 200 and "<Message>" not in second.content.decode()
    files = spool.entry_paths()
    assert len(files) == 2
    raw = b"".join(path.read_bytes() for path in files)
    # Nothing a person could read: not the text, not the child's number.
    for secret in (b"Amina", b"uncle", b"254712345678", b"please answer"):
        assert secret not in raw
    assert not InboundEvent.objects.filter(external_id__in=["SM" + "1" * 32, "SM" + "2" * 32]).exists()

    # The database is back, an hour later: the drain stores both, as they arrived.
    with time_machine.travel(datetime(2026, 12, 7, 4, 0, tzinfo=UTC), tick=False):
        result = spool_drain()
    assert (result.stored, result.already_stored, result.held) == (2, 0, [])
    assert spool.entry_paths() == []
    events = list(InboundEvent.objects.filter(spooled=True).order_by("received_at", "id"))
    assert [e.external_id for e in events] == ["SM" + "1" * 32, "SM" + "2" * 32]
    assert {e.received_at for e in events} == {datetime(2026, 12, 7, 3, 0, tzinfo=UTC)}
    assert events[0].body == "Amina here, my uncle hits me" and events[0].sender == CHILD
    assert [e.reply for e in events] == [ACK, ""]
    for event in events:
        entry = AuditEntry.objects.get(action="inbound.receive", object_id=str(event.pk))
        assert entry.extra["spooled"] is True

    # Threaded as usual, in arrival order, and the case raised: it waited unseen.
    with time_machine.travel(datetime(2026, 12, 7, 4, 0, 5, tzinfo=UTC), tick=False):
        for event in events:
            inbound_event_process(event_id=event.pk)
    messages = list(Message.objects.filter(event__in=events).order_by("at", "id"))
    assert [m.body for m in messages] == ["Amina here, my uncle hits me", "please answer"]
    assert len({m.case_id for m in messages}) == 1
    escalation = Escalation.objects.get(case_id=messages[0].case_id, kind="stored_late")
    assert "2 message(s)" in escalation.detail and "60 min" in escalation.detail
    assert AuditEntry.objects.filter(action="inbound.stored_late", object_id=str(escalation.pk)).exists()


def test_a_drain_interrupted_before_the_file_was_removed_stores_nothing_twice(known_number):
    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "3" * 32))
    (path,) = spool.entry_paths()
    kept = path.read_bytes()
    assert spool_drain().stored == 1
    path.write_bytes(kept)  # as if the process died between the commit and the removal
    again = spool_drain()
    assert (again.stored, again.already_stored) == (0, 1)
    assert InboundEvent.objects.filter(external_id="SM" + "3" * 32).count() == 1
    receipts = AuditEntry.objects.filter(action="inbound.receive", extra__external_id="SM" + "3" * 32)
    assert receipts.count() == 1


def test_while_the_spool_holds_messages_new_ones_queue_behind_them(known_number):
    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "4" * 32, "first"))
    # The database is back before the drain ran: the next message waits its turn in the spool,
    # and Twilio's retry of the first one is answered the same and stored once.
    assert post(SMS_PATH, sms("SM" + "5" * 32, "second")).status_code == 200
    assert post(SMS_PATH, sms("SM" + "4" * 32, "first")).status_code == 200
    assert len(spool.entry_paths()) == 3
    assert not InboundEvent.objects.filter(external_id="SM" + "5" * 32).exists()
    result = spool_drain()
    assert (result.stored, result.already_stored) == (2, 1)
    stored = InboundEvent.objects.filter(external_id__in=["SM" + "4" * 32, "SM" + "5" * 32])
    assert [e.body for e in stored.order_by("received_at", "id")] == ["first", "second"]


def test_a_full_spool_answers_503_and_raises_the_alarm(known_number, settings, caplog):
    settings.SPOOL_MAX_MESSAGES = 1
    settings.SPOOL_COUNT_SECONDS = 0
    with DatabaseAway():
        assert post(SMS_PATH, sms("SM" + "6" * 32)).status_code == 200
        with caplog.at_level(logging.ERROR, logger="channels_sms"):
            refused = post(SMS_PATH, sms("SM" + "7" * 32))
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["code"] == "service_unavailable"
    assert any("SPOOL FULL (messages)" in r.getMessage() for r in caplog.records)
    assert len(spool.entry_paths()) == 1  # the first kept, never dropped


def test_with_the_database_back_a_full_spool_lets_new_messages_through_to_the_database(
    known_number, settings
):
    settings.SPOOL_MAX_MESSAGES = 1
    settings.SPOOL_COUNT_SECONDS = 0
    with DatabaseAway():
        assert post(SMS_PATH, sms("SM" + "6" * 32, "first")).status_code == 200
    # The database is back before the drain made room: not refused (Twilio would not send it
    # again), stored at once, out of turn.
    second = post(SMS_PATH, sms("SM" + "7" * 32, "second"))
    assert second.status_code == 200 and second["Content-Type"].startswith("text/xml")
    assert InboundEvent.objects.get(external_id="SM" + "7" * 32).spooled is False
    assert len(spool.entry_paths()) == 1
    assert spool_drain().stored == 1
    # Read in the order they arrived.
    stored = InboundEvent.objects.filter(external_id__in=["SM" + "6" * 32, "SM" + "7" * 32])
    assert [e.body for e in stored.order_by("received_at", "id")] == ["first", "second"]


def test_the_age_limit_refuses_once_the_oldest_waited_too_long(known_number, settings):
    settings.SPOOL_MAX_AGE_HOURS = 1
    settings.SPOOL_COUNT_SECONDS = 0
    with time_machine.travel(datetime(2026, 12, 7, 3, 0, tzinfo=UTC), tick=False), DatabaseAway():
        assert post(SMS_PATH, sms("SM" + "8" * 32)).status_code == 200
    with time_machine.travel(datetime(2026, 12, 7, 4, 30, tzinfo=UTC), tick=False), DatabaseAway():
        assert post(SMS_PATH, sms("SM" + "9" * 32)).status_code == 503


def test_the_fallback_url_spools_without_trying_the_database(known_number):
    path = "/webhooks/twilio/sms/fallback/"
    assert post(path, sms("SM" + "a" * 32, "via fallback")).status_code == 200
    assert len(spool.entry_paths()) == 1
    assert spool_drain().stored == 1
    assert InboundEvent.objects.get(external_id="SM" + "a" * 32).body == "via fallback"


def test_unsigned_requests_are_refused_not_spooled(known_number):
    params = sms("SM" + "b" * 32)
    with DatabaseAway():
        response = APIClient(raise_request_exception=False).post(
            SMS_PATH, params, HTTP_X_TWILIO_SIGNATURE="forged"
        )
    assert response.status_code in (403, 503)
    assert spool.entry_paths() == []


def test_a_message_for_a_number_no_longer_ours_is_refused_and_recorded_at_the_drain(known_number):
    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "c" * 32))
    PhoneNumber.objects.filter(pk=known_number.pk).update(is_active=False)
    from channels_sms.selectors import phone_numbers_forget

    phone_numbers_forget()
    result = spool_drain()
    assert (result.stored, result.refused) == (0, 1)
    assert spool.entry_paths() == []
    assert AuditEntry.objects.filter(action="webhook.rejected", extra__reason="unknown_number").exists()


def test_an_unreadable_entry_is_held_aside_never_deleted(known_number):
    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "d" * 32))
        post(SMS_PATH, sms("SM" + "e" * 32))
    first, _second = spool.entry_paths()
    first.write_bytes(first.read_bytes()[:-40] + b"\n")  # torn
    result = spool_drain()
    assert result.stored == 1 and result.held == [first.name]
    assert [p.name for p in spool.held_paths()] == [first.name]
    assert InboundEvent.objects.filter(external_id="SM" + "e" * 32).exists()


def test_a_file_under_its_temporary_name_is_left_to_its_writer_until_the_grace_period_passed(
    known_number, settings
):
    settings.SPOOL_TEMPORARY_GRACE_SECONDS = 30
    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "f" * 32, "whole, not yet renamed"))
        post(SMS_PATH, sms("SM" + "0" * 31 + "f", "torn by a kill"))
    whole, torn = spool.entry_paths()
    # As a writer leaves them before its rename: one written whole, one cut after its open.
    whole = whole.rename(whole.with_name(spool.TEMPORARY_PREFIX + whole.name))
    torn = torn.rename(torn.with_name(spool.TEMPORARY_PREFIX + torn.name))
    torn.write_bytes(b"")
    # Young: its writer may be alive and about to rename it; taking it would fail that rename.
    result = spool_drain()
    assert (result.stored, result.held) == (0, [])
    assert whole.exists() and torn.exists()
    # Past the grace period its writer was killed: the whole one is stored, the torn one held aside.
    old = time.time() - 31
    for path in (whole, torn):
        os.utime(path, (old, old))
    result = spool_drain()
    assert (result.stored, result.held) == (1, [torn.name.removeprefix(spool.TEMPORARY_PREFIX)])
    assert spool.entry_paths() == []
    assert InboundEvent.objects.get(external_id="SM" + "f" * 32).body == "whole, not yet renamed"


def test_the_drainer_holds_aside_a_torn_file_its_killed_writer_left_alone_in_the_spool(
    known_number, settings
):
    settings.SPOOL_TEMPORARY_GRACE_SECONDS = 30
    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "f" * 32))
    (path,) = spool.entry_paths()
    torn = path.rename(path.with_name(spool.TEMPORARY_PREFIX + path.name))
    torn.write_bytes(b"")  # its writer killed right after creating it
    assert spool.counted(fresh=True).pending == 1  # counted from its name: /readyz shows it
    old = time.time() - 31
    os.utime(torn, (old, old))
    result = drain_round()
    assert result is not None and result.held == [path.name]
    assert spool.entry_paths() == [] and [p.name for p in spool.held_paths()] == [path.name]
    assert drain_round() is None  # nothing left: no drain


def test_a_status_callback_is_spooled_and_applied_later(known_number):
    path = "/webhooks/twilio/sms/status/?m=123"
    params = {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": "SM" + "f" * 32,
        "MessageStatus": "delivered",
        "From": OUR_NUMBER,
        "To": CHILD,
    }
    with DatabaseAway():
        assert post(path, params).status_code == 200
    (entry_path,) = spool.entry_paths()
    assert spool.read(entry_path).query == {"m": "123"}
    assert spool_drain().stored == 1
    assert InboundEvent.objects.get(external_id="SM" + "f" * 32 + ":delivered").spooled


def test_a_call_hears_the_greeting_and_queue_from_memory_and_its_record_is_spooled(helpline):
    number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550007")
    VoiceRoute.objects.create(number=number, greeting="Welcome to the helpline", queue_name="day")
    call = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": "CA" + "1" * 32,
        "From": CHILD,
        "To": "+15005550007",
        "CallStatus": "ringing",
    }
    assert post("/webhooks/twilio/voice/", {**call, "CallSid": "CA" + "0" * 32}).status_code == 200
    with DatabaseAway():
        answered = post("/webhooks/twilio/voice/", call)
    twiml = answered.content.decode()
    assert answered.status_code == 200
    assert "Welcome to the helpline" in twiml and "<Gather" in twiml and ">day</Enqueue>" in twiml
    assert spool_drain().stored == 1
    assert InboundEvent.objects.get(external_id="CA" + "1" * 32 + ":ringing").spooled


def test_readyz_says_degraded_while_spooling_and_unavailable_when_full(known_number, settings, client):
    settings.SPOOL_COUNT_SECONDS = 0
    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "1" * 31 + "2"))
        degraded = client.get("/readyz")
        settings.SPOOL_MAX_MESSAGES = 1
        full = client.get("/readyz")
    assert degraded.status_code == 200, degraded.content
    body = degraded.json()
    assert body["status"] == "degraded: spooling 1"
    assert body["checks"]["database"].startswith("error") and body["spool"]["pending"] == 1
    assert full.status_code == 503 and full.json()["checks"]["spool"] == "full: messages"


def test_the_spool_command_shows_headers_only(known_number, capsys):
    from django.core.management import call_command

    with DatabaseAway():
        post(SMS_PATH, sms("SM" + "1" * 30 + "34", "Amina here"))
    call_command("spool", "status")
    call_command("spool", "list")
    out = capsys.readouterr().out
    assert "1 waiting" in out and "sms" in out and "Amina" not in out and CHILD not in out
    call_command("spool", "drain")
    assert "1 stored" in capsys.readouterr().out


def test_a_chat_message_is_queued_while_the_database_is_away_and_stored_once_back(helpline):
    client = APIClient(raise_request_exception=False)
    started = client.post("/api/v1/chat/sessions/", {"helpline": "DEMO", "language": "en"}, format="json")
    assert started.status_code == 201, started.content
    session, secret = started.json()["id"], started.json()["secret"]
    path = f"/api/v1/chat/sessions/{session}/messages/"
    with DatabaseAway():
        queued = client.post(path, {"body": "is anyone there"}, format="json", HTTP_X_CHAT_SECRET=secret)
        forged = client.post(path, {"body": "not the child"}, format="json", HTTP_X_CHAT_SECRET="guess")
        invalid = client.post(path, {"body": ""}, format="json", HTTP_X_CHAT_SECRET=secret)
    assert queued.status_code == 202, queued.content
    assert queued.json()["status"] == "queued"
    assert forged.status_code == 202  # nobody can tell a session's secret from the answer
    assert invalid.status_code == 503  # not kept: the child sees it was not sent
    assert b"anyone" not in b"".join(p.read_bytes() for p in spool.entry_paths())

    result = spool_drain()
    assert (result.stored, result.refused) == (1, 1)  # the forged one refused, recorded
    assert AuditEntry.objects.filter(action="webhook.rejected", extra__reason="unknown_chat_session").exists()
    thread = client.get(path, HTTP_X_CHAT_SECRET=secret).json()["results"]
    assert [m["body"] for m in thread] == ["is anyone there"]
    # Stored once, even if the drain's removal of the file was lost.
    assert Message.objects.filter(channel="chat", external_id__startswith="spool:").count() == 1


def test_numbers_read_at_start_up_answer_calls_a_process_never_served(helpline):
    from channels_sms.selectors import phone_numbers_warm

    number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550008")
    VoiceRoute.objects.create(number=number, greeting="Karibu", queue_name="night")
    assert phone_numbers_warm() == 1
    call = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "2" * 32, "From": CHILD, "To": "+15005550008"}
    with DatabaseAway():
        answered = post("/webhooks/twilio/voice/", call)
        unknown = post("/webhooks/twilio/voice/", {**call, "CallSid": "CA" + "3" * 32, "To": "+15005550009"})
    assert "Karibu" in answered.content.decode() and ">night</Enqueue>" in answered.content.decode()
    # A number nobody here has read: the default greeting and the outage queue, the call kept.
    assert ">helpline-outage</Enqueue>" in unknown.content.decode()
    result = spool_drain()
    assert (result.stored, result.refused) == (1, 1)  # the unknown number is not ours: refused, recorded


def test_chat_has_a_share_of_the_spool_so_it_cannot_crowd_out_sms(known_number, helpline, settings):
    settings.SPOOL_MAX_MESSAGES = 20
    settings.SPOOL_CHAT_SHARE = 0.1  # two chat messages
    settings.SPOOL_COUNT_SECONDS = 0
    client = APIClient(raise_request_exception=False)
    path = "/api/v1/chat/sessions/6f1c1c9e-58c4-4c57-9a0b-4f4b1e0c2a11/messages/"  # no such session
    with DatabaseAway():
        floods = [client.post(path, {"body": "x"}, format="json", HTTP_X_CHAT_SECRET="s") for _ in range(4)]
        sms_after = post(SMS_PATH, sms("SM" + "5" * 31 + "6", "a child's message"))
    assert [r.status_code for r in floods] == [202, 202, 503, 503]
    assert sms_after.status_code == 200  # the children's SMS still have their room
    result = spool_drain()
    assert (result.stored, result.refused) == (1, 2)  # the unknown session's: refused, held aside
    assert len(spool.held_paths()) == 2


def test_a_fallback_request_signed_for_the_second_nodes_address_is_taken(known_number, settings):
    settings.TWILIO_FALLBACK_BASE_URL = "https://fallback.helpline.example.org"
    path = "/webhooks/twilio/sms/fallback/"
    params = sms("SM" + "7" * 31 + "8", "via the second node")
    signed = twilio_signature(path, params, base="https://fallback.helpline.example.org")
    response = APIClient().post(path, params, HTTP_X_TWILIO_SIGNATURE=signed)
    assert response.status_code == 200
    assert spool_drain().stored == 1
