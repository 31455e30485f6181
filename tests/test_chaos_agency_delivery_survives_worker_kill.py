"""A Celery worker killed in the middle of an agency webhook delivery (SIGKILL: no shutdown code)
leaves the delivery pending and the cut attempt on record, in flight; after the attempt's lease a
new worker and beat's sweep mark it interrupted and deliver again with the same delivery id, which
the agency's endpoint (verifying as docs/agency-webhooks.md tells agencies to) drops as a repeat:
the agency takes each referral once, every request it saw is in the attempt log, and exactly one
successful attempt is on record.

Two kill points: while the agency holds the request open (it has the event, the worker has no
answer yet), and after the agency answered but before the worker recorded the answer."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from referrals.models import Agency, Delivery, DeliveryAttempt
from tests.processes import (
    CHAOS_LONG,
    CeleryWorker,
    Process,
    Stack,
    db_connect,
    http_request,
    wait_until,
)
from tests.test_agency_webhooks_are_signed_and_retried import doc_verifier
from tests.test_inbound_survives_worker_and_broker_failures import assert_audit_chains_verify

SECRET = "s3cret-shared-with-the-police-unit"
MAX_HOLD = 30.0  # seconds the endpoint keeps a held request open at most
SENDER_TIMEOUT = 10  # seconds: the kill comes well before it (asserted: the attempt is still in flight)


@dataclass
class Received:
    delivery_id: str
    event: dict | None  # verified; None if refused
    refusal: str
    taken: bool  # the first request with this delivery id: the agency took the event
    held: bool


class AgencyEndpoint:
    """A partner agency's webhook endpoint on a loopback port, written as docs/agency-webhooks.md
    tells agencies to (with the document's own code): verify, take the event unless its delivery
    id was taken before, answer 204. `hold_next()` keeps the next request open after the event is
    taken, until `release()`: the sender is in the middle of its delivery."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.doc = doc_verifier()
        self.requests: list[Received] = []
        self.held = threading.Event()
        self._hold_next = False
        self._release = threading.Event()
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/lifeline/webhook"

    def hold_next(self) -> None:
        self.held.clear()
        self._release.clear()
        self._hold_next = True

    def release(self) -> None:
        self._release.set()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        event, refusal = None, ""
        try:
            event = self.doc.verify_webhook(self.secret, request.headers, body)
        except self.doc.InvalidWebhook as refused:
            refusal = str(refused)
        with self._lock:
            taken = event is not None and self.doc.first_delivery(event["delivery_id"])
            hold, self._hold_next = self._hold_next and event is not None, False
            delivery_id = request.headers.get("X-Lifeline-Delivery", "")
            self.requests.append(Received(delivery_id, event, refusal, taken, hold))
        if hold:
            self.held.set()
            self._release.wait(MAX_HOLD)
        try:
            request.send_response(401 if refusal else 204)
            request.send_header("Content-Length", "0")
            request.end_headers()
        except OSError:
            pass  # the sender is gone (killed mid-delivery)

    def seen(self, delivery_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.delivery_id == delivery_id]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[AgencyEndpoint]:
    endpoint = AgencyEndpoint(SECRET)
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def agency(agency_user, endpoint: AgencyEndpoint) -> Agency:
    """police1's agency, its webhook pointing at the endpoint."""
    agency = agency_user.agency_membership.agency
    agency.webhook_url = endpoint.url
    agency.webhook_secret = SECRET
    agency.save()
    return agency


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path) -> Iterator[Stack]:
    processes = Stack(
        settings_dict=connection.settings_dict,
        directory=tmp_path / "processes",
        extra_env={
            # The sweep that sends due deliveries again, every second (30 s in production).
            "AGENCY_DELIVERY_SWEEP_SECONDS": "1",
            # Longer than the kill takes to come; short, so the attempt's lease (+ 15 s) is.
            "AGENCY_WEBHOOK_TIMEOUT_SECONDS": str(SENDER_TIMEOUT),
            # The agency's endpoint is on this machine's loopback, over plain http.
            "AGENCY_WEBHOOK_ALLOW_HTTP": "1",
            "AGENCY_WEBHOOK_ALLOW_NON_PUBLIC": "1",
        },
    )
    try:
        yield processes
    finally:
        processes.close()


