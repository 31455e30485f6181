"""PostgreSQL restarts between requests. While it is down, API reads answer 503
`service_unavailable` in the one error shape, at once (not 500, not a hang); Twilio's webhooks are
kept in this node's durable spool (channels_sms.spool) and answered with their TwiML, since Twilio
does not retry a 5xx by default, and /readyz says "degraded: spooling N". Once it is back, the same
processes (gunicorn workers, the Celery worker, with persistent connections as in production)
reconnect by themselves, drain the spool, and every webhook, a retried one too, is stored and
threaded exactly once.

The process test starts its own PostgreSQL (tests.processes.PostgresServer; never the machine's
shared server), migrates and seeds it in a subprocess, and reads it back with plain SQL: this
process's Django stays connected to the test database. Everything else the spool promises (20
senders, a 30 s outage, a worker killed mid-write, retries, a full spool) is
tests/test_chaos_nothing_lost_while_the_database_is_down.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError, connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from channels_sms import spool
from channels_sms.models import PhoneNumber
from tests.processes import (
    CHAOS_LONG,
    ROOT,
    HttpResponse,
    PostgresServer,
    Stack,
    free_port,
    http_request,
    wait_until,
)
from tests.test_inbound_survives_worker_and_broker_failures import SMS_PATH, assert_twiml, post_sms
from tests.twilio_signing import OUR_NUMBER, PUBLIC, TOKEN, sms_params, twilio_signature

OUTAGE_BOUND = 5.0  # seconds an answer may take while the database is down
SERVICE_UNAVAILABLE = {
    "type": "server_error",
    "errors": [
        {
            "code": "service_unavailable",
            "detail": "The service is temporarily unavailable. Try again in a few seconds.",
            "attr": None,
        }
    ],
}


# --- the mapping, in this process -----------------------------------------------------------------


@pytest.fixture
def database_fails(request):
    """Every query of this process raises `request.param` (the error Django raises when the server
    is gone or the connection broke) while the fixture's block is active."""
    exc_class = request.param

    def fail(execute, sql, params, many, context):
        raise exc_class("server closed the connection unexpectedly")

    return lambda: connection.execute_wrapper(fail)


@pytest.mark.django_db
@pytest.mark.parametrize("database_fails", [OperationalError, InterfaceError], indirect=True)
def test_an_api_read_answers_503_in_the_error_shape_when_the_database_is_unavailable(
    operator, database_fails
):
    _, key = AuthToken.objects.create(user=operator)
    # The exception is reported (got_request_exception) as for any 5xx; the client must not re-raise it.
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with database_fails():
        response = client.get("/api/v1/cases/")
    assert response.status_code == 503, response.content
    assert response.json() == SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
@pytest.mark.parametrize("database_fails", [OperationalError, InterfaceError], indirect=True)
def test_a_twilio_webhook_is_spooled_and_answered_with_its_twiml_when_the_database_is_unavailable(
    helpline, settings, database_fails
):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OUR_NUMBER)
    params = sms_params("SM" + "b" * 32, "+254712345678", "help")
    with database_fails():
        response = APIClient(raise_request_exception=False).post(
            SMS_PATH, params, HTTP_X_TWILIO_SIGNATURE=twilio_signature(SMS_PATH, params)
        )
    # Twilio would not retry a 503 (docs/decisions.md): the request is kept on disk instead.
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response>" in response.content
    (entry,) = [spool.read(path) for path in spool.entry_paths()]
    assert (entry.kind, entry.params["MessageSid"]) == ("sms", ["SM" + "b" * 32])


@pytest.mark.django_db
def test_other_errors_still_answer_500(operator, monkeypatch):
    from cases import selectors

    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not an outage")

    # The view holds its selector (the gate's declared scope); the selector looks up its helpers
    # when called.
    monkeypatch.setattr(selectors, "case_queryset_for", broken)
    _, key = AuthToken.objects.create(user=operator)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/cases/")
    assert response.status_code == 500, response.content
    assert response.json()["type"] == "server_error"
    assert response.json()["errors"][0]["code"] == "error"


# --- a real restart of a real server ---------------------------------------------------------------


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(port=free_port(), log_path=tmp_path / "postgresql.log")
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def stack(own_postgres: PostgresServer, tmp_path: Path) -> Iterator[Stack]:
    """Processes on the own PostgreSQL, with production's settings: connections kept across
    requests and tasks (CONN_MAX_AGE), health-checked before reuse."""
    processes = Stack(
        settings_dict=own_postgres.create_database("lifeline_chaos"),
        directory=tmp_path / "processes",
        settings_module="config.settings.base",
        extra_env={"CONN_MAX_AGE": "60"},
    )
    try:
        yield processes
    finally:
        if not own_postgres.running:  # a failure mid-outage: bring it back to see our sessions end
            own_postgres.start()
        processes.close()


