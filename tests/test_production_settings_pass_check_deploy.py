"""The production profile (config.settings.production) passes `manage.py check --deploy` at its
strictest (`--fail-level WARNING`): HSTS, secure cookies, the https redirect, a strong secret key,
DEBUG off even when the environment asks for it. Run as a deployment would: a fresh process with
realistic secrets and nothing of the test settings."""

from __future__ import annotations

import os
import secrets
import subprocess  # nosec B404
import sys

from cryptography.fernet import Fernet

from tests.processes import ROOT


def production_environment() -> dict[str, str]:
    """What docker-compose gives the application: real-looking secrets, hosts, servers."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        "IDENTIFIER_HASH_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "lifeline.example.org",
        "PUBLIC_BASE_URL": "https://lifeline.example.org",
        # The shared servers of this test run; `check` does not connect to them.
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        # A leftover from a debugging session must not turn debug pages on in production.
        "DEBUG": "true",
    }


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603
        [sys.executable, str(ROOT / "manage.py"), *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_profile_passes_check_deploy_without_any_issue():
    result = manage(production_environment(), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout


def test_the_base_profile_is_not_fit_for_deployment():
    """The check can fail: without the production profile's HTTPS settings it reports them."""
    env = {**production_environment(), "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016", "security.W018"):
        assert warning in result.stderr, result.stderr
