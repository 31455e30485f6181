from celery import shared_task
from django.conf import settings

from . import rollups


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
