"""Agencies hear about their referrals by signed webhooks, delivered at least once with retries.

A real HTTP receiver on a loopback port checks every request with the verification code published
in docs/agency-webhooks.md (executed from the document itself), so a change of the signature
scheme, the headers or the body breaks these tests as it would break every agency's integration."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from cases.models import Escalation
from helpline.models import AuditEntry
from referrals import notifications, services, tasks
from referrals.models import Delivery, DeliveryAttempt, Referral, ReferralUpdate
from tests import factories
from tests.processes import db_connect, free_port, wait_until

DOC = Path(__file__).resolve().parent.parent / "docs" / "agency-webhooks.md"
SECRET = "s3cret-shared-with-the-police-unit"


def doc_python_blocks() -> list[str]:
    """The document's Python examples, each padded with blank lines so that a traceback through
    it names the line of the document."""
    text = DOC.read_text()
    return [
        "\n" * text.count("\n", 0, block.start(1)) + block.group(1)
        for block in re.finditer(r"```python\n(.*?)```", text, re.S)
    ]


def doc_verifier() -> SimpleNamespace:
    """The verification code of docs/agency-webhooks.md, run as published (a fresh namespace, so
    a fresh store of seen delivery ids, each call)."""
    source = next(b for b in doc_python_blocks() if b.lstrip().startswith("# lifeline_webhook_verify.py"))
    namespace: dict[str, Any] = {"__name__": "lifeline_webhook_verify"}
    exec(compile(source, str(DOC), "exec"), namespace)
    return SimpleNamespace(**namespace)


@dataclass
class Received:
    headers: Message
    body: bytes
    event: dict | None  # the verified event; None if verification refused it
    refusal: str
    status: int
    repeat: bool | None  # a delivery id answered 2xx before (None: not answered 2xx)


class Receiver:
    """An agency's webhook endpoint: verifies each request as the document says, answers the next
    status of `plan` (200 once it is used up, 401 to a request that fails verification), `delay`
    seconds late, and records every request."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.doc = doc_verifier()
        self.plan: list[int] = []
        self.delay = 0.0
        self.during: Callable[[], None] | None = None  # run while the request is held open
        # Echo a verification challenge, as the document tells agencies to (a 2xx answer only).
        self.answer_challenges = True
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/lifeline/webhook"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        event, refusal = None, ""
        try:
            event = self.doc.verify_webhook(self.secret, request.headers, body)
        except self.doc.InvalidWebhook as refused:
            refusal = str(refused)
        with self._lock:
            status = 401 if refusal else (self.plan.pop(0) if self.plan else 200)
            repeat = None
            if event is not None and 200 <= status < 300:
                repeat = not self.doc.first_delivery(event["delivery_id"])
            self.requests.append(Received(request.headers, body, event, refusal, status, repeat))
        if self.during is not None:
            self.during()
        if self.delay:
            self._release.wait(self.delay)
        answer = b""
        if self.answer_challenges and event and event.get("event") == "webhook.verification":
            answer = json.dumps({"challenge": event["challenge"]}).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Length", str(len(answer)))
            if answer:
                request.send_header("Content-Type", "application/json")
            request.end_headers()
            request.wfile.write(answer)
        except OSError:
            pass  # the sender gave up waiting (a timeout test)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver(SECRET)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def hooked(agency_user, receiver, settings):
    """police1's agency, with its webhook (approved and verified earlier) pointing at the receiver
    on this machine's loopback: plain http and a loopback address allowed for these tests."""
    settings.AGENCY_WEBHOOK_ALLOW_HTTP = True
    settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = True
    agency = agency_user.agency_membership.agency
    agency.webhook_url = receiver.url
    agency.webhook_secret = SECRET
    agency.save()
    return agency


