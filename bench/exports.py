"""(4c) Exports at scale (issue #18): every seeded contact exported, a helpline at a time, as a
supervisor of each asks for it (pseudonymised CSV, the worker's job run in this process), against
PostgreSQL's own `COPY (…) TO STDOUT` of the same rows (the export's own query: its scope, its
period, its order; the columns as stored, no formatting, nothing re-keyed), read by this process
and thrown away. Then one month of one helpline as Parquet (the writers' path: every value through
Python), as rows a second against COPY's."""

from __future__ import annotations

import time
from datetime import date
from typing import Any


class _Discard:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)


def _copy_seconds(export: Any) -> tuple[float, int]:
    from django.db import connection, transaction

    from reports.exports.datasets import DATASETS
    from reports.exports.selectors import export_rows

    dataset = DATASETS[export.dataset]
    columns = dataset.columns_for(pseudonymised=True)
    rows = export_rows(export=export, dataset=dataset).values_list(*(c.source for c in columns))
    sink = _Discard()
    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = rows.query.sql_with_params()
        copy = f"COPY ({cursor.mogrify(sql, params).decode()}) TO STDOUT WITH (FORMAT csv)"
        started = time.perf_counter()
        cursor.cursor.copy_expert(copy, sink)
        return time.perf_counter() - started, sink.bytes


def _export_seconds(export: Any) -> float:
    from reports.exports.job import export_write

    started = time.perf_counter()
    export_write(export_id=export.pk)
    return time.perf_counter() - started


def _ask(helpline: Any, user: Any, file_format: str, date_from: date, date_to: date) -> Any:
    # Straight to the table: through the service, the run's own Celery workers would take the job.
    from reports.models import Export

    return Export.objects.create(
        helpline=helpline,
        requested_by=user,
        dataset="contacts",
        file_format=file_format,
        mode="pseudonymised",
        date_from=date_from,
        date_to=date_to,
    )


def measure() -> dict[str, Any]:
    from django.db.models import Max, Min, Sum

    from helpline.models import Helpline, User
    from reports.models import ContactDay, Export

    totals = {"rows": 0, "export_s": 0.0, "copy_s": 0.0, "file_bytes": 0, "copy_bytes": 0}
    spans = (
        ContactDay.objects.values("helpline")
        .annotate(contacts=Sum("contacts"), first=Min("day"), last=Max("day"))
        .filter(contacts__gt=0)
        .order_by("-contacts")
    )
    biggest = None
    for span in spans:
        helpline = Helpline.objects.get(pk=span["helpline"])
        user = User.objects.filter(helpline=helpline, role="supervisor", is_active=True).first()
        if user is None:
            continue
        biggest = biggest or (helpline, user, span["last"])
        export = _ask(helpline, user, "csv", span["first"], span["last"])
        totals["export_s"] += _export_seconds(export)
        export.refresh_from_db()
        copy_s, copy_bytes = _copy_seconds(export)
        totals["copy_s"] += copy_s
        totals["rows"] += export.rows
        totals["file_bytes"] += export.size
        totals["copy_bytes"] += copy_bytes
    ratio = totals["copy_s"] / totals["export_s"] if totals["export_s"] else None
    result: dict[str, Any] = {**totals, "x_copy": ratio}
    if biggest is not None:
        helpline, user, last = biggest
        month = last.replace(day=1)
        parquet = _ask(helpline, user, "parquet", month, last)
        seconds = _export_seconds(parquet)
        parquet.refresh_from_db()
        copy_s, _ = _copy_seconds(parquet)
        result["parquet"] = {
            "rows": parquet.rows,
            "export_s": seconds,
            "copy_s": copy_s,
            "x_copy": copy_s / seconds if seconds else None,
        }
    # The files are the bench's own: deleted.
    from pathlib import Path

    from django.conf import settings

    for name in Export.objects.filter(state="ready").values_list("file_name", flat=True):
        (Path(settings.EXPORT_DIR) / name).unlink(missing_ok=True)
    return result
