"""Two transitions racing on one case over two real database connections: exactly one wins."""

import threading

import pytest
from django.db import connection, connections
from knox.models import AuthToken
from rest_framework.test import APIClient

from cases.models import Case
from helpline.models import AuditEntry
from tests.factories import CaseFactory, ContactFactory


def _client(user):
    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("first", "second"),
    [("start_assessment", "start_assessment"), ("start_assessment", "dismiss")],
)
def test_racing_transitions_one_wins_the_other_gets_409(
    helpline, team, operator, other_operator, first, second
):
    case = CaseFactory(helpline=helpline, team=team, state="intake")
    ContactFactory(case=case, call_type="prank")
    clients = [(_client(operator), first), (_client(other_operator), second)]
    results: list[int] = []
    started = threading.Barrier(len(clients) + 1)

    def attempt(client, name):
        try:
            started.wait()
            response = client.post(
                f"/api/v1/cases/{case.pk}/transitions/", {"name": name, "reason": "race"}, format="json"
            )
            results.append(response.status_code)
        finally:
            connections.close_all()

    # Hold the row lock from a third connection so both requests queue up on it, then let go.
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute("SELECT id FROM cases_case WHERE id = %s FOR UPDATE", [case.pk])
            threads = [threading.Thread(target=attempt, args=pair) for pair in clients]
            for thread in threads:
                thread.start()
            started.wait()
            _wait_for_lock_waiters(cursor, expected=len(clients))
        finally:
            cursor.execute("COMMIT")
    for thread in threads:
        thread.join(30)

    assert sorted(results) == [200, 409]
    stored = Case.objects.get(pk=case.pk)
    assert stored.state in ("assessment", "closed")
    allowed = AuditEntry.objects.filter(
        case_id=case.pk, action__startswith="case.transition", outcome="allowed"
    )
    denied = AuditEntry.objects.filter(
        case_id=case.pk, action__startswith="case.transition", outcome="denied"
    )
    assert allowed.count() == 1
    assert denied.count() == 1


def _wait_for_lock_waiters(cursor, *, expected: int, timeout: float = 20.0) -> None:
    """Blocks until `expected` other backends wait on a lock (both requests are inside the race)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Activity statistics are a snapshot per transaction; take a fresh one each time.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if cursor.fetchone()[0] >= expected:
            return
        time.sleep(0.05)
    raise AssertionError("the racing requests never queued on the row lock")