def refer(api, operator, walk_in, agency, summary: str = "Child needs protection.") -> int:
    """A referral made as the helpline makes them: case assessed, consent recorded, then referred."""
    case = walk_in(risk_level="high")
    client = api(operator)
    started = client.post(
        f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json"
    )
    assert started.status_code == 200, started.json()
    consent = {
        "given_by": "child",
        "given_at": timezone.now().isoformat(),
        "scope": ["referral", "information_sharing"],
    }
    assert client.post(f"/api/v1/cases/{case['id']}/consent/", consent, format="json").status_code == 201
    response = client.post(
        f"/api/v1/cases/{case['id']}/referrals/",
        {
            "agency": agency.pk,
            "service_type": "investigation",
            "urgency": "urgent",
            "reason": "Disclosure of abuse",
            "summary": summary,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.fixture
def swept(monkeypatch):
    """The sweep's dispatch runs the Celery task in this process (no broker); returns the outcomes."""
    outcomes: list[str] = []
    monkeypatch.setattr(
        notifications, "dispatch", lambda delivery_id: outcomes.append(tasks.deliver_to_agency(delivery_id))
    )
    return outcomes


def assert_genuine(received: Received, delivery: Delivery) -> None:
    assert received.refusal == "", received.refusal
    assert received.headers["X-Lifeline-Event"] == delivery.event
    assert received.headers["X-Lifeline-Delivery"] == str(delivery.delivery_id)
    assert received.headers["Content-Type"] == "application/json"
    assert received.body == delivery.body.encode()
    assert received.event["event"] == delivery.event
    assert received.event["delivery_id"] == str(delivery.delivery_id)
    assert received.event["referral_id"] == delivery.referral_id


# --- delivered -------------------------------------------------------------------------------------


def test_a_referral_reaches_the_agency_signed_with_its_packet(
    api, operator, supervisor, agency_user, helpline, walk_in, hooked, receiver
):
    summary = "12-year-old disclosed abuse by a neighbour; needs protection today."
    referral_id = refer(api, operator, walk_in, hooked, summary=summary)
    delivery = Delivery.objects.get(referral_id=referral_id)
    assert (delivery.event, delivery.state, delivery.url) == ("referral.sent", "pending", receiver.url)

    assert tasks.deliver_to_agency(delivery.pk) == "delivered"

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert_genuine(received, delivery)
    referral = Referral.objects.select_related("case").get(pk=referral_id)
    assert received.event["data"] == {"state": "sent", "packet": referral.packet}
    assert received.event["data"]["packet"]["reference"] == referral.case.reference
    assert received.event["data"]["packet"]["summary"] == summary
    # What the webhook carried is what the agency reads in the API.
    assert api(agency_user).get(f"/api/v1/referrals/{referral_id}/").json()["packet"] == referral.packet

    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 1 and delivery.next_attempt_at is None
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    # Delivered is final: the task running again (a redelivered message) sends nothing.
    assert tasks.deliver_to_agency(delivery.pk) == "skipped"
    assert len(receiver.requests) == 1

    for reader in (operator, supervisor, agency_user):
        response = api(reader).get(f"/api/v1/referrals/{referral_id}/deliveries/")
        assert response.status_code == 200, (reader.username, response.json())
        [shown] = response.json()
        assert shown["delivery_id"] == str(delivery.delivery_id)
        assert (shown["event"], shown["state"], shown["attempts"]) == ("referral.sent", "delivered", 1)
        assert [(a["number"], a["status_code"], a["error"]) for a in shown["attempt_log"]] == [(1, 200, "")]
        assert "body" not in shown
    other_agency = factories.AgencyUserFactory(username="health1", helpline=helpline)
    assert api(other_agency).get(f"/api/v1/referrals/{referral_id}/deliveries/").status_code == 404


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_referral_once_it_is_committed(
    celery_worker, api, operator, walk_in, hooked, receiver
):
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = wait_until(
        "the worker to deliver referral.sent",
        lambda: Delivery.objects.filter(referral_id=referral_id, state="delivered").first(),
        timeout=30,
    )
    assert len(receiver.requests) == 1
    assert_genuine(receiver.requests[0], delivery)
    assert receiver.requests[0].event["data"]["packet"]["referral_id"] == referral_id
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 200)]


# --- retried ---------------------------------------------------------------------------------------


def backoff_after(attempt: DeliveryAttempt, delivery: Delivery) -> timedelta:
    """The wait before the next attempt, counted from the failure (the attempt's end), to 1 s."""
    ended = attempt.at + timedelta(milliseconds=attempt.duration_ms)
    return timedelta(seconds=round((delivery.next_attempt_at - ended).total_seconds()))


