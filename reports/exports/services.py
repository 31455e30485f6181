"""Every write of exports but the job's (reports.exports.job), each in one transaction with its
audit entry: asking for an export, downloading it, reviewing a full one, and the sweep that deletes
expired files and dispatches again exports whose dispatch was lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import APIException, NotFound, ValidationError

from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from ..models import Export, ExportMode, ExportReview, ExportState
from . import sealed
from .job import export_dir, may_export, progress_key
from .selectors import export_helpline


class Gone(APIException):
    status_code = 410
    default_detail = gettext_lazy("This export has expired and its file was deleted.")
    default_code = "export_expired"


def export_progress(export: Export) -> dict[str, int] | None:
    """Rows written so far and the rows to write, while the job runs (from the cache)."""
    if export.state != ExportState.RUNNING:
        return None
    return cache.get(progress_key(export.pk))


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


def export_download(*, user: User, export: Export, record: bool = True) -> Iterator[bytes]:
    """The requester's file, decrypted as it is sent; the download on record first (`record`:
    False for a HEAD, which sends no file)."""
    if not may_export(export):
        raise NotFound()  # no longer a supervisor of the helpline: not theirs any more
    if export.state == ExportState.EXPIRED or (
        export.state == ExportState.READY and export.expires_at <= timezone.now()
    ):
        raise Gone()
    if export.state == ExportState.FAILED:
        raise Conflict(_("This export failed: ask for it again."), code="export_failed")
    if export.state != ExportState.READY:
        raise Conflict(_("This export is not ready."), code="export_not_ready")
    try:
        handle = open(export_dir() / export.file_name, "rb")  # noqa: SIM115  # closed by the generator
    except FileNotFoundError:
        raise Gone() from None  # the sweep deleted it a moment ago
    if not record:
        handle.close()
        return iter(())
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(downloads=F("downloads") + 1)
        audit_record(
            actor=user,
            action=AuditAction.EXPORT_DOWNLOAD,
            obj=export,
            extra={"dataset": export.dataset, "mode": export.mode, "rows": export.rows},
        )

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
    again exports whose dispatch was lost: queued for over a minute, or running for over ten (the
    job's lock makes a second delivery stop at once while the first still writes). Returns how
    many expired."""
    now = timezone.now()
    expired = 0
    due = Export.objects.filter(state=ExportState.READY, expires_at__lte=now)
    for export_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            export = Export.objects.select_for_update(skip_locked=True).filter(pk=export_id).first()
            if export is None or export.state != ExportState.READY:
                continue
            path = export_dir() / export.file_name
            export.state, export.file_key = ExportState.EXPIRED, ""
            export.save(update_fields=["state", "file_key"])
            audit_record(
                actor=None, action=AuditAction.EXPORT_EXPIRE, obj=export, helpline=export.helpline_id
            )
            # Deleted once the expiry is committed: a failed commit leaves the file to the next sweep.
            transaction.on_commit(lambda path=path: path.unlink(missing_ok=True))
            expired += 1
    stuck = Export.objects.filter(
        Q(state=ExportState.QUEUED, requested_at__lte=now - timedelta(minutes=1))
        | Q(state=ExportState.RUNNING, started_at__lte=now - timedelta(minutes=10))
    )
    for export_id in stuck.values_list("pk", flat=True):
        dispatch(export_id)
    return expired
