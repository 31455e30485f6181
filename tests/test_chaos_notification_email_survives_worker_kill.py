"""A Celery worker killed (SIGKILL) in the middle of a notification's e-mail, while the SMTP server
has the message but has not acknowledged it, leaves the delivery pending and in flight; after the
attempt's lease beat's sweep has a new worker send it again: the person gets the e-mail once, and
the delivery log shows two attempts, the first interrupted. (A kill after the server acknowledged
and before the outcome is recorded would send it twice: SMTP has no idempotency key; that window
is documented in docs/notifications.md.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from notifications.models import Delivery
from tests.processes import CHAOS_LONG, Stack, wait_until
from tests.smtp_server import SmtpServer

LEASE = 5  # seconds an attempt holds its delivery (the kill comes within milliseconds)
ADDRESS = "supervisor1@helpline.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, smtp: SmtpServer) -> Iterator[Stack]:
    processes = Stack(
        settings_dict=connection.settings_dict,
        directory=tmp_path / "processes",
        extra_env={
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_USE_TLS": "false",
            "NOTIFICATION_SWEEP_SECONDS": "1",
            "NOTIFICATION_SEND_LEASE_SECONDS": str(LEASE),
            "NOTIFICATION_LINK_BASE_URL": "https://console.helpline.example",
        },
    )
    try:
        yield processes
    finally:
        processes.close()


def sent(delivery_id: int) -> bool:
    return Delivery.objects.filter(pk=delivery_id, state="sent").exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_email_leaves_it_pending_and_it_is_sent_once_after(
    stack, smtp, walk_in, operator, supervisor
):
    supervisor.email = ADDRESS
    supervisor.save()
    stack.redis()
    worker, beat = stack.worker(wait=False), stack.beat(wait=False)
    worker.wait_ready()
    beat.wait_ready()
    rounds = 3 if CHAOS_LONG else 1
    for _ in range(rounds):
        before = len(smtp.to(ADDRESS))
        smtp.hold_next()
        # Committed here; beat's sweep hands it to the stack's worker (its own Redis).
        case = walk_in(risk_level="critical")
        delivery = Delivery.objects.get(notification__case_id=case["id"], channel="email")
        assert smtp.held.wait(30), "the e-mail did not reach the SMTP server"
        delivery.refresh_from_db()
        assert (delivery.state, delivery.attempts) == ("pending", 1)
        assert delivery.in_flight_since is not None  # committed before the message went out
        worker.kill()  # SIGKILL: no shutdown code runs
        smtp.release()  # the server finds its client gone: the message is never acknowledged
        wait_until(
            "the killed worker's database session to end",
            lambda: not stack.database_sessions("worker"),
            timeout=15,
        )
        assert len(smtp.to(ADDRESS)) == before  # the cut attempt delivered nothing
        worker = stack.worker()
        wait_until(
            "the e-mail to be sent again",
            lambda d=delivery.pk: sent(d),
            timeout=60,
            interval=0.1,
            check=worker.check_alive,
        )
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.in_flight_since) == (2, None)
        assert delivery.last_error == "Interrupted: the sender stopped mid-attempt"
    stack.close()
    mails = smtp.to(ADDRESS)
    assert len(mails) == rounds  # each e-mail once: nothing lost, nothing twice
    assert len({m.subject for m in mails}) == rounds
    print(f"\nnotification e-mail, worker killed x{rounds} mid-send: {len(mails)} delivered once each")
