"""The Celery job that writes an export (reports.tasks.write_export): one writer per export at any
time, its file complete and recorded, or failed with a reason and nothing left behind.

One writer: the job holds a PostgreSQL advisory lock on the export for as long as it writes, so a
second delivery of the task (the broker's redelivery after its visibility timeout, the sweep's
dispatch again) finds it held and stops; a worker that dies loses its connection and so the lock,
and the next delivery writes the export again from the start. A job that started writing it
MAX_ATTEMPTS times without finishing (a worker killed each time) marks it failed."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from helpline import policy
from helpline.audit import audit_record
from helpline.vocabulary import AuditAction, PolicyAction

from ..models import Export, ExportFormat, ExportMode, ExportState
from . import copy_csv, sealed, writers
from .datasets import DATASETS, row_function
from .selectors import export_rows

logger = logging.getLogger(__name__)

LOCK_CLASS = 1279677014  # pg_advisory_lock's first key: "one writer per export" (the second: its id)
MAX_ATTEMPTS = 3
BATCH = 5000  # rows fetched, turned and written at a time
COPIED = {ExportFormat.CSV}  # pseudonymised, written by COPY (reports.exports.copy_csv)


class Refused(Exception):
    """The export cannot be written: `code` says why (the export's `error`)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def progress_key(export_id: int) -> str:
    return f"export-progress:{export_id}"


def export_dir() -> Path:
    path = Path(settings.EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def may_export(export: Export) -> bool:
    """Whether the requester may still have this export (their role and helpline now)."""
    action = (
        PolicyAction.EXPORT_REQUEST_FULL if export.mode == ExportMode.FULL else PolicyAction.EXPORT_REQUEST
    )
    user = export.requested_by
    return user.helpline_id == export.helpline_id and policy.can(user, action, export.helpline)


@contextmanager
def _writer_lock(export_id: int) -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, export_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, export_id])


def export_write(*, export_id: int) -> Export | None:
    """Writes the export's rows into its encrypted file. Returns None when there is nothing to do:
    it is written already (or expired, failed), or another worker is writing it now."""
    with _writer_lock(export_id) as held:
        if not held:
            return None
        with transaction.atomic():
            export = (
                Export.objects.select_for_update()
                .filter(pk=export_id, state__in=[ExportState.QUEUED, ExportState.RUNNING])
                .select_related("helpline", "requested_by")
                .first()
            )
            if export is None:
                return None
            export.state, export.started_at, export.attempts = (
                ExportState.RUNNING,
                timezone.now(),
                export.attempts + 1,
            )
            export.save(update_fields=["state", "started_at", "attempts"])
        name = f"{uuid.uuid4().hex}.export"
        path = export_dir() / name
        key = sealed.new_key()
        try:
            if export.attempts > MAX_ATTEMPTS:
                raise Refused("failed")  # killed mid-write every time: a person must look
            if not may_export(export):
                raise Refused("requester_not_allowed")
            rows = _write_file(export, path, key)
        except Refused as refused:
            return _failed(export, path, refused.code)
        except writers.TooManyRows:
            return _failed(export, path, "too_many_rows_for_xlsx")
        except Exception:
            logger.exception("export %s failed", export.pk)
            _failed(export, path, "failed")
            raise
        return _ready(export, path, name, key, rows)


def _ready(export: Export, path: Path, name: str, key: str, rows: int) -> Export:
    with transaction.atomic():
        now = timezone.now()
        updated = Export.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
            state=ExportState.READY,
            rows=rows,
            size=path.stat().st_size,
            file_name=name,
            file_key=key,
            finished_at=now,
            expires_at=now + timedelta(hours=settings.EXPORT_KEEP_HOURS),
        )
        if not updated:  # changed under us (cannot happen while we hold the lock): keep nothing
            path.unlink(missing_ok=True)
            return Export.objects.get(pk=export.pk)
        export.refresh_from_db()
        audit_record(
            actor=None,
            action=AuditAction.EXPORT_READY,
            obj=export,
            helpline=export.helpline_id,
            extra={"rows": rows, "bytes": export.size, "requested_by": export.requested_by.username},
        )
    cache.delete(progress_key(export.pk))
    return export


def _write_file(export: Export, path: Path, key: str) -> int:
    dataset = DATASETS[export.dataset]
    pseudonymised = export.mode == ExportMode.PSEUDONYMISED
    columns = dataset.columns_for(pseudonymised=pseudonymised)
    zone = ZoneInfo(export.helpline.timezone)
    written = 0
    # One snapshot: the count and the rows agree, and a long export sees no half of a change.
    outermost = not connection.in_atomic_block  # (a test's own transaction is already open)
    with transaction.atomic(), open(path, "wb") as out:
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        rows = export_rows(export=export, dataset=dataset)
        total = rows.count()
        if export.file_format == ExportFormat.XLSX and total > writers.XLSX_MAX_ROWS:
            raise Refused("too_many_rows_for_xlsx")  # before a row is built in memory

        def progress(done: int) -> None:
            cache.set(progress_key(export.pk), {"rows": done, "total": total}, timeout=86400)

        progress(0)
        sink = sealed.SealedWriter(out, key=key, export_id=export.pk)
        writer = writers.row_writer(export.file_format, sink, columns, zone)
        if export.file_format in COPIED and pseudonymised:
            # PostgreSQL formats the rows, Python re-keys the ids (reports.exports.copy_csv).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL TIME ZONE %s", [export.helpline.timezone])
                written = copy_csv.copy_rows(rows, columns, (dataset.time_field, "pk"), sink, progress)
                cursor.execute("SET LOCAL TIME ZONE %s", [connection.timezone_name])
        else:
            turn = row_function(columns, pseudonymised=pseudonymised)
            values = rows.values_list(*(c.source for c in columns)).iterator(chunk_size=BATCH)
            for batch in _batches(values):
                writer.write([turn(row) for row in batch])
                written += len(batch)
                progress(written)
        writer.close()
        sink.close()
        out.flush()
        os.fsync(out.fileno())
    return written


def _batches(rows: Iterator[tuple]) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _failed(export: Export, path: Path, code: str) -> Export:
    path.unlink(missing_ok=True)
    cache.delete(progress_key(export.pk))
    with transaction.atomic():
        updated = Export.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
            state=ExportState.FAILED, error=code, finished_at=timezone.now()
        )
        export.refresh_from_db()
        if updated:
            audit_record(
                actor=None,
                action=AuditAction.EXPORT_FAIL,
                obj=export,
                helpline=export.helpline_id,
                extra={"error": code},
            )
    return export
