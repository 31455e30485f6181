"""The example agency client (referrals/examples/agency_client.py) works against a real server:
it signs in as police1 with the demo password, lists what waits for an answer and accepts a
referral, run as an agency developer would run it (a separate process, over HTTP)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from demo.management.commands.seed_demo import DEFAULT_PASSWORD
from helpline.models import AuditEntry, AuditOutcome, User
from referrals import services
from referrals.examples.agency_client import DEMO_PASSWORD
from referrals.models import Referral
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def run_client(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LIFELINE_PASSWORD"}
    return subprocess.run(
        [sys.executable, "-m", "referrals.examples.agency_client", "--url", url, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def seed_two_pending_police_referrals() -> tuple[Referral, Referral]:
    """The demo data (one urgent referral to the police waiting for an answer), plus a newer
    emergency one on the same case; returns (oldest, newest)."""
    call_command("seed_demo", stdout=io.StringIO())
    police = User.objects.get(username="police1").agency_membership.agency
    oldest = Referral.objects.get(agency=police, state="sent")
    newest = services.referral_create(
        actor=User.objects.get(username="operator2"),
        case=oldest.case,
        agency=police,
        service_type="rescue",
        urgency="emergency",
        reason="The neighbour came back.",
        summary="The neighbour is at the door now.",
    )
    assert newest.state == "sent" and newest.sent_at > oldest.sent_at
    return oldest, newest


def test_the_example_uses_the_demo_password():
    assert DEMO_PASSWORD == DEFAULT_PASSWORD


@pytest.mark.django_db(transaction=True)
def test_the_example_client_accepts_the_oldest_pending_referral(live_server):
    oldest, newest = seed_two_pending_police_referrals()
    started = timezone.now()

    result = run_client(live_server.url)

    assert result.returncode == 0, result.stderr
    assert "2 referral(s) waiting for an answer from police1" in result.stdout
    assert oldest.case.reference in result.stdout
    assert "emergency" in result.stdout and "urgent" in result.stdout
    assert f"Accepted referral #{oldest.pk}: state accepted" in result.stdout
    oldest.refresh_from_db()
    newest.refresh_from_db()
    assert (oldest.state, newest.state) == ("accepted", "sent")
    assert oldest.responded_by.username == "police1" and oldest.responded_at >= started
    entry = AuditEntry.objects.get(action="referral.accept", object_id=str(oldest.pk))
    assert (entry.actor.username, entry.actor_role, entry.outcome) == (
        "police1",
        "agency",
        AuditOutcome.ALLOWED,
    )
    assert entry.changes == {"state": {"before": "sent", "after": "accepted"}}
    assert AuditEntry.objects.filter(action="auth.login", actor=entry.actor).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_example_client_accepts_the_referral_named_and_reports_http_errors(live_server):
    oldest, newest = seed_two_pending_police_referrals()

    result = run_client(live_server.url, "--referral", str(newest.pk))
    assert result.returncode == 0, result.stderr
    newest.refresh_from_db()
    oldest.refresh_from_db()
    assert (newest.state, oldest.state) == ("accepted", "sent")
    assert AuditEntry.objects.filter(action="referral.accept", actor__username="police1").count() == 1

    refused = {
        "wrong password": (("--password", "not-the-password"), "HTTP 401", "authentication_failed"),
        "already accepted": (("--referral", str(newest.pk)), "HTTP 409", "transition_not_allowed"),
        "unknown referral": (("--referral", "999999"), "HTTP 404", "not_found"),
        "another agency's user": (("--username", "health1", "--referral", str(oldest.pk)), "HTTP 404", ""),
    }
    for name, (args, status, code) in refused.items():
        result = run_client(live_server.url, *args)
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert result.stderr.startswith("error: "), (name, result.stderr)
        assert status in result.stderr and code in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
    oldest.refresh_from_db()
    assert oldest.state == "sent"

    unreachable = run_client(f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1
    assert "/api/v1/auth/token/ failed" in unreachable.stderr, unreachable.stderr
