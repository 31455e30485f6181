"""Inbound messages survive real failures of real processes (gunicorn, a Celery worker and beat,
an own Redis): a worker killed in the middle of threading a message leaves nothing half done and
the message is threaded once after; webhooks that arrive while Redis hangs and then is down are
all answered in time, stored once and threaded once Redis is back. Counted in the database."""

import time
import urllib.parse

import pytest
from django.db import connection

from cases.models import Case, Contact
from channels_sms.models import InboundEvent, Message
from channels_sms.senders import sender_hash
from helpline.audit import chains, verify_chain
from helpline.models import AuditEntry
from tests.processes import HttpResponse, db_connect, http_request, wait_until
from tests.twilio_signing import sms_params, twilio_signature

SMS_PATH = "/webhooks/twilio/sms/"
TWILIO_DEADLINE = 15.0  # seconds Twilio waits for a webhook's answer


def post_sms(base_url: str, params: dict[str, str]) -> HttpResponse:
    """Posts a webhook signed as Twilio signs it for the server's public URL."""
    return http_request(
        base_url,
        SMS_PATH,
        method="POST",
        body=urllib.parse.urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(SMS_PATH, params, base=base_url),
        },
        timeout=TWILIO_DEADLINE + 5,
    )


def assert_twiml(response: HttpResponse) -> None:
    assert response.status == 200, response.body[:500]
    assert response.content_type.startswith("text/xml")
    assert b"<Response" in response.body


def assert_audit_chains_verify() -> None:
    reports = [verify_chain(chain) for chain in chains()]
    assert reports and all(report.ok for report in reports), [r.problem for r in reports if not r.ok]


