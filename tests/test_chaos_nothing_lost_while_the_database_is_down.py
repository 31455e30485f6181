"""Nothing lost while PostgreSQL is down (issue #14, "Done when"), with real processes: gunicorn
with two workers, a Celery worker and beat, an own Redis, and an own PostgreSQL the test stops and
starts again (tests.processes.PostgresServer; never the machine's shared server). A fake Twilio
posts signed SMS webhooks from 20 senders, each sender's one after another, as Twilio does:

- by default with one try: no retry on a 5xx nor on a missing answer (Twilio's default for a
  messaging webhook). While the database is away, each webhook goes to this node's durable spool
  (channels_sms.spool) and is answered as if stored; once the database is back the spool drains.
  Every message answered is stored once and threaded once, in each sender's order, keeping the
  time it arrived, with a verifying audit chain: also with a web worker SIGKILLed in the middle of
  a spool write; a full spool answers 503 and says so in the log, never a silent drop;
- with the connection overrides `manage.py twilio_webhooks` sets (`#rc=3&rp=ct,rt,5xx&ct=2000&
  rt=5000&tt=12000`): a 5xx, a refused or cut connection and a read timeout are retried within
  12 s; with the spool refusing for a while and a worker killed, nothing is stored twice.

Results are read with plain SQL, the audit chain with `manage.py verify_audit` in a subprocess.
Printed (`-s`): the figures the issue asks for, webhook latency while spooling against before the
outage and the drain rate against normal ingest, as ratios in the same run. CHAOS_LONG=1 (`make
chaos`): more messages, a longer outage, more kills."""

from __future__ import annotations

import http.client
import json
import math
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels_sms.spool import TEMPORARY_PREFIX
from tests.processes import (
    CHAOS_LONG,
    CeleryBeat,
    CeleryWorker,
    Gunicorn,
    PostgresServer,
    Process,
    Stack,
    free_port,
    http_request,
    wait_until,
)
from tests.test_chaos_database_restart import SERVICE_UNAVAILABLE, manage, seed
from tests.test_inbound_survives_worker_and_broker_failures import SMS_PATH, TWILIO_DEADLINE
from tests.twilio_signing import sms_params, twilio_signature

SENDERS = [f"+2547300{i:05d}" for i in range(20)]
LANES = 4  # concurrent clients of the fake Twilio; each sender's messages go through one of them
TEMPLATE = "lifeline_seeded"

# --- the fake Twilio ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    sid: str
    sender: str
    body: str
    round: int


def rounds(first: int, last: int) -> list[Message]:
    """Rounds `first`..`last - 1`: one message of each sender a round; a sender's order is its
    rounds' order."""
    return [
        Message(f"SM{number:016d}{index:016d}", sender, f"message {number} of sender {index}", number)
        for number in range(first, last)
        for index, sender in enumerate(SENDERS)
    ]


@dataclass(frozen=True)
class Attempt:
    at: datetime  # when it was sent (the wall clock, as the server's received_at)
    seconds: float
    status: int | None  # None: no answer (connection refused or cut, or a timeout)
    content_type: str = ""
    body: bytes = b""
    problem: str = ""

    @property
    def ended(self) -> float:
        return self.at.timestamp() + self.seconds


@dataclass
class Delivery:
    message: Message
    phase: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        """Answered 200 at some try: Twilio takes the message as delivered."""
        return any(attempt.status == 200 for attempt in self.attempts)

    @property
    def unanswered(self) -> bool:
        return all(attempt.status is None for attempt in self.attempts)


@dataclass(frozen=True)
class Overrides:
    """Twilio's connection overrides on a webhook URL, `#rc=3&rp=ct,rt,5xx&ct=2000&rt=5000&tt=12000`:
    up to `retries` retries of a refused or timed-out connection, a cut or timed-out read and a
    5xx, each connection given `connect` and each answer `read` seconds, all within `total`."""

    retries: int = 3
    connect: float = 2.0
    read: float = 5.0
    total: float = 12.0
    pause: float = 1.0  # before the first retry, doubling after


