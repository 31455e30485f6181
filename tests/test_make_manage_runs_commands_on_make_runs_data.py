"""`make manage ARGS=...` (`python -m config.launcher manage ...`) runs any manage.py command with
the settings `make run` gives its processes (the development secrets kept in .data): before it,
the commands README names failed with "Set the SECRET_KEY environment variable"."""

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.processes import ROOT, database_url

SECRETS = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "IDENTIFIER_HASH_KEY", "DJANGO_SETTINGS_MODULE")


@pytest.mark.django_db(transaction=True)
def test_a_command_runs_without_any_secret_in_the_environment(settings):
    env = {name: value for name, value in os.environ.items() if name not in SECRETS}
    env["DATABASE_URL"] = database_url(connection.settings_dict)
    env["REDIS_URL"] = settings.REDIS_URL
    done = subprocess.run(
        [sys.executable, "-m", "config.launcher", "manage", "showmigrations", "cases"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[X] 0012_child_marriage_label" in done.stdout
    assert "SECRET_KEY" not in done.stderr


def test_make_has_the_target():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nmanage: $(STAMP) catalogues\n\t$(BIN)/python -m config.launcher manage $(ARGS)\n" in makefile