class Api:
    """The helpline's API over HTTP as one user."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def __call__(self, method: str, path: str, body: dict | None = None, *, expect: int = 200) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        response = http_request(self.base_url, path, method=method, body=data, headers=self.headers)
        assert response.status == expect, (method, path, response.status, response.body[:500])
        return json.loads(response.body) if response.body else None


def refer(api: Api, agency: Agency) -> int:
    """A referral made as the helpline makes them, through the API of the stack's gunicorn: its
    commit publishes the delivery to the stack's Redis."""
    case = api("POST", "/api/v1/cases/", {"call_type": "child", "risk_level": "high"}, expect=201)
    api("POST", f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"})
    consent = {
        "given_by": "child",
        "given_at": timezone.now().isoformat(),
        "scope": ["referral", "information_sharing"],
    }
    api("POST", f"/api/v1/cases/{case['id']}/consent/", consent, expect=201)
    referral = api(
        "POST",
        f"/api/v1/cases/{case['id']}/referrals/",
        {
            "agency": agency.pk,
            "service_type": "investigation",
            "urgency": "urgent",
            "reason": "Disclosure of abuse",
            "summary": "Child needs protection.",
        },
        expect=201,
    )
    return referral["id"]


def row_locked(table: str, pk: int) -> bool:
    """Someone else holds the row's lock (our own try takes and drops it at once if free)."""
    conn = db_connect(connection.settings_dict)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED", [pk])
            return cursor.fetchone() is None
    finally:
        conn.close()


def delivered(referral_id: int) -> bool:
    return Delivery.objects.filter(referral_id=referral_id, state="delivered").exists()


def all_alive(*processes: Process) -> None:
    for process in processes:
        process.check_alive()


def kill_mid_delivery(
    stack: Stack, worker: CeleryWorker, endpoint: AgencyEndpoint, kill_point: str, refer: Callable[[], int]
) -> tuple[int, float]:
    """Makes a referral and SIGKILLs the worker delivering it at `kill_point`: "held" (the agency
    took the event and holds the request open) or "answered" (the agency answered 2xx; the worker
    has not recorded the answer). Checks the attempt is on record, in flight, and nothing else
    was written; returns the referral's id and when the worker was killed."""
    lock = db_connect(connection.settings_dict, autocommit=False)
    try:
        endpoint.hold_next()
        referral_id = refer()
        delivery = Delivery.objects.get(referral_id=referral_id)
        assert endpoint.held.wait(30), "the delivery did not reach the agency"
        # The attempt was committed before the request went out; no row is locked during the call.
        assert attempt_log(delivery) == [(1, "in_flight", None, "")]
        assert not row_locked("referrals_delivery", delivery.pk)
        assert not row_locked("referrals_referral", referral_id)
        if kill_point == "answered":
            # The answer cannot be recorded while we hold the attempt's row: the worker stops
            # after the agency's answer, inside its transaction.
            with lock.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM referrals_deliveryattempt WHERE delivery_id = %s FOR UPDATE", [delivery.pk]
                )
            endpoint.release()
            wait_until(
                "the worker to block writing the attempt after the agency's answer",
                lambda: [
                    s
                    for s in stack.database_sessions("worker")
                    if s.waiting_on_lock and "referrals_deliveryattempt" in s.query
                ],
                timeout=30,
                check=worker.check_alive,
            )
        [first] = endpoint.seen(str(delivery.delivery_id))
        assert first.taken and first.refusal == ""
        worker.kill()  # SIGKILL to its process group: no shutdown code runs
        killed_at = time.monotonic()
    finally:
        endpoint.release()
        lock.rollback()
        lock.close()
    # Its database session rolls back once it finds its client gone.
    wait_until(
        "the killed worker's database session to end",
        lambda: not stack.database_sessions("worker"),
        timeout=15,
    )
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.delivered_at) == ("pending", 1, None)
    assert attempt_log(delivery) == [(1, "in_flight", None, "")]
    return referral_id, killed_at


def attempt_log(delivery: Delivery) -> list[tuple]:
    return list(delivery.attempt_log.values_list("number", "outcome", "status_code", "error"))


