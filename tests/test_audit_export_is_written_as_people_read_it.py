"""The audit export is a file a supervisor reads (issue #16): Mongolian Cyrillic and Spanish accents
in an entry come out as written, byte for byte (never as \\u escapes), and each entry's time is
given in the supervisor's helpline's time zone, with its offset, so it is still unambiguous."""

import csv
import io
import json
from datetime import datetime

import pytest
from django.db import transaction

from helpline.audit import audit_record
from helpline.vocabulary import AuditAction

WORDS = {"mn": "Хүүхэд аюулгүй байна, ээжтэйгээ ярилцлаа.", "es": "Niña de 12 años, acompañada."}


@pytest.mark.django_db
def test_every_script_and_the_helplines_time_come_out_as_written(api, helpline, supervisor):
    helpline.timezone = "Asia/Ulaanbaatar"
    helpline.save()
    with transaction.atomic():
        audit_record(
            actor=supervisor, action=AuditAction.BENCH_ENTRY, object_type="x", object_id="1", extra=WORDS
        )

    response = api(supervisor).get("/api/v1/audit/export/", {"action": "bench.entry"})

    assert response.status_code == 200
    text = response.content.decode("utf-8")
    assert WORDS["mn"] in text and WORDS["es"] in text and "\\u" not in text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert json.loads(row["extra"]) == WORDS
    at = datetime.fromisoformat(row["at"])
    assert at.utcoffset().total_seconds() == 8 * 3600  # Ulaanbaatar, all year


@pytest.mark.django_db
# Django's conventions per language: a non-breaking space groups Spanish thousands (as the RAE
# recommends), a comma English and Mongolian ones.
@pytest.mark.parametrize(("language", "written"), [("en", "1,200"), ("es", "1\xa0200"), ("mn", "1,200")])
def test_a_number_in_a_refusal_is_written_as_the_reader_writes_numbers(
    api, supervisor, monkeypatch, language, written
):
    monkeypatch.setattr("helpline.api.audit.EXPORT_LIMIT", 1200)
    with transaction.atomic():
        for n in range(1201):
            audit_record(actor=supervisor, action=AuditAction.BENCH_ENTRY, object_type="x", object_id=str(n))

    response = api(supervisor).get(
        "/api/v1/audit/export/", {"action": "bench.entry"}, HTTP_ACCEPT_LANGUAGE=language
    )

    assert response.status_code == 400, response.content
    assert written in response.json()["errors"][0]["detail"]