def tables_written_by(backend_pid: int) -> set[str]:
    """Tables a database session has inserted into or updated in its open transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'",
            [backend_pid],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_leaves_nothing_half_done_and_the_message_is_threaded_once(
    stack, sms_number, helpline
):
    stack.redis()
    web = stack.gunicorn()
    sid = "SM" + "a" * 32
    child = "+254712345678"
    assert_twiml(post_sms(web.url, sms_params(sid, child, "please help")))
    event = InboundEvent.objects.get(external_id=sid)  # stored; its task waits in Redis

    # Holding the helpline's audit chain head stops the worker inside its transaction right after
    # it wrote the new case, at the case's audit entry: real work in flight, no hook in the code.
    lock = db_connect(connection.settings_dict, autocommit=False)
    try:
        with lock.cursor() as cursor:
            cursor.execute("SELECT 1 FROM helpline_auditchainhead WHERE chain = %s FOR UPDATE", [helpline.pk])
            assert cursor.fetchone() is not None
        worker = stack.worker()  # ready: it consumes, and takes the task at once
        blocked = wait_until(
            "the worker to block inside its transaction",
            lambda: [s for s in stack.database_sessions("worker") if s.waiting_on_lock],
            timeout=30,
            check=worker.check_alive,
        )
        assert "helpline_auditchainhead" in blocked[0].query
        # It has written the case, uncommitted: only its own transaction sees it.
        assert "cases_case" in tables_written_by(blocked[0].pid)
        assert Case.objects.count() == 0
        worker.kill()  # SIGKILL to its process group: no shutdown code runs
    finally:
        lock.rollback()
        lock.close()
    # Its backend rolls back once it finds its client gone.
    wait_until(
        "the killed worker's database session to end",
        lambda: not stack.database_sessions("worker"),
        timeout=15,
    )
    event.refresh_from_db()
    assert event.processed_at is None and event.attempts == 1
    assert (Case.objects.count(), Contact.objects.count(), Message.objects.count()) == (0, 0, 0)

    # The task died unacknowledged; the sweeper (beat) dispatches the event again.
    worker, beat = stack.worker(wait=False), stack.beat(wait=False)
    worker.wait_ready()
    beat.wait_ready()
    wait_until(
        "the event to be threaded after the restart",
        lambda: InboundEvent.objects.filter(pk=event.pk, processed_at__isnull=False).exists(),
        timeout=30,
        interval=0.2,
        check=lambda: (worker.check_alive(), beat.check_alive()),
    )
    stack.close()

    event.refresh_from_db()
    message = Message.objects.get()
    case = Case.objects.get()
    assert (message.event_id, message.case_id, message.body) == (event.pk, case.pk, "please help")
    assert Contact.objects.get().pk == message.contact_id == event.contact_id
    assert case.reporter_phone_hash == sender_hash(child)
    assert event.attempts >= 2
    assert AuditEntry.objects.filter(action="message.receive").count() == 1
    assert AuditEntry.objects.filter(action="case.create").count() == 1
    assert_audit_chains_verify()


@pytest.mark.django_db(transaction=True)
def test_webhooks_while_redis_hangs_then_is_down_are_answered_stored_once_and_threaded_once(
    stack, sms_number
):
    redis = stack.redis()
    web, worker, beat = stack.gunicorn(wait=False), stack.worker(wait=False), stack.beat(wait=False)
    for process in (web, worker, beat):
        process.wait_ready()
    senders = [f"+2547000000{i:02d}" for i in range(4)]
    sender_of: dict[str, str] = {}  # MessageSid -> From, in posting order

    def post(sender: str, body: str = "hello") -> float:
        sid = f"SM{len(sender_of):032d}"
        sender_of[sid] = sender
        response = post_sms(web.url, sms_params(sid, sender, body))
        assert_twiml(response)
        return response.seconds

    before = [post(sender) for _ in range(3) for sender in senders]
    # Redis hangs (connections open, no answer): the publish must give up, not hold the answer.
    redis.freeze()
    hung = [post(sender) for sender in senders[:2]]
    # Then it dies, keeping nothing: the tasks it had queued are gone with it.
    redis.kill()
    down = [post(sender) for sender in senders]
    # Twilio retries a webhook it thinks failed: the same MessageSids again, still during the outage.
    for sid in list(sender_of)[::4]:
        response = post_sms(web.url, sms_params(sid, sender_of[sid], "again"))
        assert_twiml(response)
        down.append(response.seconds)
    assert InboundEvent.objects.count() == len(sender_of)  # stored at once, Redis or not
    redis.start()

    started = time.monotonic()
    wait_until(
        "every event to be threaded after Redis came back",
        lambda: not InboundEvent.objects.filter(processed_at__isnull=True).exists(),
        timeout=45,
        interval=0.2,
        check=lambda: (web.check_alive(), worker.check_alive(), beat.check_alive()),
    )
    recovered = time.monotonic() - started
    stack.close()

    posted = list(sender_of)
    events = InboundEvent.objects.filter(external_id__in=posted)
    inbound = Message.objects.filter(direction="inbound", external_id__in=posted)
    per_sid_events = {sid: events.filter(external_id=sid).count() for sid in posted}
    per_sid_messages = {sid: inbound.filter(external_id=sid).count() for sid in posted}
    lost = sum(1 for n in per_sid_messages.values() if n == 0)
    duplicated = sum(n - 1 for n in per_sid_messages.values() if n > 1)
    print(
        f"\nposted {len(posted)} (+{len(posted[::4])} replays), events {events.count()}, "
        f"messages {inbound.count()}, cases {Case.objects.count()}, lost {lost}, duplicated {duplicated}; "
        f"max latency: before {max(before):.2f}s, Redis hung {max(hung):.2f}s, Redis down {max(down):.2f}s; "
        f"all threaded {recovered:.1f}s after Redis came back"
    )
    assert set(per_sid_events.values()) == {1}
    assert set(per_sid_messages.values()) == {1}
    assert (lost, duplicated) == (0, 0)
    assert max(hung + down) < TWILIO_DEADLINE
    for sender in senders:
        assert Case.objects.filter(reporter_phone_hash=sender_hash(sender)).count() == 1
        assert inbound.filter(sender_hash=sender_hash(sender)).values("case").distinct().count() == 1
    assert Case.objects.count() == len(senders)
    assert AuditEntry.objects.filter(action="message.receive").count() == len(posted)
    assert AuditEntry.objects.filter(action="inbound.receive").count() == len(posted)
    assert_audit_chains_verify()
