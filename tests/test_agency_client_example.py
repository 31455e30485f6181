"""The example agency client (referrals/examples/agency_client.py) works against a real server, run as
an agency developer would run it (a separate process, over HTTP): by default it lists what waits for
an answer and changes nothing; it accepts, rejects, updates or completes only the referral it is
told to; the server comes from --url or LIFELINE_URL, the token from LIFELINE_TOKEN."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from knox.models import AuthToken

from demo.management.commands.seed_demo import DEFAULT_PASSWORD
from helpline.models import AuditEntry, AuditOutcome, User
from referrals import services
from referrals.examples.agency_client import DEMO_PASSWORD
from referrals.models import Referral
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def run_client(url: str | None, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """The client with --url (unless None), the arguments, and only the LIFELINE_* variables given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFELINE_")} | env_vars
    return subprocess.run(
        [sys.executable, "-m", "referrals.examples.agency_client", *(("--url", url) if url else ()), *args],
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


def accepted_by_police1(referral: Referral, started) -> None:
    referral.refresh_from_db()
    assert referral.state == "accepted"
    assert referral.responded_by.username == "police1" and referral.responded_at >= started
    entry = AuditEntry.objects.get(action="referral.accept", object_id=str(referral.pk))
    assert (entry.actor.username, entry.actor_role, entry.outcome) == (
        "police1",
        "agency",
        AuditOutcome.ALLOWED,
    )
    assert entry.changes == {"state": {"before": "sent", "after": "accepted"}}


@pytest.mark.django_db(transaction=True)
def test_by_default_the_client_lists_what_waits_and_changes_nothing(live_server):
    oldest, newest = seed_two_pending_police_referrals()

    result = run_client(None, LIFELINE_URL=live_server.url)  # the server from the environment

    assert result.returncode == 0, result.stderr
    assert "2 referral(s) in state sent" in result.stdout
    assert oldest.case.reference in result.stdout
    assert f"#{oldest.pk} " in result.stdout and f"#{newest.pk} " in result.stdout
    assert "emergency" in result.stdout and "urgent" in result.stdout
    assert "Nothing changed" in result.stdout
    oldest.refresh_from_db()
    newest.refresh_from_db()
    assert (oldest.state, newest.state) == ("sent", "sent")
    assert not AuditEntry.objects.filter(action__in=["referral.accept", "referral.reject"]).exists()
    assert AuditEntry.objects.filter(action="auth.login", actor__username="police1").count() == 1

    accepted = run_client(None, "list", "--state", "accepted", LIFELINE_URL=live_server.url)
    assert accepted.returncode == 0, accepted.stderr
    assert "0 referral(s) in state accepted" in accepted.stdout


def test_without_a_server_the_client_stops_before_any_request():
    result = run_client(None, "accept", "1")
    assert result.returncode == 2
    assert "--url" in result.stderr and "LIFELINE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db(transaction=True)
def test_the_client_accepts_only_the_referral_named_with_the_token_from_the_environment(live_server):
    oldest, newest = seed_two_pending_police_referrals()
    police1 = User.objects.get(username="police1")
    _, token = AuthToken.objects.create(user=police1)
    started = timezone.now()

    result = run_client(live_server.url, "accept", str(newest.pk), LIFELINE_TOKEN=token)

    assert result.returncode == 0, result.stderr
    assert f"Referral #{newest.pk} accepted: state accepted" in result.stdout
    accepted_by_police1(newest, started)
    oldest.refresh_from_db()
    assert oldest.state == "sent"
    assert not AuditEntry.objects.filter(action="auth.login").exists()  # the token, no sign-in


@pytest.mark.django_db(transaction=True)
def test_the_client_rejects_updates_and_completes_the_referral_named(live_server):
    oldest, newest = seed_two_pending_police_referrals()
    url = live_server.url

    rejected = run_client(url, "reject", str(oldest.pk), "--reason", "Outside our district")
    assert rejected.returncode == 0, rejected.stderr
    assert f"Referral #{oldest.pk} rejected: state rejected" in rejected.stdout
    oldest.refresh_from_db()
    assert (oldest.state, oldest.rejection_reason) == ("rejected", "Outside our district")

    assert run_client(url, "accept", str(newest.pk)).returncode == 0
    updated = run_client(url, "update", str(newest.pk), "--body", "Officer visited the family today.")
    assert updated.returncode == 0, updated.stderr
    [update] = newest.updates.all()
    assert (update.from_party, update.author.username) == ("agency", "police1")
    assert update.body == "Officer visited the family today."
    assert f"Posted update #{update.pk} on referral #{newest.pk}" in updated.stdout

    completed = run_client(url, "complete", str(newest.pk), "--outcome", "child_safe", "--note", "Safe.")
    assert completed.returncode == 0, completed.stderr
    assert f"Referral #{newest.pk} completed: state completed" in completed.stdout
    newest.refresh_from_db()
    assert (newest.state, newest.outcome, newest.outcome_note) == ("completed", "child_safe", "Safe.")


@pytest.mark.django_db(transaction=True)
def test_the_client_reports_http_errors_and_changes_nothing_else(live_server):
    oldest, newest = seed_two_pending_police_referrals()
    assert run_client(live_server.url, "accept", str(newest.pk)).returncode == 0

    refused = {
        "wrong password": (("--password", "not-the-password"), "HTTP 401", "authentication_failed"),
        "already accepted": (("accept", str(newest.pk)), "HTTP 409", "transition_not_allowed"),
        "unknown referral": (("accept", "999999"), "HTTP 404", "not_found"),
        "another agency's user": (("--username", "health1", "accept", str(oldest.pk)), "HTTP 404", ""),
        "completed while sent": (
            ("complete", str(oldest.pk), "--outcome", "child_safe"),
            "HTTP 409",
            "transition_not_allowed",
        ),
    }
    for name, (args, status, code) in refused.items():
        result = run_client(live_server.url, *args)
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert result.stderr.startswith("error: "), (name, result.stderr)
        assert status in result.stderr and code in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
    oldest.refresh_from_db()
    assert oldest.state == "sent"
    accepts = AuditEntry.objects.filter(action="referral.accept", outcome=AuditOutcome.ALLOWED)
    assert accepts.count() == 1

    unreachable = run_client(f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1
    assert "/api/v1/auth/token/ failed" in unreachable.stderr, unreachable.stderr
