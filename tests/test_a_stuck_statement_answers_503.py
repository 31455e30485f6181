"""A web request whose statement is stuck (a lock held elsewhere, a plan gone slow) gives up after
the web's statement timeout instead of holding its gunicorn worker until the worker is killed:
an API request answers 503 `service_unavailable`, nothing half-written, and the worker serves
the next request. A Twilio webhook is kept in the node's spool instead (channels_sms.spool: Twilio
does not retry a 5xx by default) and answered with its TwiML; the drain stores and threads it
once the lock is gone. Only the web has the timeout: migrations and management commands run
without it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from knox.models import AuthToken

from cases.models import Case
from channels_sms.models import InboundEvent, Message
from tests.processes import ROOT, Stack, db_connect, http_request, wait_until
from tests.test_inbound_survives_worker_and_broker_failures import (
    TWILIO_DEADLINE,
    assert_audit_chains_verify,
    assert_twiml,
    post_sms,
)
from tests.twilio_signing import sms_params

STATEMENT_TIMEOUT = 1  # seconds, for the test's web (10 s by default: config/gunicorn.py)


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path) -> Iterator[Stack]:
    processes = Stack(
        settings_dict=connection.settings_dict,
        directory=tmp_path / "processes",
        extra_env={"DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT)},
    )
    try:
        yield processes
    finally:
        processes.close()


def holding(sql: str, params: list) -> object:
    """A connection of our own holding the row lock `sql` takes, in an open transaction."""
    lock = db_connect(connection.settings_dict, autocommit=False)
    with lock.cursor() as cursor:
        cursor.execute(sql, params)
        locked = cursor.fetchone() is not None
    if not locked:
        lock.close()
        raise AssertionError(f"no row to lock: {sql} {params}")
    return lock


def assert_service_unavailable(status: int, body: bytes) -> None:
    assert status == 503, body[:300]
    [error] = json.loads(body)["errors"]
    assert error["code"] == "service_unavailable", error


@pytest.mark.django_db(transaction=True)
def test_a_webhook_stuck_behind_a_lock_is_spooled_answered_and_stored_once_the_lock_is_gone(
    stack, sms_number, helpline
):
    stack.redis()
    web, worker = stack.gunicorn(wait=False), stack.worker(wait=False)
    web.wait_ready()
    worker.wait_ready()
    # Another child's conversation is under way (the helpline's audit chain has begun).
    assert_twiml(post_sms(web.url, sms_params("SM" + "6" * 32, "+254722000300", "Hello")))
    sid = "SM" + "7" * 32
    params = sms_params(sid, "+254722000301", "Please help me")

    # The helpline's audit chain head, held elsewhere: the webhook's statement waits for it, gives
    # up after the statement timeout, and the request goes to the node's spool (channels_sms.spool),
    # answered as if stored: Twilio would not retry a 503.
    lock = holding("SELECT 1 FROM helpline_auditchainhead WHERE chain = %s FOR UPDATE", [helpline.pk])
    try:
        stuck = post_sms(web.url, params)
        # Answered while the lock is still held: kept on disk, nothing half-written.
        assert_twiml(stuck)
        assert stuck.seconds < TWILIO_DEADLINE, "answered before Twilio gives up waiting"
        assert not InboundEvent.objects.filter(external_id=sid).exists()
        assert len(list((stack.directory / "spool").glob("*.spool"))) == 1
    finally:
        lock.rollback()
        lock.close()
    web.check_alive()

    # The lock gone, the web process's drainer stores it, and it is threaded once.
    wait_until(
        "the spooled webhook to be threaded",
        lambda: Message.objects.filter(external_id=sid).exists(),
        timeout=30,
        check=lambda: (web.check_alive(), worker.check_alive()),
    )
    assert InboundEvent.objects.get(external_id=sid).spooled
    # A retry of the same webhook (had Twilio missed the answer) is answered and stored once.
    assert_twiml(post_sms(web.url, params))
    wait_until(
        "the spool to be empty",
        lambda: not list((stack.directory / "spool").glob("*.spool")),
        timeout=30,
        check=web.check_alive,
    )
    assert_twiml(post_sms(web.url, params))
    assert InboundEvent.objects.filter(external_id=sid).count() == 1
    assert InboundEvent.objects.get(external_id=sid).spooled
    assert Message.objects.filter(external_id=sid).count() == 1
    assert_audit_chains_verify()


@pytest.mark.django_db(transaction=True)
def test_an_api_write_stuck_behind_a_lock_answers_503_and_changes_nothing(stack, operator):
    stack.redis()
    web = stack.gunicorn()
    headers = {
        "Authorization": f"Token {AuthToken.objects.create(user=operator)[1]}",
        "Content-Type": "application/json",
    }

    def api(method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        return http_request(web.url, path, method=method, body=data, headers=headers)

    created = api("POST", "/api/v1/cases/", {"call_type": "child", "risk_level": "medium"})
    assert created.status == 201, created.body[:300]
    case_id = json.loads(created.body)["id"]
    change = {"risk_level": "high"}

    # An operator's write on a case another session holds (a long report, a stuck transaction).
    lock = holding("SELECT 1 FROM cases_case WHERE id = %s FOR UPDATE", [case_id])
    try:
        stuck = api("PATCH", f"/api/v1/cases/{case_id}/", change)
    finally:
        lock.rollback()
        lock.close()
    assert_service_unavailable(stuck.status, stuck.body)
    assert Case.objects.get(pk=case_id).risk_level == "medium"

    # Repeated once the lock is gone, as the answer's Retry-After says: it goes through.
    repeated = api("PATCH", f"/api/v1/cases/{case_id}/", change)
    assert repeated.status == 200, repeated.body[:300]
    assert Case.objects.get(pk=case_id).risk_level == "high"
    assert_audit_chains_verify()


@pytest.mark.django_db(transaction=True)
def test_by_default_the_web_gives_up_after_10_s_and_commands_never(tmp_path, operator):
    """The defaults, as docker-compose and `make run` start the processes."""
    stack = Stack(settings_dict=connection.settings_dict, directory=tmp_path / "processes")
    try:
        stack.redis()
        env = stack.env("command")
        assert "DATABASE_STATEMENT_TIMEOUT" not in env
        # A management command (a migration, a Celery worker: the same settings, no gunicorn).
        probe = (
            "import django; django.setup(); from django.db import connection; "
            "c = connection.cursor(); c.execute('SHOW statement_timeout'); print(c.fetchone()[0])"
        )
        shown = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0, shown.stderr[-2000:]
        assert shown.stdout.strip().splitlines()[-1] == "0"

        web = stack.gunicorn()
        headers = {
            "Authorization": f"Token {AuthToken.objects.create(user=operator)[1]}",
            "Content-Type": "application/json",
        }
        body = json.dumps({"call_type": "child"}).encode()
        created = http_request(web.url, "/api/v1/cases/", method="POST", body=body, headers=headers)
        assert created.status == 201, created.body[:300]
        case_id = json.loads(created.body)["id"]
        lock = holding("SELECT 1 FROM cases_case WHERE id = %s FOR UPDATE", [case_id])
        try:
            body = json.dumps({"risk_level": "high"}).encode()
            path = f"/api/v1/cases/{case_id}/"
            stuck = http_request(web.url, path, method="PATCH", body=body, headers=headers, timeout=60)
        finally:
            lock.rollback()
            lock.close()
        assert_service_unavailable(stuck.status, stuck.body)
        assert stuck.seconds >= 10  # the lock was held to the end: only the timeout answered
    finally:
        stack.close()
