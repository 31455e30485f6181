"""A kept database connection is checked before a request uses it: a session the server ended is
found and replaced, and a healthy idle session is not asked anything (no round trip)."""

import time

import pytest
from django.db import connection, connections


@pytest.fixture
def kept():
    """A second connection to the test database, as a web process keeps one between requests."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def _last_query_of(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row[0] if row else ""


@pytest.mark.django_db
def test_a_healthy_idle_session_is_usable_without_a_round_trip(kept):
    with kept.cursor() as cursor:
        cursor.execute("SELECT 'the last thing this session was asked'")
    pid = kept.connection.get_backend_pid()
    assert kept.is_usable()
    # The server saw no `SELECT 1`: the session's last statement is still ours.
    assert _last_query_of(pid) == "SELECT 'the last thing this session was asked'"


@pytest.mark.django_db
def test_a_session_the_server_ended_is_found_and_replaced(kept):
    pid = kept.connection.get_backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and kept.is_usable():
        time.sleep(0.05)
    assert not kept.is_usable()
    # What Django does before a request's first query: the dead session is closed and a new one
    # answers.
    kept.health_check_done = False
    kept.close_if_health_check_failed()
    with kept.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


@pytest.mark.django_db
def test_a_session_idle_for_a_while_or_inside_a_transaction_is_asked(kept, monkeypatch):
    from config.postgresql import base

    pid = kept.connection.get_backend_pid()
    # Idle longer than the busy window: a host that failed over says nothing until asked.
    monkeypatch.setattr(base, "BUSY_SECONDS", 0.0)
    with kept.cursor() as cursor:
        cursor.execute("SELECT 'before the pause'")
    time.sleep(0.01)
    assert kept.is_usable()
    assert _last_query_of(pid) == "SELECT 1"
    # A transaction left open is asked too, however recent.
    monkeypatch.setattr(base, "BUSY_SECONDS", 60.0)
    kept.set_autocommit(False)
    with kept.cursor() as cursor:
        cursor.execute("SELECT 'inside a transaction'")
    assert kept.is_usable()
    assert _last_query_of(pid) == "SELECT 1"
    kept.rollback()
    kept.set_autocommit(True)
