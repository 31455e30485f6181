"""Every write of exports, each in one transaction with its audit entry: asking for an export,
writing it (the Celery job), downloading it, reviewing a full one, and deleting expired files."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import APIException, ValidationError

from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from ..models import Export, ExportFormat, ExportMode, ExportReview, ExportState
from . import copy_csv, sealed
from .datasets import DATASETS, row_function
from .selectors import export_helpline, export_rows
from .writers import TooManyRows, row_writer

logger = logging.getLogger(__name__)

BATCH = 5000  # rows fetched, turned and written at a time
COPIED = {ExportFormat.CSV}  # pseudonymised, written by COPY (reports.exports.copy_csv)
MAX_ROWS_XLSX = "too_many_rows_for_xlsx"


class Gone(APIException):
    status_code = 410
    default_detail = gettext_lazy("This export has expired and its file was deleted.")
    default_code = "export_expired"


def _progress_key(export_id: int) -> str:
    return f"export-progress:{export_id}"


def export_progress(export: Export) -> dict[str, int] | None:
    """Rows written so far and the rows to write, while the job runs (from the cache)."""
    if export.state != ExportState.RUNNING:
        return None
    return cache.get(_progress_key(export.pk))


def export_request(
    *,
    user: User,
    dataset: str,
    file_format: str,
    mode: str,
    date_from: date,
    date_to: date,
    reason: str = "",
) -> Export:
    """A supervisor asks for an export; the worker writes it. A full export needs a reason and the
    right to ask for one, and is flagged for the helpline's administrators to review."""
    full = mode == ExportMode.FULL
    helpline = export_helpline(
        user=user, action=PolicyAction.EXPORT_REQUEST_FULL if full else PolicyAction.EXPORT_REQUEST
    )
    reason = reason.strip()
    if full and not reason:
        raise ValidationError({"reason": [_("A full export needs a reason.")]}, code="reason_required")
    with transaction.atomic():
        export = Export.objects.create(
            helpline=helpline,
            requested_by=user,
            dataset=dataset,
            file_format=file_format,
            mode=mode,
            reason=reason if full else "",
            date_from=date_from,
            date_to=date_to,
            review=ExportReview.PENDING if full else ExportReview.NOT_NEEDED,
        )
        audit_record(
            actor=user,
            action=AuditAction.EXPORT_REQUEST,
            obj=export,
            helpline=helpline,
            # The reason is kept encrypted on the export; the log says one was given.
            extra={
                "dataset": dataset,
                "mode": mode,
                "format": file_format,
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
                "flagged_for_review": full,
            },
        )
        transaction.on_commit(lambda: dispatch(export.pk))
    return export


def dispatch(export_id: int) -> None:
    from helpline.broker import publish

    from ..tasks import write_export

    publish(write_export, (export_id,), what=f"export {export_id}")


