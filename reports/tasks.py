from celery import shared_task
from django.conf import settings

from . import rollups
from .exports import job
from .exports import services as exports


@shared_task(
    name="reports.tasks.refresh_rollups",
    ignore_result=True,
    # A run that waited longer than the beat's interval is superseded by the next one.
    expires=settings.ROLLUP_SWEEP_SECONDS * 5,
)
def refresh_rollups() -> int:
    """Beat: recount the hours changed since the last run, until none waits (each run takes a batch)."""
    recounted = total = rollups.rollups_refresh()
    while recounted:
        recounted = rollups.rollups_refresh()
        total += recounted
    return total


@shared_task(name="reports.tasks.write_export", ignore_result=True)
def write_export(export_id: int) -> None:
    """Writes one export's file (reports.exports); a re-delivered task finds it done and stops."""
    job.export_write(export_id=export_id)


@shared_task(name="reports.tasks.sweep_exports", ignore_result=True)
def sweep_exports() -> int:
    """Beat: deletes expired exports' files; dispatches again exports whose dispatch was lost."""
    return exports.exports_sweep()
