"""A gunicorn worker dies in the middle of a request (SIGKILL: the OOM killer, a crash): its client
sees the connection dropped, its transaction rolls back (nothing half-written), the master forks a
new worker, a request another worker serves is unaffected, and Twilio's retry of the same
MessageSid is stored and threaded exactly once (an operator's repeated walk-in: created once)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection
from knox.models import AuthToken

from cases.models import Case
from channels_sms.models import InboundEvent, Message
from channels_sms.senders import sender_hash
from helpline.models import AuditEntry, Helpline
from tests.processes import CHAOS_LONG, Gunicorn, HttpResponse, Stack, db_connect, http_request, wait_until
from tests.test_inbound_survives_worker_and_broker_failures import (
    assert_audit_chains_verify,
    assert_twiml,
    post_sms,
    tables_written_by,
)
from tests.twilio_signing import sms_params


@dataclass
class InFlight:
    """A request sent from a thread of its own; `outcome` is its answer or the error its client got."""

    name: str
    thread: threading.Thread
    outcome: HttpResponse | Exception | None = None

    @classmethod
    def send(cls, name: str, call: Callable[[], HttpResponse]) -> InFlight:
        def run() -> None:
            try:
                request.outcome = call()
            except Exception as exc:
                request.outcome = exc

        request = cls(name, threading.Thread(target=run, daemon=True))
        request.thread.start()
        return request

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def answer(self, timeout: float) -> HttpResponse:
        self.thread.join(timeout)
        assert self.done, f"{self.name}: no answer after {timeout:.0f}s"
        assert isinstance(self.outcome, HttpResponse), f"{self.name}: {self.outcome!r}"
        return self.outcome


def blocked_at_the_chain_head(stack: Stack, count: int, holder_pid: int) -> list:
    """The web processes' database sessions waiting for the audit chain head held by the session
    `holder_pid` (directly, or queued behind another waiter), once there are `count`. Asked of
    pg_blocking_pids: a webhook's statement is longer than pg_stat_activity shows of it."""
    conn = db_connect(connection.settings_dict)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            )
            waits = dict(cursor.fetchall())
    finally:
        conn.close()
    blocked, grew = set(), True
    while grew:
        more = {pid for pid, by in waits.items() if ({holder_pid} | blocked) & set(by)} - blocked
        blocked |= more
        grew = bool(more)
    sessions = [s for s in stack.database_sessions("web") if s.waiting_on_lock and s.pid in blocked]
    return sessions if len(sessions) >= count else []


@dataclass
class Kill:
    cut: InFlight  # the request whose worker was killed
    others: list[InFlight]  # served by other workers
    dropped_after: float  # seconds from the kill to the client seeing its connection dropped
    respawned_after: float  # seconds from the kill to a new worker


def kill_a_worker_mid_request(
    stack: Stack, web: Gunicorn, helpline: Helpline, *, send: Callable[[], list[InFlight]], written: str
) -> Kill:
    """Sends requests (`send`, one per worker) while the helpline's audit chain head is held, so
    that each stops at its audit entry inside its transaction after it wrote `written` (real work
    in flight, no hook in the code); SIGKILLs one of those workers, then lets the others finish."""
    workers_before = web.worker_pids()
    lock = db_connect(connection.settings_dict, autocommit=False)
    try:
        with lock.cursor() as cursor:
            cursor.execute("SELECT 1 FROM helpline_auditchainhead WHERE chain = %s FOR UPDATE", [helpline.pk])
            assert cursor.fetchone() is not None
            cursor.execute("SELECT pg_backend_pid()")
            [holder_pid] = cursor.fetchone()
        in_flight = send()
        blocked = wait_until(
            "the requests to block inside their transactions",
            lambda: blocked_at_the_chain_head(stack, len(in_flight), holder_pid),
            timeout=30,
            check=web.check_alive,
        )
        for session in blocked:
            assert written in tables_written_by(session.pid)  # written, not committed
        serving = web.busy_worker_pids()
        assert len(serving) == len(in_flight), serving  # one request per worker
        victim = serving[0]
        killed_at = time.monotonic()
        web.kill_worker(victim)
        # Its client sees the connection dropped at once; another worker's request still waits.
        [cut] = wait_until(
            "a client to see its connection dropped", lambda: [r for r in in_flight if r.done], timeout=10
        )
        dropped_after = time.monotonic() - killed_at
        assert dropped(cut.outcome), repr(cut.outcome)
        # The master forks a new worker; the others live on, their requests still waiting.
        respawned = wait_until(
            "the master to fork a new worker",
            lambda: replaced(web.worker_pids(), workers_before, victim),
            timeout=30,
            check=web.check_alive,
        )
        respawned_after = time.monotonic() - killed_at
        assert set(workers_before) - set(respawned) == {victim}
        assert [r for r in in_flight if r.done] == [cut]
    finally:
        lock.rollback()
        lock.close()
    others = [r for r in in_flight if r is not cut]
    for other in others:
        other.answer(30)
    # The killed worker's database session rolls back once it finds its client gone (the others
    # end too: the test settings keep no connection after a request).
    wait_until(
        "the web workers' database sessions to end", lambda: not stack.database_sessions("web"), timeout=15
    )
    return Kill(cut, others, dropped_after, respawned_after)


def replaced(pids: list[int], before: list[int], victim: int) -> list[int]:
    return pids if len(pids) == len(before) and victim not in pids else []