def _export_dir() -> Path:
    path = Path(settings.EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def export_write(*, export_id: int) -> Export | None:
    """The job: writes the export's rows into its encrypted file. Idempotent: an export already
    written (or expired) is left as it is; one a dead worker left running is written again."""
    with transaction.atomic():
        export = (
            Export.objects.select_for_update(skip_locked=True)
            .filter(pk=export_id, state__in=[ExportState.QUEUED, ExportState.RUNNING])
            .select_related("helpline", "requested_by")
            .first()
        )
        if export is None:
            return None  # done, or another worker has it
        export.state, export.started_at = ExportState.RUNNING, timezone.now()
        export.save(update_fields=["state", "started_at"])
    name = f"{uuid.uuid4().hex}.export"
    path = _export_dir() / name
    key = sealed.new_key()
    try:
        rows = _write_file(export, path, key)
    except TooManyRows:
        return _failed(export, path, MAX_ROWS_XLSX)
    except Exception:
        logger.exception("export %s failed", export.pk)
        _failed(export, path, "failed")
        raise
    with transaction.atomic():
        export.state, export.rows, export.size = ExportState.READY, rows, path.stat().st_size
        export.file_name, export.file_key = name, key
        export.finished_at = timezone.now()
        export.expires_at = export.finished_at + timedelta(hours=settings.EXPORT_KEEP_HOURS)
        export.save(
            update_fields=["state", "rows", "size", "file_name", "file_key", "finished_at", "expires_at"]
        )
        audit_record(
            actor=None,
            action=AuditAction.EXPORT_READY,
            obj=export,
            helpline=export.helpline_id,
            extra={"rows": rows, "bytes": export.size, "requested_by": export.requested_by.username},
        )
    cache.delete(_progress_key(export.pk))
    return export


def _write_file(export: Export, path: Path, key: str) -> int:
    dataset = DATASETS[export.dataset]
    pseudonymised = export.mode == ExportMode.PSEUDONYMISED
    columns = dataset.columns_for(pseudonymised=pseudonymised)
    turn = row_function(columns, pseudonymised=pseudonymised)
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
        cache.set(_progress_key(export.pk), {"rows": 0, "total": total}, timeout=86400)
        sink = sealed.SealedWriter(out, key=key, export_id=export.pk)

        def progress(rows: int) -> None:
            cache.set(_progress_key(export.pk), {"rows": rows, "total": total}, timeout=86400)

        writer = row_writer(export.file_format, sink, columns, zone)
        if export.file_format in COPIED and pseudonymised:
            # PostgreSQL formats the rows, Python re-keys the ids (reports.exports.copy_csv).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL TIME ZONE %s", [export.helpline.timezone])
                written = copy_csv.copy_rows(rows, columns, sink, progress)
                cursor.execute("SET LOCAL TIME ZONE %s", [connection.timezone_name])
        else:
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
    cache.delete(_progress_key(export.pk))
    with transaction.atomic():
        export.state, export.error, export.finished_at = ExportState.FAILED, code, timezone.now()
        export.save(update_fields=["state", "error", "finished_at"])
        audit_record(
            actor=None,
            action=AuditAction.EXPORT_FAIL,
            obj=export,
            helpline=export.helpline_id,
            extra={"error": code},
        )
    return export


def export_download(*, user: User, export: Export) -> Iterator[bytes]:
    """The requester's file, decrypted as it is sent; the download on record first."""
    if export.state == ExportState.EXPIRED:
        raise Gone()
    if export.state != ExportState.READY:
        raise Conflict(_("This export is not ready."), code="export_not_ready")
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(downloads=F("downloads") + 1)
        audit_record(
            actor=user,
            action=AuditAction.EXPORT_DOWNLOAD,
            obj=export,
            extra={"dataset": export.dataset, "mode": export.mode, "rows": export.rows},
        )
    handle = open(_export_dir() / export.file_name, "rb")  # noqa: SIM115  # closed by the generator

    def chunks() -> Iterator[bytes]:
        with handle:
            yield from sealed.opened(handle, key=export.file_key, export_id=export.pk)

    return chunks()


def export_review(*, user: User, export: Export) -> Export:
    """An administrator records that they reviewed a full export (who asked, why, what)."""
    with transaction.atomic():
        locked = Export.objects.select_for_update().get(pk=export.pk)
        if locked.review != ExportReview.PENDING:
            raise Conflict(_("This export was already reviewed."), code="already_reviewed")
        locked.review, locked.reviewed_by, locked.reviewed_at = ExportReview.REVIEWED, user, timezone.now()
        locked.save(update_fields=["review", "reviewed_by", "reviewed_at"])
        audit_record(actor=user, action=AuditAction.EXPORT_REVIEW, obj=locked, helpline=locked.helpline_id)
    return locked


def exports_sweep() -> int:
    """Beat: deletes the files of exports past their time (and forgets their keys), and dispatches
    again exports whose dispatch was lost (queued for over a minute). Returns how many expired."""
    now = timezone.now()
    expired = 0
    for export_id in Export.objects.filter(state=ExportState.READY, expires_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            export = Export.objects.select_for_update(skip_locked=True).filter(pk=export_id).first()
            if export is None or export.state != ExportState.READY:
                continue
            (_export_dir() / export.file_name).unlink(missing_ok=True)
            export.state, export.file_key = ExportState.EXPIRED, ""
            export.save(update_fields=["state", "file_key"])
            audit_record(
                actor=None, action=AuditAction.EXPORT_EXPIRE, obj=export, helpline=export.helpline_id
            )
            expired += 1
    stuck = Export.objects.filter(state=ExportState.QUEUED, requested_at__lte=now - timedelta(minutes=1))
    for export_id in stuck.values_list("pk", flat=True):
        dispatch(export_id)
    return expired