def test_a_failed_attempt_is_retried_with_backoff_by_the_sweep_with_the_same_delivery_id(
    api, operator, walk_in, hooked, receiver, swept
):
    receiver.plan = [500, 503]
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)
    base = timedelta(seconds=30)

    with override_settings(AGENCY_WEBHOOK_RETRY_BASE_SECONDS=base.total_seconds()):
        assert tasks.deliver_to_agency(delivery.pk) == "retry"
        delivery.refresh_from_db()
        first = DeliveryAttempt.objects.get(delivery=delivery, number=1)
        assert (first.status_code, first.error) == (500, "HTTP 500")
        assert delivery.state == "pending" and delivery.attempts == 1
        assert backoff_after(first, delivery) == base
        assert notifications.due_deliveries_dispatch() == [], "not due before its backoff"
        assert swept == []

        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=True):
            assert notifications.due_deliveries_dispatch() == [delivery.pk]
        assert swept == ["retry"]
        delivery.refresh_from_db()
        second = DeliveryAttempt.objects.get(delivery=delivery, number=2)
        assert (second.status_code, second.error) == (503, "HTTP 503")
        assert backoff_after(second, delivery) == 2 * base, "the backoff doubles"

        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=True):
            assert notifications.due_deliveries_dispatch() == [delivery.pk]
        assert swept == ["retry", "delivered"]

    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 3
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 500), (2, 503), (3, 200)]
    assert [r.status for r in receiver.requests] == [500, 503, 200]
    for received in receiver.requests:
        assert_genuine(received, delivery)  # every retry: same delivery id and body, signed afresh
    assert receiver.requests[2].repeat is False
    assert notifications.due_deliveries_dispatch() == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_what_the_sweep_dispatches(
    celery_worker, api, operator, walk_in, hooked, receiver
):
    receiver.plan = [500]
    referral_id = refer(api, operator, walk_in, hooked)
    attempt = wait_until(
        "the worker's first attempt to record its outcome",
        lambda: (
            DeliveryAttempt.objects.filter(delivery__referral_id=referral_id)
            .exclude(outcome="in_flight")
            .first()
        ),
        timeout=30,
    )
    assert attempt.status_code == 500
    delivery = Delivery.objects.get(referral_id=referral_id)
    assert delivery.state == "pending" and delivery.next_attempt_at > timezone.now()
    assert notifications.due_deliveries_dispatch() == []

    # Its backoff has passed.
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert notifications.due_deliveries_dispatch() == [delivery.pk]
    wait_until(
        "the worker to deliver the retry",
        lambda: Delivery.objects.filter(pk=delivery.pk, state="delivered").exists(),
        timeout=30,
    )
    assert [r.status for r in receiver.requests] == [500, 200]
    for received in receiver.requests:
        assert_genuine(received, delivery)


@pytest.mark.parametrize("endpoint", ["closed_port", "always_503"])
def test_a_delivery_that_keeps_failing_fails_and_escalates_to_the_supervisors(
    api, operator, supervisor, walk_in, hooked, receiver, endpoint
):
    if endpoint == "closed_port":
        hooked.webhook_url = f"http://127.0.0.1:{free_port()}/lifeline/webhook"
        hooked.save()
    else:
        receiver.plan = [503] * 3
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)

    with override_settings(AGENCY_WEBHOOK_MAX_ATTEMPTS=3, AGENCY_WEBHOOK_RETRY_BASE_SECONDS=0):
        outcomes = [tasks.deliver_to_agency(delivery.pk) for _ in range(4)]
    assert outcomes == ["retry", "retry", "failed", "skipped"]

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    attempts = list(delivery.attempt_log.all())
    assert [a.number for a in attempts] == [1, 2, 3]
    if endpoint == "closed_port":
        assert all(a.status_code is None and a.error == "connection failed" for a in attempts)
        assert receiver.requests == []
    else:
        assert [(a.status_code, a.error) for a in attempts] == [(503, "HTTP 503")] * 3
        assert len(receiver.requests) == 3

    referral = Referral.objects.get(pk=referral_id)
    escalation = Escalation.objects.get(case_id=referral.case_id, kind="delivery_failed")
    assert escalation.referral_id == referral_id
    assert escalation.detail.startswith(f"referral.sent could not be delivered to {hooked.name}")
    entry = AuditEntry.objects.get(action="referral.delivery_failed")
    assert entry.case_id == referral.case_id and entry.actor is None
    assert entry.extra == {
        "referral_id": referral_id,
        "event": "referral.sent",
        "attempts": 3,
        "escalation_id": escalation.pk,
    }
    # A failed delivery is final: the sweep leaves it alone, the supervisors see why.
    assert notifications.due_deliveries_dispatch() == []
    [shown] = api(supervisor).get(f"/api/v1/referrals/{referral_id}/deliveries/").json()
    assert shown["state"] == "failed" and len(shown["attempt_log"]) == 3


