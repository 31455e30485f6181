"""The project's management commands speak the language of the shell that runs them (issue #16):
gettext's own variables (`LANGUAGE`, then `LC_ALL`, `LC_MESSAGES`, `LANG`), the first language of
ours they name, else English."""

import io
import re

import pytest
from django.core.management import call_command
from django.db import transaction

from helpline.audit import audit_record
from helpline.management.base import shell_language
from helpline.vocabulary import AuditAction

CYRILLIC = re.compile(r"[\u0400-\u04FF]")


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "mn_MN.UTF-8"}, "mn"),
        ({"LANG": "es_MX.UTF-8"}, "es"),
        ({"LANGUAGE": "fr:es", "LANG": "mn_MN.UTF-8"}, "es"),  # LANGUAGE first, its first one we speak
        ({"LC_ALL": "mn_MN.UTF-8", "LANG": "es_ES.UTF-8"}, "mn"),
        ({"LC_ALL": "C", "LANG": "es_ES.UTF-8"}, "es"),  # "C" names no language
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_shells_language_is_read_as_gettext_reads_it(environ, language):
    assert shell_language(environ) == language


@pytest.mark.django_db
def test_a_command_answers_in_the_shells_language(monkeypatch, supervisor):
    with transaction.atomic():
        audit_record(actor=supervisor, action=AuditAction.BENCH_ENTRY, object_type="x", object_id="1")
    outputs = {}
    for language, locale in (("en", "C.UTF-8"), ("es", "es_MX.UTF-8"), ("mn", "mn_MN.UTF-8")):
        for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LANG", locale)
        out = io.StringIO()
        call_command("verify_audit", stdout=out)
        outputs[language] = out.getvalue()
    assert "intact" in outputs["en"]
    assert outputs["es"] != outputs["en"] and "entries, intact" not in outputs["es"]
    assert CYRILLIC.search(outputs["mn"])