INTERRUPTED = (1, "interrupted", None, "No outcome recorded: the sender stopped mid-attempt.")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_leaves_it_pending_and_it_is_delivered_once_after(
    stack, agency, endpoint, operator
):
    stack.redis()
    web, worker = stack.gunicorn(wait=False), stack.worker(wait=False)
    web.wait_ready()
    worker.wait_ready()
    beat = None
    api = Api(web.url, AuthToken.objects.create(user=operator)[1])
    # Short: one kill at each point. Long: each point three times, and deliveries with no kill between.
    kill_points = ["held", "answered"] * (3 if CHAOS_LONG else 1)
    referrals: list[int] = []
    undisturbed: set[int] = set()
    redelivered_after: list[float] = []

    for kill_point in kill_points:
        if CHAOS_LONG:  # one that nothing disturbs
            referrals.append(refer(api, agency))
            undisturbed.add(referrals[-1])
            wait_until(
                "an undisturbed delivery",
                partial(delivered, referrals[-1]),
                timeout=30,
                check=worker.check_alive,
            )
        referral_id, killed_at = kill_mid_delivery(
            stack, worker, endpoint, kill_point, partial(refer, api, agency)
        )
        referrals.append(referral_id)
        # A new worker; beat's sweep dispatches the pending delivery again once the attempt's
        # lease is over (the killed task's message stays unacknowledged in Redis until its
        # visibility timeout, an hour).
        worker = stack.worker(wait=False)
        if beat is None:
            beat = stack.beat(wait=False)
            beat.wait_ready()
        worker.wait_ready()
        wait_until(
            "the delivery to be delivered again",
            partial(delivered, referral_id),
            timeout=60,
            interval=0.1,
            check=partial(all_alive, worker, beat),
        )
        redelivered_after.append(time.monotonic() - killed_at)

    # What helpline staff and the agency see at the deliveries endpoint.
    shown = {
        referral_id: api("GET", f"/api/v1/referrals/{referral_id}/deliveries/") for referral_id in referrals
    }
    stack.close()

    deliveries = list(Delivery.objects.filter(referral_id__in=referrals))
    assert len(deliveries) == len(referrals)  # one referral.sent each
    lost = duplicated = repeats = 0
    for delivery in deliveries:
        seen = endpoint.seen(str(delivery.delivery_id))
        taken = [r for r in seen if r.taken]
        lost += not taken
        duplicated += max(len(taken) - 1, 0)
        repeats += len(seen) - len(taken)
        for received in seen:  # every attempt genuine: the same delivery id and event, signed afresh
            assert received.refusal == "", received.refusal
            assert received.event["delivery_id"] == str(delivery.delivery_id)
            assert received.event["event"] == "referral.sent"
            assert received.event["referral_id"] == delivery.referral_id
        # Every request the agency saw is on record, and exactly one successful attempt.
        if delivery.referral_id in undisturbed:
            expected = [(1, "delivered", 204, "")]
        else:
            expected = [INTERRUPTED, (2, "delivered", 204, "")]
        assert len(seen) == len(expected)
        assert (delivery.state, delivery.attempts) == ("delivered", len(expected))
        assert attempt_log(delivery) == expected
        [listed] = shown[delivery.referral_id]
        assert (listed["delivery_id"], listed["state"], listed["attempts"]) == (
            str(delivery.delivery_id),
            "delivered",
            len(expected),
        )
        listed_log = [
            (a["number"], a["outcome"], a["status_code"], a["error"]) for a in listed["attempt_log"]
        ]
        assert listed_log == expected
    killed = len(kill_points)
    attempts = DeliveryAttempt.objects.filter(delivery__in=deliveries)
    outcomes = Counter(attempts.values_list("outcome", flat=True))
    print(
        f"\nagency delivery, worker killed x{killed} ({kill_points.count('held')} while the agency held "
        f"the request, {kill_points.count('answered')} after it answered): referrals {len(referrals)}, "
        f"requests at the agency {len(endpoint.requests)}, taken {len(referrals) - lost}, repeats dropped by "
        f"delivery id {repeats}, lost {lost}, duplicated {duplicated}; successful attempts on record "
        f"{outcomes['delivered']}, attempts cut by a kill on record as interrupted {outcomes['interrupted']} "
        f"of {killed}; "
        f"delivered again in max {max(redelivered_after):.1f}s (lease "
        f"{SENDER_TIMEOUT + 15}s)"
    )
    assert (lost, duplicated) == (0, 0)
    assert repeats == killed  # each killed delivery reached the agency twice, and was taken once
    assert len(endpoint.requests) == len(referrals) + killed
    assert_audit_chains_verify()