def test_a_receiver_answering_after_the_timeout_is_a_failed_attempt_and_the_retry_is_a_repeat(
    api, operator, walk_in, hooked, receiver
):
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)
    receiver.delay = 30  # released when the test ends
    with override_settings(AGENCY_WEBHOOK_TIMEOUT_SECONDS=0.5):
        started = time.monotonic()
        assert tasks.deliver_to_agency(delivery.pk) == "retry"
        assert time.monotonic() - started < 10
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert attempt.error == "timeout"
    assert attempt.duration_ms >= 500
    # The agency did get it and stored it, but answered too late: Lifeline sends it again...
    assert len(receiver.requests) == 1 and receiver.requests[0].repeat is False

    receiver.delay = 0
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert tasks.deliver_to_agency(delivery.pk) == "delivered"
    # ...with the same delivery id, which the document's deduplication recognises.
    assert len(receiver.requests) == 2
    assert receiver.requests[1].repeat is True
    for received in receiver.requests:
        assert_genuine(received, delivery)


# --- cut off mid-attempt -------------------------------------------------------------------------


class WorkerStopped(BaseException):
    """What a worker stopped mid-call leaves behind, in the database's terms: the process goes away
    after the request went out and before its outcome was recorded (no exception handler runs)."""


def attempt_cut_off(delivery_pk: int) -> None:
    """One attempt whose worker stops once the agency has answered, before the answer is recorded."""
    real_post = notifications.endpoints.post

    def post(*args: Any, **kwargs: Any) -> Any:
        real_post(*args, **kwargs)
        raise WorkerStopped

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notifications.endpoints, "post", post)
        with pytest.raises(WorkerStopped):
            tasks.deliver_to_agency(delivery_pk)


def test_an_attempt_cut_off_mid_call_is_on_record_and_sent_again_after_its_lease(
    api, operator, agency_user, walk_in, hooked, receiver, swept
):
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)
    attempt_cut_off(delivery.pk)

    # The agency has the event; the attempt is on record, in flight, and the delivery is leased.
    assert len(receiver.requests) == 1 and receiver.requests[0].repeat is False
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.outcome, attempt.status_code, attempt.error) == (1, "in_flight", None, "")
    assert delivery.next_attempt_at == attempt.at + notifications.attempt_lease()
    [shown] = api(agency_user).get(f"/api/v1/referrals/{referral_id}/deliveries/").json()
    assert [(a["number"], a["outcome"]) for a in shown["attempt_log"]] == [(1, "in_flight")]
    assert notifications.due_deliveries_dispatch() == [], "not sent again while its lease lasts"
    assert tasks.deliver_to_agency(delivery.pk) == "skipped"  # a redelivered task message neither

    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=True):
        assert notifications.due_deliveries_dispatch() == [delivery.pk]
    assert swept == ["delivered"]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert list(delivery.attempt_log.values_list("number", "outcome", "status_code", "error")) == [
        (1, "interrupted", None, "No outcome recorded: the sender stopped mid-attempt."),
        (2, "delivered", 200, ""),
    ]
    # Sent again with the same delivery id: the agency's deduplication drops the repeat.
    assert [r.repeat for r in receiver.requests] == [False, True]
    for received in receiver.requests:
        assert_genuine(received, delivery)


