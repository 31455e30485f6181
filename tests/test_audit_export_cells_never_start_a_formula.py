"""The audit export never hands a spreadsheet a formula (issue #13, leak 7): a cell starting with
any of OWASP's CSV-injection characters (= + - @ tab carriage-return) is prefixed with a quote, so
a client's user agent or a path id cannot run in the supervisor's spreadsheet."""

import csv
import io

import pytest
from django.db import transaction

from helpline.audit import audit_record
from helpline.vocabulary import AuditAction

PAYLOAD = "cmd|' /C calc'!A0"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"], ids=repr)
def test_a_cell_starting_with_a_formula_character_is_quoted(api, supervisor, start):
    with transaction.atomic():
        audit_record(
            actor=supervisor, action=AuditAction.BENCH_ENTRY, object_type="x", object_id=start + PAYLOAD
        )

    response = api(supervisor).get("/api/v1/audit/export/", {"action": "bench.entry"})

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["object_id"] for row in rows] == ["'" + start + PAYLOAD]


def test_ordinary_cells_are_left_alone(api, supervisor):
    with transaction.atomic():
        audit_record(actor=supervisor, action=AuditAction.BENCH_ENTRY, object_type="x", object_id="42 -1")

    response = api(supervisor).get("/api/v1/audit/export/", {"action": "bench.entry"})

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["object_id"] for row in rows] == ["42 -1"]