class FakeTwilio:
    """Posts SMS webhooks signed as Twilio signs them. Without overrides, as Twilio by default:
    one try, the answer awaited TWILIO_DEADLINE seconds, no retry whatever the outcome."""

    def __init__(self, base_url: str, overrides: Overrides | None = None):
        self.base_url = base_url
        self.overrides = overrides
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port

    def _try(self, message: Message, *, connect: float, read: float) -> Attempt:
        params = sms_params(message.sid, message.sender, message.body)
        body = urllib.parse.urlencode(params).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(SMS_PATH, params, base=self.base_url),
        }
        at, started = datetime.now(UTC), time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=connect)
        try:
            conn.connect()
            conn.sock.settimeout(read)
            conn.request("POST", SMS_PATH, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return Attempt(at, time.monotonic() - started, None, problem=type(exc).__name__)
        finally:
            conn.close()
        return Attempt(
            at, time.monotonic() - started, response.status, response.getheader("Content-Type", ""), data
        )

    def deliver(self, message: Message, phase: str) -> Delivery:
        delivery = Delivery(message, phase)
        if self.overrides is None:
            delivery.attempts.append(self._try(message, connect=TWILIO_DEADLINE, read=TWILIO_DEADLINE))
            return delivery
        rules, started = self.overrides, time.monotonic()
        while True:
            left = rules.total - (time.monotonic() - started)
            attempt = self._try(message, connect=min(rules.connect, left), read=min(rules.read, left))
            delivery.attempts.append(attempt)
            if attempt.status is not None and attempt.status < 500:
                return delivery
            pause = rules.pause * 2 ** (len(delivery.attempts) - 1)
            if len(delivery.attempts) > rules.retries or time.monotonic() - started + pause >= rules.total:
                return delivery
            time.sleep(pause)


class Traffic:
    """Messages posted by LANES concurrent clients, a sender's messages all on one, in order (the
    next once the previous one is answered or given up); `stop()` ends it before the last."""

    def __init__(self, twilio: FakeTwilio, messages: list[Message], phase: str):
        self.stopping = threading.Event()
        self.lanes: list[list[Message]] = [[] for _ in range(LANES)]
        for message in messages:
            self.lanes[SENDERS.index(message.sender) % LANES].append(message)
        self.twilio, self.phase = twilio, phase
        self.deliveries: list[list[Delivery]] = [[] for _ in range(LANES)]
        self.threads = [
            threading.Thread(target=self._run, args=(lane,), name=f"twilio-{phase}-{lane}", daemon=True)
            for lane in range(LANES)
        ]

    def _run(self, lane: int) -> None:
        for message in self.lanes[lane]:
            if self.stopping.is_set():
                return
            self.deliveries[lane].append(self.twilio.deliver(message, self.phase))

    def start(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> list[Delivery]:
        self.stopping.set()
        return self.wait()

    @property
    def sent(self) -> int:
        return sum(len(lane) for lane in self.deliveries)

    @property
    def done(self) -> bool:
        return not any(thread.is_alive() for thread in self.threads)

    def wait(self, timeout: float = 120) -> list[Delivery]:
        for thread in self.threads:
            thread.join(timeout)
        assert self.done, f"the fake Twilio's {self.phase} traffic did not finish"
        return [delivery for lane in self.deliveries for delivery in lane]


def send(twilio: FakeTwilio, messages: list[Message], phase: str) -> list[Delivery]:
    return Traffic(twilio, messages, phase).start().wait()


# --- figures -----------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latencies(deliveries: list[Delivery]) -> tuple[float, float]:
    """p50 and p99 of the first try's answer time, in ms."""
    seconds = [d.attempts[0].seconds * 1000 for d in deliveries if d.attempts[0].status is not None]
    return percentile(seconds, 0.50), percentile(seconds, 0.99)


def ingest_rate(deliveries: list[Delivery]) -> float:
    """Messages a second, from the first sent to the last answered."""
    first = min(d.attempts[0].at.timestamp() for d in deliveries)
    last = max(d.attempts[-1].ended for d in deliveries)
    return len(deliveries) / (last - first)


@dataclass
class Drained:
    """What the drainers logged ("Spool drained: ..." lines)."""

    stored: int = 0
    stored_before: int = 0  # entries whose MessageSid was in the database already
    seconds: float = 0.0


def drained_in_logs(*logs: Path) -> Drained:
    drained = Drained()
    pattern = re.compile(r"Spool drained: (\d+) stored, (\d+) stored before, .* in ([\d.]+)s")
    for log in logs:
        for match in pattern.finditer(log.read_text(errors="replace")):
            drained.stored += int(match.group(1))
            drained.stored_before += int(match.group(2))
            drained.seconds += float(match.group(3))
    return drained


def kill_mid_write(node: Node) -> tuple[int, dict[str, bytes]]:
    """SIGKILLs a web worker stopped while a spool file of its own is under its temporary name
    (written, or being written, not yet renamed into place); returns its pid and its files as the
    kill left them."""

    def writing(pid: int) -> list[Path]:
        return sorted(node.spool.glob(f"{TEMPORARY_PREFIX}*-{pid}-*.spool"))

    pid = node.web.kill_worker_caught(lambda pid: bool(writing(pid)), timeout=60)
    return pid, {path.name: path.read_bytes() for path in writing(pid)}


def whole(data: bytes) -> bool:
    """A whole spool file: its header line and its encrypted line, as spool.append writes them."""
    return data.count(b"\n") == 2 and b"\n\n" not in data


# --- the node ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One own PostgreSQL for the module, with a migrated and seeded database (a helpline, its SMS
    number, an operator) each test copies: migrating once saves each test its ~10 s."""
    directory = tmp_path_factory.mktemp("nothing-lost")
    server = PostgresServer(port=free_port(), log_path=directory / "postgresql.log")
    try:
        server.start()
        seeding = Stack(
            settings_dict=server.create_database(TEMPLATE),
            directory=directory / "seed",
            settings_module="config.settings.base",
        )
        try:
            seeding.redis()
            seed(seeding)
        finally:
            seeding.close()
        yield server
    finally:
        server.close()


@dataclass
class Node:
    """One web node on the own PostgreSQL: gunicorn (two workers, each with its spool drainer), a
    Celery worker and beat, sharing the node's spool directory."""

    postgres: PostgresServer
    database: str
    stack: Stack
    web: Gunicorn
    worker: CeleryWorker
    beat: CeleryBeat

    @property
    def spool(self) -> Path:
        return self.stack.directory / "spool"

    def two_workers(self) -> None:
        """Until the master has forked both workers (at the start, and after a kill)."""
        wait_until(
            "gunicorn's two workers", lambda: len(self.web.worker_pids()) == 2, timeout=30, interval=0.05
        )

    def alive(self) -> None:
        self.web.check_alive()
        self.worker.check_alive()
        self.beat.check_alive()

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        conn = self.postgres.connect(self.database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params or [])
                return cursor.fetchall()
        finally:
            conn.close()

    def readiness(self) -> tuple[int, dict]:
        ready = http_request(self.web.url, "/readyz")
        return ready.status, json.loads(ready.body)

    def stored(self, sids: list[str]) -> int:
        return self.query(
            "SELECT count(DISTINCT external_id) FROM channels_sms_inboundevent WHERE external_id = ANY(%s)",
            [sids],
        )[0][0]

    def threaded(self, sids: list[str]) -> int:
        return self.query(
            "SELECT count(DISTINCT external_id) FROM channels_sms_message "
            "WHERE direction = 'inbound' AND external_id = ANY(%s)",
            [sids],
        )[0][0]

    def log(self, process: Process) -> str:
        return process.log_path.read_text(errors="replace")


@pytest.fixture
def start_node(own_postgres: PostgresServer, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """Starts a node on a copy of the seeded database, with production's connection settings
    (CONN_MAX_AGE) and `env` on top."""
    stacks: list[Stack] = []

    def start(**env: str) -> Node:
        database = f"lifeline_{uuid.uuid4().hex[:10]}"
        stack = Stack(
            settings_dict=own_postgres.create_database(database, template=TEMPLATE),
            directory=tmp_path / "processes",
            settings_module="config.settings.base",
            # Every message from the spool raises its case (in production: those 120 s late or more;
            # this outage's messages are 0.5 to 30 s late).
            extra_env={"CONN_MAX_AGE": "60", "STORED_LATE_AFTER_SECONDS": "0", **env},
        )
        stacks.append(stack)
        stack.redis()
        web = stack.gunicorn(workers=2, wait=False)
        worker, beat = stack.worker(wait=False), stack.beat(wait=False)
        for process in (web, worker, beat):
            process.wait_ready()
        node = Node(own_postgres, database, stack, web, worker, beat)
        node.two_workers()
        return node

    try:
        yield start
    finally:
        if not own_postgres.running:  # a failure mid-outage: bring it back to see our sessions end
            own_postgres.start()
        for stack in stacks:
            stack.close()


# --- what every test checks afterwards --------------------------------------------------------------


@dataclass
class Outcome:
    posted: int
    answered: int
    unanswered: list[str]
    stored: int
    threaded: int
    spooled: int
    lost: int  # answered 200 and not stored
    duplicated: int


def assert_stored_once_in_order(node: Node, deliveries: list[Delivery]) -> Outcome:
    """Every message answered 200 is stored once and threaded once, and nothing is stored twice:
    a message that was never answered (its worker killed) may be stored, once, or not at all.
    Each sender's conversation reads in the order they sent it; each stored message kept the time
    it arrived (within one of its tries, however late it reached the database); each has its audit
    entry (marked when it came through the spool); every case with a spooled message is raised
    once as stored late; and the audit chain verifies."""
    by_sid = {d.message.sid: d for d in deliveries}
    assert len(by_sid) == len(deliveries)
    sids = list(by_sid)
    events = node.query(
        "SELECT external_id, spooled, received_at FROM channels_sms_inboundevent "
        "WHERE kind = 'message' ORDER BY id"
    )
    messages = node.query(
        "SELECT external_id, sender_hash, case_id FROM channels_sms_message "
        "WHERE direction = 'inbound' ORDER BY at, id"
    )
    event_counts = Counter(sid for sid, _, _ in events)
    message_counts = Counter(sid for sid, _, _ in messages)
    assert set(event_counts) <= set(sids) and set(message_counts) <= set(sids)
    answered = [sid for sid in sids if by_sid[sid].answered]
    outcome = Outcome(
        posted=len(sids),
        answered=len(answered),
        unanswered=[sid for sid in sids if by_sid[sid].unanswered],
        stored=len(event_counts),
        threaded=len(message_counts),
        spooled=sum(1 for _, spooled, _ in events if spooled),
        lost=sum(1 for sid in answered if event_counts[sid] == 0),
        duplicated=sum(n - 1 for n in event_counts.values() if n > 1)
        + sum(n - 1 for n in message_counts.values() if n > 1),
    )
    assert (outcome.lost, outcome.duplicated) == (0, 0), outcome
    assert set(event_counts.values()) == {1} and set(message_counts.values()) == {1}
    assert set(message_counts) == set(event_counts)
    # Stored without an answer: only a request whose worker was killed after writing it whole.
    assert set(event_counts) - set(answered) <= set(outcome.unanswered)

    # Each sender's messages read in the order sent (the conversation's order is `at`, the time
    # each arrived, whether it was stored at once or drained from the spool).
    conversations: dict[str, list[str]] = defaultdict(list)
    for sid, hashed, _case in messages:
        conversations[hashed].append(sid)
    sent_order = {
        sender: [
            d.message.sid
            for d in deliveries
            if d.message.sender == sender and d.message.sid in message_counts
        ]
        for sender in SENDERS
    }
    assert len(conversations) == len(SENDERS)
    for conversation in conversations.values():
        (sender,) = {by_sid[sid].message.sender for sid in conversation}
        assert conversation == sent_order[sender], sender
    assert len({case for _, _, case in messages}) == len(SENDERS)

    # The time each arrived: within one of its tries, not when the drain stored it.
    for sid, _spooled, received_at in events:
        tries = by_sid[sid].attempts
        assert any(t.at <= received_at and received_at.timestamp() <= t.ended for t in tries), (
            sid,
            received_at,
            tries,
        )

    audited = dict(
        node.query(
            "SELECT action, count(*) FROM helpline_auditentry "
            "WHERE action IN ('inbound.receive', 'message.receive') GROUP BY 1"
        )
    )
    assert audited == {"inbound.receive": outcome.stored, "message.receive": outcome.threaded}
    marked = node.query(
        "SELECT count(*) FROM helpline_auditentry WHERE action = 'inbound.receive' AND extra @> %s::jsonb",
        [json.dumps({"spooled": True})],
    )
    assert marked == [(outcome.spooled,)]
    late_cases = node.query(
        "SELECT count(DISTINCT m.case_id) FROM channels_sms_message m "
        "JOIN channels_sms_inboundevent e ON e.id = m.event_id WHERE e.spooled"
    )[0][0]
    raised = node.query(
        "SELECT count(*), count(DISTINCT case_id) FROM cases_escalation WHERE kind = 'stored_late'"
    )
    assert raised == [(late_cases, late_cases)]
    assert node.query("SELECT count(*) FROM channels_sms_inboundevent WHERE processed_at IS NULL") == [(0,)]
    verified = manage(node.stack, "manage.py", "verify_audit")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
    return outcome


def assert_twiml(attempt: Attempt) -> None:
    assert attempt.status == 200, (attempt.status, attempt.problem, attempt.body[:300])
    assert attempt.content_type.startswith("text/xml") and b"<Response" in attempt.body


def spool_files(node: Node, pattern: str = "*.spool") -> list[str]:
    return sorted(path.name for path in node.spool.glob(pattern))


def wait_drained(node: Node, deliveries: list[Delivery], timeout: float = 90) -> None:
    """Until everything the spool holds is stored, threaded, and /readyz says ok again."""
    sids = [d.message.sid for d in deliveries]
    expected = sum(1 for d in deliveries if d.answered)
    wait_until(
        "the answered messages to be stored and threaded",
        lambda: node.stored(sids) >= expected and node.threaded(sids) >= node.stored(sids),
        timeout=timeout,
        interval=0.3,
        check=node.alive,
    )
    wait_until(
        "the spool to be empty and /readyz ok",
        lambda: (
            not spool_files(node, "*.spool")
            and not spool_files(node, ".incoming-*")
            and node.readiness()[1]["status"] == "ok"
        ),
        timeout=timeout,
        interval=0.3,
        check=node.alive,
    )
    wait_until(
        "every stored message to be threaded",
        lambda: node.threaded(sids) == node.stored(sids),
        timeout=timeout,
        interval=0.3,
        check=node.alive,
    )


# --- the tests ---------------------------------------------------------------------------------------


def test_200_webhooks_from_20_senders_across_a_30s_outage_are_stored_once_in_order_at_their_arrival_time(
    start_node,
):
    """Twilio's default (one try): everything answered 200, during the outage from the spool, and
    everything stored once, in order, with the time it arrived although the clock moved on by the
    outage's length before the drain stored it."""
    node = start_node()
    twilio = FakeTwilio(node.web.url)
    # Rounds of 20 messages (one per sender): before, during and after the outage.
    before_rounds, outage_rounds, after_rounds = (15, 20, 15) if CHAOS_LONG else (3, 4, 3)
    outage_seconds = 60.0 if CHAOS_LONG else 30.0
    bursts = 4 if CHAOS_LONG else 2

    before = send(twilio, rounds(0, before_rounds), "before")
    assert all(d.attempts[0].status == 200 for d in before)
    assert node.stored([d.message.sid for d in before]) == len(before)

    node.postgres.stop()
    stopped = time.monotonic()
    outage: list[Delivery] = []
    per_burst = outage_rounds // bursts
    for burst in range(bursts):
        # Bursts spread over the outage: the clock moves on between them and the drain.
        time.sleep(max(0.0, stopped + burst * outage_seconds / bursts - time.monotonic()))
        first = before_rounds + burst * per_burst
        outage += send(twilio, rounds(first, first + per_burst), "outage")
        status, ready = node.readiness()
        assert (status, ready["checks"]["database"][:5]) == (200, "error"), ready
        assert ready["status"].startswith("degraded: spooling"), ready
    for delivery in outage:
        assert_twiml(delivery.attempts[0])
    # Each web process counts the spool again within SPOOL_COUNT_SECONDS.
    wait_until(
        f"/readyz to say it spools {len(outage)}",
        lambda: node.readiness()[1]["status"] == f"degraded: spooling {len(outage)}",
        timeout=10,
        interval=0.2,
    )
    assert len(spool_files(node)) == len(outage)
    time.sleep(max(0.0, stopped + outage_seconds - time.monotonic()))

    restarted_at = datetime.now(UTC)  # nothing can be stored before this
    node.postgres.start()
    restarted = time.monotonic()  # it takes connections: the drain rate's start
    # Messages keep coming while the spool drains: they queue behind it, each sender's in order.
    last = before_rounds + outage_rounds
    after = Traffic(twilio, rounds(last, last + after_rounds), "after").start()
    outage_sids = [d.message.sid for d in outage]
    wait_until(
        "the spooled messages to be stored",
        lambda: node.stored(outage_sids) == len(outage_sids),
        timeout=90,
        interval=0.05,
        check=node.alive,
    )
    drain_seconds = time.monotonic() - restarted
    afterwards = after.wait()
    deliveries = before + outage + afterwards
    assert all(d.attempts[0].status == 200 for d in deliveries)
    wait_drained(node, deliveries)
    node.stack.close()

    outcome = assert_stored_once_in_order(node, deliveries)
    assert (outcome.stored, outcome.threaded, outcome.unanswered) == (len(deliveries), len(deliveries), [])
    # What arrived during the outage came through the spool and kept the time it arrived: seconds
    # before the drain stored it, once the database was back.
    spooled = node.query(
        "SELECT external_id, received_at, dispatched_at FROM channels_sms_inboundevent "
        "WHERE spooled AND external_id = ANY(%s)",
        [outage_sids],
    )
    assert len(spooled) == len(outage)
    assert all(received < restarted_at <= stored for _, received, stored in spooled)
    waited = [(stored - received).total_seconds() for _, received, stored in spooled]

    # Each web worker's first requests load what it keeps for later (the numbers, connections).
    normal_p50, normal_p99 = latencies([d for d in before if d.message.round > 0])
    spooling_p50, spooling_p99 = latencies(outage)
    normal_rate = ingest_rate([d for d in before if d.message.round > 0])
    drain_rate = len(outage) / drain_seconds
    drained = drained_in_logs(node.web.log_path, node.worker.log_path)
    logged, logged_seconds = drained.stored, drained.seconds
    print(
        f"\nnothing lost, Twilio's default (one try), {len(SENDERS)} senders, PostgreSQL down "
        f"{outage_seconds:.0f}s: posted {outcome.posted} ({len(before)} before, {len(outage)} during, "
        f"{len(afterwards)} after the outage), answered 200 "
        f"{outcome.answered}, stored {outcome.stored} ({outcome.spooled} through the spool), threaded "
        f"{outcome.threaded}, lost {outcome.lost}, duplicated {outcome.duplicated}, order kept for "
        f"{len(SENDERS)}/{len(SENDERS)} senders, audit chain intact\n"
        f"  webhook latency p50/p99: before the outage {normal_p50:.1f}/{normal_p99:.1f} ms, while "
        f"spooling {spooling_p50:.1f}/{spooling_p99:.1f} ms (x{spooling_p50 / normal_p50:.2f}/"
        f"x{spooling_p99 / normal_p99:.2f})\n"
        f"  normal ingest {normal_rate:.0f} msg/s ({LANES} concurrent clients, 2 web workers); drain "
        f"{drain_rate:.0f} msg/s from PostgreSQL back to all {len(outage)} stored in {drain_seconds:.1f}s "
        f"(x{drain_rate / normal_rate:.2f}), with new messages arriving meanwhile; the drainers' own "
        f"time: {logged} stored in {logged_seconds:.2f}s ({logged / max(logged_seconds, 1e-9):.0f} msg/s, "
        f"x{logged / max(logged_seconds, 1e-9) / normal_rate:.2f})\n"
        f"  spooled messages kept the time they arrived, {min(waited):.1f}-{max(waited):.1f}s before "
        "they were stored"
    )


def test_a_web_worker_killed_while_writing_to_the_spool_loses_no_answered_message(start_node):
    """Twilio's default (one try). A web worker is SIGKILLed in the middle of a spool write (stopped
    while a file of its own is under its temporary name, and killed there): the one request it
    served gets no answer, and Twilio does not retry it. Every message answered is stored once;
    the cut one is stored if its file was whole (the drain takes it once
    SPOOL_TEMPORARY_GRACE_SECONDS passed: it may have been written, not answered) or held aside
    if torn, never half; no temporary file is left behind."""
    kills = 3 if CHAOS_LONG else 1
    node = start_node(SPOOL_TEMPORARY_GRACE_SECONDS="3")
    twilio = FakeTwilio(node.web.url)
    before = send(twilio, rounds(0, 2), "before")

    node.postgres.stop()
    # More than it takes: stopped once the kills are done.
    outage = Traffic(twilio, rounds(2, 302), "outage").start()
    caught: dict[str, bytes] = {}  # the killed workers' files, as each kill left them
    catching = time.monotonic()
    for _ in range(kills):
        node.two_workers()
        caught.update(kill_mid_write(node)[1])
        assert not outage.done, "the traffic ended before a worker was caught writing"
    catching = time.monotonic() - catching
    # The master forks a replacement, which takes (and spools) requests too.
    node.two_workers()
    sent = outage.sent
    wait_until("more messages after the kill", lambda: outage.sent >= sent + 40, timeout=30, check=node.alive)
    during = outage.stop()
    assert len(caught) == kills
    complete = {name for name, data in caught.items() if whole(data)}

    node.postgres.start()
    after = send(twilio, rounds(302, 304), "after")
    deliveries = before + during + after
    wait_drained(node, deliveries)
    node.stack.close()

    outcome = assert_stored_once_in_order(node, deliveries)
    # Each kill cut the one request its worker served; everything else was answered 200.
    assert len(outcome.unanswered) == kills
    assert all(d.answered or d.unanswered for d in deliveries)
    stored_unanswered = node.stored(outcome.unanswered)
    # A whole file was drained (after the grace period), a torn one held aside: nothing left over.
    assert stored_unanswered == len(complete)
    held = sorted(path.name for path in (node.spool / "held").glob("*.spool"))
    assert held == sorted(name.removeprefix(TEMPORARY_PREFIX) for name in set(caught) - complete)
    assert spool_files(node, ".incoming-*") == [] and spool_files(node) == []
    print(
        f"\nnothing lost, a web worker SIGKILLed mid spool write x{kills} (caught in {catching:.1f}s): "
        f"posted {outcome.posted} ({len(during)} during the outage), answered 200 {outcome.answered}, "
        f"unanswered {len(outcome.unanswered)} (its file whole and stored after the grace period: "
        f"{stored_unanswered}; torn and held aside: {len(held)}), stored {outcome.stored} "
        f"({outcome.spooled} through the spool), threaded {outcome.threaded}, lost {outcome.lost}, "
        f"duplicated {outcome.duplicated}, no temporary file left, audit chain intact"
    )


def test_with_twilio_retrying_a_5xx_or_a_cut_connection_nothing_is_stored_twice(start_node):
    """Connection overrides (retries on a 5xx, a cut or refused connection and a read timeout,
    within 12 s). The spool refuses for a while (SPOOL_MAX_MESSAGES), so 503s are answered during
    the outage and retried, some reaching the database once it is back; a worker is killed in the
    middle of a spool write, so a request already on disk is sent again. Nothing stored twice."""
    node = start_node(SPOOL_MAX_MESSAGES="60", SPOOL_COUNT_SECONDS="0.2", SPOOL_TEMPORARY_GRACE_SECONDS="3")
    twilio = FakeTwilio(node.web.url, Overrides())
    outage_rounds = 20 if CHAOS_LONG else 8
    before = send(twilio, rounds(0, 2), "before")

    node.postgres.stop()
    outage = Traffic(twilio, rounds(2, 2 + outage_rounds), "outage").start()
    killed, caught = kill_mid_write(node)
    wait_until(
        "the spool to refuse", lambda: "SPOOL FULL" in node.log(node.web), timeout=30, check=node.alive
    )
    restarted_at = datetime.now(UTC)
    node.postgres.start()
    during = outage.wait()
    after = send(twilio, rounds(2 + outage_rounds, 4 + outage_rounds), "after")
    deliveries = before + during + after
    wait_drained(node, deliveries)
    node.stack.close()

    outcome = assert_stored_once_in_order(node, deliveries)
    tries = Counter(len(d.attempts) for d in deliveries)
    refused = [d for d in deliveries if any(a.status == 503 for a in d.attempts)]
    cut = [d for d in deliveries if any(a.status is None for a in d.attempts)]
    given_up = [d for d in deliveries if not d.answered]
    # The spool refused, and refused requests were retried into the database once it was back;
    # the one cut by the kill (and any a read timeout cut) was retried and answered.
    assert any(a.status == 200 and a.at >= restarted_at for d in refused for a in d.attempts)
    assert cut and all(d.answered for d in cut)
    assert node.stored([d.message.sid for d in given_up]) == 0
    # The killed worker's file, whole, and the retry of its request: two copies of one MessageSid
    # reached the drain (or the retry went to the database); one found the other stored.
    drained = drained_in_logs(node.web.log_path, node.worker.log_path)
    written = sum(whole(data) for data in caught.values())
    assert drained.stored_before >= written
    print(
        f"\nno duplicates, Twilio retrying (rc=3, rp=ct,rt,5xx, tt=12s): posted {outcome.posted}, "
        f"tries per message {dict(sorted(tries.items()))}; refused 503 at a try {len(refused)} (then "
        f"answered 200: {sum(d.answered for d in refused)}), cut by the kill of worker {killed}: "
        f"{len(cut)} (answered 200 at a retry: {sum(d.answered for d in cut)}; its file written whole "
        f"before the kill: {written}), given up by Twilio {len(given_up)}; the drain found "
        f"{drained.stored_before} already stored; stored {outcome.stored} ({outcome.spooled} through "
        f"the spool), threaded {outcome.threaded}, lost {outcome.lost}, duplicated {outcome.duplicated}, "
        "audit chain intact"
    )


def test_a_full_spool_answers_503_and_says_spool_full_never_a_silent_drop(start_node):
    """Twilio's default (one try), a spool of 5: past it a webhook answers 503 in the one error
    shape, the log says SPOOL FULL for each, /readyz says unavailable; every 200 is on disk and
    stored once the database is back."""
    node = start_node(SPOOL_MAX_MESSAGES="5", SPOOL_COUNT_SECONDS="0")
    twilio = FakeTwilio(node.web.url)
    before = send(twilio, rounds(0, 1), "before")

    node.postgres.stop()
    during = send(twilio, rounds(1, 3), "outage")
    answered = [d for d in during if d.attempts[0].status == 200]
    refused = [d for d in during if d.attempts[0].status != 200]
    assert len(answered) >= 5 and refused
    # Every 200 is on disk; past the limit (passed only by requests racing the count), a 503.
    assert len(spool_files(node)) == len(answered)
    for delivery in refused:
        attempt = delivery.attempts[0]
        assert attempt.status == 503 and attempt.content_type.startswith("application/json"), attempt
        assert json.loads(attempt.body) == SERVICE_UNAVAILABLE
    assert node.log(node.web).count("SPOOL FULL (messages)") == len(refused)
    status, ready = node.readiness()
    assert (status, ready["status"], ready["checks"]["spool"]) == (503, "unavailable", "full: messages")

    node.postgres.start()
    after = send(twilio, rounds(3, 4), "after")
    deliveries = before + during + after
    wait_drained(node, deliveries)
    node.stack.close()

    outcome = assert_stored_once_in_order(node, deliveries)
    assert outcome.stored == len(before) + len(answered) + len(after)
    assert node.stored([d.message.sid for d in refused]) == 0  # refused aloud, Twilio gave up
    print(
        f"\nfull spool (5): during the outage {len(answered)} answered 200 and spooled, {len(refused)} "
        f"answered 503 service_unavailable with as many SPOOL FULL log lines; /readyz 503 unavailable; "
        f"stored {outcome.stored} = every 200, lost {outcome.lost}, duplicated {outcome.duplicated}"
    )