def seed_database() -> None:
    """Run in a subprocess on the own database (`seed`): migrates it, adds a helpline with its SMS
    number and an operator, and prints the operator's API token."""
    from django.core.management import call_command

    from tests import factories

    call_command("migrate", verbosity=0)
    helpline = factories.HelplineFactory(code="DEMO")
    team = factories.TeamFactory(helpline=helpline, name="Day shift")
    operator = factories.OperatorFactory(username="operator1", helpline=helpline, team=team)
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OUR_NUMBER)
    print(AuthToken.objects.create(user=operator)[1])


def manage(stack: Stack, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        env=stack.env("manage"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def seed(stack: Stack) -> str:
    done = manage(
        stack,
        "-c",
        "import django; django.setup(); "
        "from tests.test_chaos_database_restart import seed_database; seed_database()",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def assert_unavailable(response: HttpResponse) -> None:
    assert response.status == 503, (response.status, response.body[:500])
    assert response.content_type.startswith("application/json")
    assert json.loads(response.body) == SERVICE_UNAVAILABLE
    assert response.seconds < OUTAGE_BOUND, f"answered after {response.seconds:.1f}s"


def query(server: PostgresServer, sql: str, params: list | None = None) -> list[tuple]:
    conn = server.connect("lifeline_chaos")
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params or [])
            return cursor.fetchall()
    finally:
        conn.close()


def readiness(base_url: str) -> tuple[int, dict]:
    ready = http_request(base_url, "/readyz")
    return ready.status, json.loads(ready.body)


def test_a_database_restart_spools_webhooks_answers_reads_503_and_the_same_processes_reconnect(
    own_postgres, stack
):
    stack.redis()
    token = seed(stack)
    web = stack.gunicorn(workers=2, wait=False)
    worker, beat = stack.worker(wait=False), stack.beat(wait=False)
    for process in (web, worker, beat):
        process.wait_ready()
    # Ready means one worker answers; the roll call waits for the master's second fork too (it
    # comes after the first worker answered, at times: the roll call then missed it).
    wait_until("gunicorn's two workers", lambda: len(web.worker_pids()) == 2, timeout=30, interval=0.1)
    started_as = (web.pid, web.worker_pids(), worker.pid, beat.pid)
    # Short: one fast shutdown. Long: also PostgreSQL's immediate (crash-like) stop and a SIGKILL
    # of the server and its backends, each recovered from the WAL at the next start.
    modes = ["fast", "immediate", "kill"] if CHAOS_LONG else ["fast"]
    per_phase = 8 if CHAOS_LONG else 3
    senders = [f"+2547100000{i:02d}" for i in range(4)]
    posted: list[str] = []
    kept: list[str] = []  # answered while the database was down: spooled
    outage: list[HttpResponse] = []
    after_restart: list[HttpResponse] = []
    replays = 0

    def post(sid: str) -> HttpResponse:
        return post_sms(web.url, sms_params(sid, senders[int(sid[2:]) % len(senders)], f"message {sid}"))

    def new_sid() -> str:
        posted.append(f"SM{len(posted):032d}")
        return posted[-1]

    def read() -> HttpResponse:
        return http_request(web.url, "/api/v1/cases/", headers={"Authorization": f"Token {token}"})

    def spooled_files() -> list[Path]:
        return list((stack.directory / "spool").glob("*.spool"))

    def alive() -> None:
        web.check_alive(), worker.check_alive(), beat.check_alive()

    for mode in modes:
        # Webhooks right before the stop: some are still being threaded when the database goes.
        for _ in range(per_phase):
            assert_twiml(post(new_sid()))
        assert read().status == 200
        if mode == "kill":
            own_postgres.kill()
        else:
            own_postgres.stop(mode=mode)

        # The readiness probe tells a load balancer the node is degraded, and still to send it
        # Twilio's requests (the spool takes them); the liveness probe does not flap.
        status, ready = readiness(web.url)
        assert status == 200 and ready["status"].startswith("degraded: spooling"), ready
        assert ready["checks"]["database"].startswith("error")
        assert http_request(web.url, "/healthz").status == 200
        spooled_now = []
        for _ in range(per_phase):
            outage.append(read())
            assert_unavailable(outage[-1])
            spooled_now.append(new_sid())
            outage.append(post(spooled_now[-1]))
            # Twilio would not retry a 5xx: the webhook is kept and answered as if stored.
            assert_twiml(outage[-1])
            assert outage[-1].seconds < OUTAGE_BOUND, f"answered after {outage[-1].seconds:.1f}s"
        kept += spooled_now
        # /readyz counts what the spool holds (each web process counts it again within
        # SPOOL_COUNT_SECONDS): these, and maybe a webhook of just before the stop that a process,
        # counting the last drain's entries still, queued behind them.
        assert len(spooled_files()) >= len(spooled_now)
        wait_until(
            "/readyz to count the spool",
            lambda: readiness(web.url)[1]["status"] == f"degraded: spooling {len(spooled_files())}",
            timeout=10,
            interval=0.2,
        )

        own_postgres.start()
        # The same processes answer API reads again at the first try.
        after_restart.append(read())
        assert after_restart[-1].status == 200, after_restart[-1].body[:500]
        # A webhook right after the restart waits its turn behind the spool; a retry of a kept one
        # (Twilio retries when a URL asks it to and the answer was lost) is answered and stored once.
        for sid in (new_sid(), spooled_now[0]):
            after_restart.append(post(sid))
            assert_twiml(after_restart[-1])
        replays += 1
        # Drained: its spool empty and the node ready again (`ok` from the database's return on;
        # until drained, with the spool's entries pending).
        wait_until(
            "the spool to be drained and /readyz ok",
            lambda: not spooled_files() and readiness(web.url)[1]["status"] == "ok",
            timeout=30,
            interval=0.3,
            check=alive,
        )

    restarted = time.monotonic()
    threaded = (
        "SELECT count(*) FROM channels_sms_message WHERE direction = 'inbound' AND external_id = ANY(%s)"
    )
    wait_until(
        "every message to be threaded after the restart",
        lambda: query(own_postgres, threaded, [posted])[0][0] >= len(posted),
        timeout=60,
        interval=0.3,
        check=alive,
    )
    threaded_after = time.monotonic() - restarted
    # No process was restarted: the same gunicorn master and workers, the same Celery worker.
    assert (web.pid, web.worker_pids(), worker.pid, beat.pid) == started_as
    stack.close()
    assert list((stack.directory / "spool").glob("*.spool")) == []
    assert list((stack.directory / "spool").glob("held/*")) == []

    events = dict(
        query(
            own_postgres,
            "SELECT external_id, count(*) FROM channels_sms_inboundevent "
            "WHERE kind = 'message' AND external_id = ANY(%s) GROUP BY 1",
            [posted],
        )
    )
    messages = dict(
        query(
            own_postgres,
            "SELECT external_id, count(*) FROM channels_sms_message "
            "WHERE direction = 'inbound' AND external_id = ANY(%s) GROUP BY 1",
            [posted],
        )
    )
    spooled_sql = "SELECT external_id FROM channels_sms_inboundevent WHERE spooled AND kind = 'message'"
    spooled = {sid for (sid,) in query(own_postgres, spooled_sql)}
    lost = sum(1 for sid in posted if messages.get(sid, 0) == 0)
    duplicated = sum(n - 1 for n in messages.values() if n > 1) + sum(n - 1 for n in events.values() if n > 1)
    statuses = Counter(r.status for r in outage)
    print(
        f"\ndatabase restart ({', '.join(modes)}): posted {len(posted)} (+{replays} Twilio retries), "
        f"stored {sum(events.values())} ({len(spooled)} through the spool), threaded "
        f"{sum(messages.values())}, lost {lost}, duplicated {duplicated}; during the outage "
        f"{len(outage)} requests answered {dict(statuses)} (API reads 503, webhooks 200) in max "
        f"{max(r.seconds for r in outage):.2f}s; after the restart {len(after_restart)} answered "
        f"{dict(Counter(r.status for r in after_restart))} at the first try (max "
        f"{max(r.seconds for r in after_restart):.2f}s), all threaded {threaded_after:.1f}s later; "
        "processes restarted: 0"
    )
    assert (lost, duplicated) == (0, 0)
    assert set(events.values()) == {1} and len(events) == len(posted)
    assert set(messages.values()) == {1} and len(messages) == len(posted)
    # What was answered during the outage reached the database through the spool.
    assert set(kept) <= spooled
    # Nothing half-written: every event and message has its audit entry, every sender one case.
    audited = dict(
        query(
            own_postgres,
            "SELECT action, count(*) FROM helpline_auditentry "
            "WHERE action IN ('inbound.receive', 'message.receive') GROUP BY 1",
        )
    )
    assert audited == {"inbound.receive": len(posted), "message.receive": len(posted)}
    unprocessed = "SELECT count(*) FROM channels_sms_inboundevent WHERE processed_at IS NULL"
    assert query(own_postgres, unprocessed) == [(0,)]
    threads = query(
        own_postgres,
        "SELECT sender_hash, count(DISTINCT case_id) FROM channels_sms_message "
        "WHERE direction = 'inbound' GROUP BY 1",
    )
    assert len(threads) == len(senders) and {n for _, n in threads} == {1}
    assert query(own_postgres, "SELECT count(*) FROM cases_case") == [(len(senders),)]
    verified = manage(stack, "manage.py", "verify_audit")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