def test_a_last_attempt_cut_off_fails_the_delivery_and_escalates(
    api, operator, supervisor, walk_in, hooked, receiver, swept
):
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)
    with override_settings(AGENCY_WEBHOOK_MAX_ATTEMPTS=1):
        attempt_cut_off(delivery.pk)
        delivery.refresh_from_db()
        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=True):
            assert notifications.due_deliveries_dispatch() == [delivery.pk]
    assert swept == ["failed"]
    assert len(receiver.requests) == 1, "no attempt past the limit"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert list(delivery.attempt_log.values_list("number", "outcome")) == [(1, "interrupted")]
    referral = Referral.objects.get(pk=referral_id)
    escalation = Escalation.objects.get(case_id=referral.case_id, kind="delivery_failed")
    assert escalation.detail.endswith("the last attempt was cut off")
    assert AuditEntry.objects.filter(action="referral.delivery_failed", case_id=referral.case_id).count() == 1
    assert notifications.due_deliveries_dispatch() == []


@pytest.mark.django_db(transaction=True)
def test_nothing_is_locked_while_the_agency_answers(api, operator, agency_user, walk_in, hooked, receiver):
    """The agency (or staff) can act on the referral while its notification is on the wire, and the
    attempt is already on record."""
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)
    seen_during: dict[str, Any] = {}

    def during() -> None:
        conn = db_connect(connection.settings_dict)
        try:
            with conn.cursor() as cursor:
                for table, pk in [
                    ("referrals_referral", referral_id),
                    ("referrals_delivery", delivery.pk),
                    ("referrals_agency", hooked.pk),
                ]:
                    cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])
                    seen_during[table] = cursor.fetchone()
                cursor.execute(
                    "SELECT number, outcome FROM referrals_deliveryattempt WHERE delivery_id = %s",
                    [delivery.pk],
                )
                seen_during["attempts"] = cursor.fetchall()
        finally:
            conn.close()

    receiver.during = during
    assert tasks.deliver_to_agency(delivery.pk) == "delivered"
    assert seen_during == {
        "referrals_referral": (1,),
        "referrals_delivery": (1,),
        "referrals_agency": (1,),
        "attempts": [(1, "in_flight")],
    }
    attempts = delivery.attempt_log.values_list("number", "outcome", "status_code")
    assert list(attempts) == [(1, "delivered", 200)]


def attempt_outliving_its_lease(receiver: Receiver, delivery: Delivery) -> list[str]:
    """While the agency holds the first request, its lease runs out and the sweep's next attempt
    runs (an endpoint slower than the timeout can bound, e.g. one trickling its answer). Returns
    the outcome of that next attempt."""
    outcomes: list[str] = []

    def next_attempt() -> None:
        receiver.during = None
        try:
            delivery.refresh_from_db()
            with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=True):
                outcomes.append(tasks.deliver_to_agency(delivery.pk))
        finally:
            connections.close_all()  # this thread's own connection

    receiver.during = next_attempt
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_attempts_that_overlap_each_record_their_own_outcome(api, operator, walk_in, hooked, receiver):
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)
    later = attempt_outliving_its_lease(receiver, delivery)
    assert tasks.deliver_to_agency(delivery.pk) == "skipped"  # the later one settled it meanwhile
    assert later == ["delivered"]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert list(delivery.attempt_log.values_list("number", "outcome", "status_code")) == [
        (1, "delivered", 200),  # its real outcome, recorded over "interrupted"
        (2, "delivered", 200),
    ]
    assert [r.repeat for r in receiver.requests] == [False, True]


@pytest.mark.django_db(transaction=True)
def test_a_late_answer_after_the_delivery_was_given_up_marks_it_delivered(
    api, operator, walk_in, hooked, receiver
):
    referral_id = refer(api, operator, walk_in, hooked)
    delivery = Delivery.objects.get(referral_id=referral_id)
    with override_settings(AGENCY_WEBHOOK_MAX_ATTEMPTS=1):
        given_up = attempt_outliving_its_lease(receiver, delivery)
        assert tasks.deliver_to_agency(delivery.pk) == "delivered"
    assert given_up == ["failed"]  # its only attempt looked cut off, and no other was allowed
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 1)
    assert list(delivery.attempt_log.values_list("number", "outcome", "status_code")) == [
        (1, "delivered", 200)
    ]
    referral = Referral.objects.get(pk=referral_id)
    # The supervisors were alerted when it was given up; the audit log shows it got through after.
    assert Escalation.objects.filter(case_id=referral.case_id, kind="delivery_failed").count() == 1
    actions = list(
        AuditEntry.objects.filter(action__startswith="referral.deliver", case_id=referral.case_id)
        .order_by("id")
        .values_list("action", "extra")
    )
    assert actions == [
        ("referral.delivery_failed", {**actions[0][1], "attempts": 1}),
        ("referral.delivered_late", {"referral_id": referral_id, "event": "referral.sent", "attempt": 1}),
    ]