def dropped(outcome: object) -> bool:
    """The client saw its connection closed without an answer."""
    return isinstance(outcome, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))


@pytest.mark.django_db(transaction=True)
def test_a_web_worker_killed_mid_request_rolls_back_and_the_retry_is_stored_once(
    stack, sms_number, helpline, operator
):
    stack.redis()
    web = stack.gunicorn(workers=2, wait=False)
    worker, beat = stack.worker(wait=False), stack.beat(wait=False)
    for process in (web, worker, beat):
        process.wait_ready()
    _, token = AuthToken.objects.create(user=operator)
    senders = [f"+2547200000{i:02d}" for i in range(4)]
    sender_of: dict[str, str] = {}  # MessageSid -> From, in posting order
    killed: list[str] = []
    retries = 0
    walk_ins = 0
    drop_seconds: list[float] = []
    respawn_seconds: list[float] = []

    def new_sid() -> str:
        sid = f"SM{len(sender_of):032d}"
        sender_of[sid] = senders[len(sender_of) % len(senders)]
        return sid

    def webhook(sid: str) -> Callable[[], HttpResponse]:
        return lambda: post_sms(web.url, sms_params(sid, sender_of[sid], f"message {sid}"))

    def walk_in() -> HttpResponse:
        return http_request(
            web.url,
            "/api/v1/cases/",
            method="POST",
            body=json.dumps({"call_type": "child"}).encode(),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )

    def all_threaded() -> bool:
        posted = list(sender_of)
        return Message.objects.filter(direction="inbound", external_id__in=posted).count() == len(posted)

    def all_alive() -> None:
        web.check_alive()
        worker.check_alive()
        beat.check_alive()

    for sid in [new_sid() for _ in senders]:
        assert_twiml(webhook(sid)())  # the audit chain head exists from here on
    # Short: two webhooks in flight on two workers, one worker killed. Long: more rounds, and a
    # worker killed in an operator's walk-in (an API write).
    rounds = ["webhooks", "walk_in", "webhooks", "walk_in", "webhooks"] if CHAOS_LONG else ["webhooks"]
    for kind in rounds:
        # The senders' earlier messages are threaded: nothing else waits on the lock below.
        wait_until("messages so far to be threaded", all_threaded, timeout=30, interval=0.2, check=all_alive)
        if kind == "webhooks":
            sids = [new_sid(), new_sid()]
            kill = kill_a_worker_mid_request(
                stack,
                web,
                helpline,
                send=lambda sids=sids: [InFlight.send(sid, webhook(sid)) for sid in sids],
                written="channels_sms_inboundevent",
            )
            [survivor] = kill.others
            assert_twiml(survivor.answer(30))
            # Nothing of the cut request was kept: no event, no audit entry.
            sid = kill.cut.name
            assert not InboundEvent.objects.filter(external_id=sid).exists()
            assert not AuditEntry.objects.filter(action="inbound.receive", extra__external_id=sid).exists()
            killed.append(sid)
            # Twilio retries the MessageSid it got no answer for, on the new worker or the other;
            # once more, as its own retry may race ours: stored once.
            for _ in range(2):
                assert_twiml(webhook(sid)())
                retries += 1
        else:
            kill = kill_a_worker_mid_request(
                stack, web, helpline, send=lambda: [InFlight.send("walk-in", walk_in)], written="cases_case"
            )
            assert Case.objects.filter(created_by=operator).count() == walk_ins  # none from the cut one
            # The operator saw an error and records the walk-in again: one case.
            again = walk_in()
            assert again.status == 201, again.body[:500]
            walk_ins += 1
            assert Case.objects.filter(created_by=operator).count() == walk_ins
        drop_seconds.append(kill.dropped_after)
        respawn_seconds.append(kill.respawned_after)

    wait_until("every message to be threaded", all_threaded, timeout=45, interval=0.2, check=all_alive)
    stack.close()

    posted = list(sender_of)
    events = InboundEvent.objects.filter(external_id__in=posted)
    inbound = Message.objects.filter(direction="inbound", external_id__in=posted)
    per_sid = {sid: inbound.filter(external_id=sid).count() for sid in posted}
    lost = sum(1 for n in per_sid.values() if n == 0)
    duplicated = sum(n - 1 for n in per_sid.values() if n > 1)
    print(
        f"\nweb worker killed mid-request x{len(rounds)} ({', '.join(rounds)}): posted {len(posted)} "
        f"webhooks (+{retries} Twilio retries of the {len(killed)} dropped), stored {events.count()}, "
        f"threaded {inbound.count()}, lost {lost}, duplicated {duplicated}; walk-ins dropped "
        f"{rounds.count('walk_in')}, repeated and created {walk_ins}; clients saw the drop in max "
        f"{max(drop_seconds):.2f}s, a new worker in max {max(respawn_seconds):.2f}s"
    )
    assert (lost, duplicated) == (0, 0)
    assert events.count() == len(posted) and set(per_sid.values()) == {1}
    assert AuditEntry.objects.filter(action="inbound.receive").count() == len(posted)
    assert AuditEntry.objects.filter(action="message.receive").count() == len(posted)
    for sid in killed:
        assert AuditEntry.objects.filter(action="inbound.receive", extra__external_id=sid).count() == 1
    assert AuditEntry.objects.filter(action="case.create", actor=operator).count() == walk_ins
    for sender in senders:  # one conversation each, retries included
        assert inbound.filter(sender_hash=sender_hash(sender)).values("case").distinct().count() == 1
    assert_audit_chains_verify()
