"""The production profile refuses to load, so no process starts, when a secret or a server it needs
is missing: the Django secret, the keys of personal data at rest, the database, Redis. A weak
identifier-hash key or a malformed encryption key is refused the same way."""

from __future__ import annotations

import pytest

from tests.test_production_settings_pass_check_deploy import manage, production_environment

REQUIRED = ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "IDENTIFIER_HASH_KEY", "DATABASE_URL", "REDIS_URL"]


def test_the_complete_environment_starts():
    result = manage(production_environment(), "check")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("variable", REQUIRED)
def test_production_refuses_to_start_without(variable):
    env = production_environment()
    del env[variable]

    result = manage(env, "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1], result.stderr[-2000:]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("IDENTIFIER_HASH_KEY", "too-short"), ("FIELD_ENCRYPTION_KEYS", "not-a-fernet-key")],
)
def test_production_refuses_to_start_with_an_unusable_key(variable, value):
    env = {**production_environment(), variable: value}

    result = manage(env, "check")

    assert result.returncode != 0
    assert variable in result.stderr.splitlines()[-1], result.stderr[-2000:]