# --- which events --------------------------------------------------------------------------------


def test_every_referral_event_queues_one_delivery_with_its_event_name(
    api, operator, agency_user, walk_in, hooked, receiver
):
    staff, agency = api(operator), api(agency_user)

    completed = refer(api, operator, walk_in, hooked)
    update = staff.post(
        f"/api/v1/referrals/{completed}/updates/", {"body": "The child moved to her aunt's."}, format="json"
    )
    assert update.status_code == 201, update.json()
    assert agency.post(f"/api/v1/referrals/{completed}/accept/").status_code == 200
    progress = agency.post(f"/api/v1/referrals/{completed}/updates/", {"body": "Visited."}, format="json")
    assert progress.status_code == 201, "the agency's own update is not echoed back to it"
    done = agency.post(f"/api/v1/referrals/{completed}/complete/", {"outcome": "child_safe"}, format="json")
    assert done.status_code == 200, done.json()

    rejected = refer(api, operator, walk_in, hooked)
    reject = {"reason": "Outside our district"}
    assert agency.post(f"/api/v1/referrals/{rejected}/reject/", reject, format="json").status_code == 200

    withdrawn = refer(api, operator, walk_in, hooked)
    withdraw = {"reason": "The family moved abroad"}
    assert staff.post(f"/api/v1/referrals/{withdrawn}/withdraw/", withdraw, format="json").status_code == 200

    expired = refer(api, operator, walk_in, hooked)
    assert services.expire_unanswered_referrals(now=timezone.now() + timedelta(days=30)) == 1

    def events(referral_id: int) -> list[tuple[str, dict]]:
        return [
            (d.event, json.loads(d.body)["data"])
            for d in Delivery.objects.filter(referral_id=referral_id).order_by("created_at", "id")
        ]

    packet = Referral.objects.get(pk=completed).packet
    assert events(completed) == [
        ("referral.sent", {"state": "sent", "packet": packet}),
        (
            "referral.update",
            {
                "update_id": update.json()["id"],
                "body": "The child moved to her aunt's.",
                "at": ReferralUpdate.objects.get(pk=update.json()["id"]).created_at.isoformat(),
            },
        ),
        ("referral.accepted", {"state": "accepted"}),
        ("referral.completed", {"state": "completed", "outcome": "child_safe"}),
    ]
    assert [e for e, _ in events(rejected)] == ["referral.sent", "referral.rejected"]
    assert events(rejected)[1][1] == {"state": "rejected", "rejection_reason": "Outside our district"}
    assert [e for e, _ in events(withdrawn)] == ["referral.sent", "referral.withdrawn"]
    assert events(withdrawn)[1][1] == {"state": "withdrawn", "withdrawal_reason": "The family moved abroad"}
    assert events(expired) == [
        ("referral.sent", {"state": "sent", "packet": Referral.objects.get(pk=expired).packet}),
        ("referral.expired", {"state": "expired"}),
    ]

    # Every kind of event reaches the agency and verifies as the document says.
    pending = list(Delivery.objects.order_by("created_at", "id"))
    assert len(pending) == 10
    assert [tasks.deliver_to_agency(d.pk) for d in pending] == ["delivered"] * 10
    assert len(receiver.requests) == 10
    for received, delivery in zip(receiver.requests, pending, strict=True):
        assert_genuine(received, delivery)


def test_an_agency_without_a_webhook_url_gets_no_deliveries(api, operator, agency_user, walk_in):
    agency = agency_user.agency_membership.agency
    assert agency.webhook_url == ""
    staff, agency_api = api(operator), api(agency_user)
    referral_id = refer(api, operator, walk_in, agency)
    staff.post(f"/api/v1/referrals/{referral_id}/updates/", {"body": "New safe contact."}, format="json")
    assert agency_api.post(f"/api/v1/referrals/{referral_id}/accept/").status_code == 200
    complete = {"outcome": "service_provided"}
    assert (
        agency_api.post(f"/api/v1/referrals/{referral_id}/complete/", complete, format="json").status_code
        == 200
    )
    assert not Delivery.objects.exists()
    assert agency_api.get(f"/api/v1/referrals/{referral_id}/deliveries/").json() == []


