"""The audit log as a CSV file a supervisor downloads: one writer for the API's export
(`GET /api/v1/audit/export/`) and the console's, so the two files are the same byte for byte."""

from __future__ import annotations

import csv
import io
import json
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from . import crypto
from .models import AuditEntry, User

EXPORT_LIMIT = 100_000
FORMULA_STARTS = frozenset("=+-@\t\r")
EXPORT_COLUMNS = [
    "id",
    "at",
    "actor_username",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "outcome",
    "request_id",
    "client_ip",
    "user_agent",
    "changes",
    "extra",
    "hash",
]


def cell(value: Any) -> str:
    if isinstance(value, dict | list):
        # As written (Cyrillic, accents), not as \\u escapes: a person reads the file.
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell must never start as a formula (OWASP's six characters).
    return "'" + text if text[:1] in FORMULA_STARTS else text


def audit_csv(*, reader: User, rows: Sequence[AuditEntry]) -> str:
    """The entries (already the reader's: helpline.selectors.audit_entries_for_reader) as CSV:
    reasons sealed under their case's key opened, as in the list (helpline.crypto); times in the
    reader's helpline's zone (ISO 8601, with its offset)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    sealed = {e.case_id for e in rows if any(crypto.is_sealed(v) for v in (e.extra or {}).values())}
    keys = crypto.case_keys(sealed)  # in one query
    helpline = reader.helpline
    zone = zoneinfo.ZoneInfo(helpline.timezone) if helpline is not None else UTC
    for entry in rows:
        entry.extra = crypto.unsealed(entry.extra or {}, case_id=entry.case_id, keys=keys)
        entry.at = entry.at.astimezone(zone)
        writer.writerow([cell(getattr(entry, column)) for column in EXPORT_COLUMNS])
    return buffer.getvalue()