# --- the document's verification code ------------------------------------------------------------


def signed(body: bytes, timestamp: int, secret: str = SECRET, delivery_id: str = "d-1") -> dict[str, str]:
    """Headers as Lifeline's own signer makes them."""
    return {
        "X-Lifeline-Timestamp": str(timestamp),
        "X-Lifeline-Signature": notifications.signature(secret, str(timestamp), body),
        "X-Lifeline-Delivery": delivery_id,
        "X-Lifeline-Event": "referral.sent",
    }


def test_the_documented_verification_accepts_lifelines_signature_and_refuses_forgeries():
    doc = doc_verifier()
    body = b'{"data":{"state":"sent"},"delivery_id":"d-1","event":"referral.sent","referral_id":7}'
    now = 1_800_000_000

    assert doc.verify_webhook(SECRET, signed(body, now), body, now=now)["referral_id"] == 7
    assert doc.verify_webhook(SECRET, signed(body, now - 299), body, now=now)["event"] == "referral.sent"

    tampered = body.replace(b'"referral_id":7', b'"referral_id":8')
    forgeries = {
        "tampered body": (SECRET, signed(body, now), tampered),
        "re-serialised body": (SECRET, signed(body, now), body.replace(b",", b", ")),
        "wrong secret": ("another-agency-secret-123", signed(body, now), body),
        "old timestamp": (SECRET, signed(body, now - 301), body),
        "future timestamp": (SECRET, signed(body, now + 301), body),
        "timestamp swapped": (SECRET, {**signed(body, now - 400), "X-Lifeline-Timestamp": str(now)}, body),
        "no signature": (SECRET, {"X-Lifeline-Timestamp": str(now), "X-Lifeline-Delivery": "d-1"}, body),
        "no timestamp": (SECRET, {k: v for k, v in signed(body, now).items() if "Timestamp" not in k}, body),
        "delivery id not the signed one": (SECRET, signed(body, now, delivery_id="d-2"), body),
        "bare hex signature": (
            SECRET,
            {**signed(body, now), "X-Lifeline-Signature": signed(body, now)["X-Lifeline-Signature"][7:]},
            body,
        ),
    }
    for name, (secret, headers, sent) in forgeries.items():
        with pytest.raises(doc.InvalidWebhook):
            doc.verify_webhook(secret, headers, sent, now=now)
            pytest.fail(f"{name} was accepted")


def test_the_documented_deduplication_drops_a_repeated_delivery_id():
    doc = doc_verifier()
    assert doc.first_delivery("1f0c3a52-2d9e-4a7b-9a43-6f7f0f5b1c2e") is True
    assert doc.first_delivery("1f0c3a52-2d9e-4a7b-9a43-6f7f0f5b1c2e") is False
    assert doc.first_delivery("7a9d0e11-0000-4000-8000-000000000000") is True


def test_every_python_example_in_the_document_compiles():
    blocks = doc_python_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        compile(block, str(DOC), "exec")


def test_an_agency_with_a_webhook_url_always_has_a_signing_secret(api, admin_user, hooked):
    client = api(admin_user)
    cleared = client.patch(f"/api/v1/agencies/{hooked.pk}/", {"webhook_secret": ""}, format="json")
    assert cleared.status_code == 400, "webhooks signed with an empty key could be forged by anyone"
    assert cleared.json()["errors"][0]["attr"] == "webhook_secret"
    hooked.refresh_from_db()
    assert hooked.webhook_secret == SECRET
    both = client.patch(
        f"/api/v1/agencies/{hooked.pk}/", {"webhook_url": "", "webhook_secret": ""}, format="json"
    )
    assert both.status_code == 200, both.json()
    assert both.json()["webhook_url"] == "" and both.json()["has_webhook_secret"] is False
    rotated = client.patch(
        f"/api/v1/agencies/{hooked.pk}/",
        {"webhook_url": "https://police.example.org/lifeline", "webhook_secret": "a-new-secret-of-20-chars"},
        format="json",
    )
    assert rotated.status_code == 200, rotated.json()
