"""An export runs as a Celery job (a real worker on the real broker): asked for, it is queued,
written with its progress visible, then ready. One writer at a time: a second delivery while the
first writes stops at once; one a dead worker left running is written again, up to three times; a
lost dispatch is swept up; a requester who is no longer a supervisor gets nothing; a file too large
for its format fails with a reason before a row is built, and leaves nothing behind."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from helpline.models import AuditEntry
from reports.exports import copy_csv, job, services, writers
from reports.models import Export
from tests.exports import content, download, period, records

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.EXPORT_DIR = str(tmp_path / "exports")
    Path(settings.EXPORT_DIR).mkdir()
    return Path(settings.EXPORT_DIR)


def ask(api, user, **more):
    answer = api(user).post(
        "/api/v1/exports/", {"dataset": "cases", "file_format": "csv", **period(), **more}, format="json"
    )
    assert answer.status_code == 202, answer.json()
    return answer.json()


def wait_until_done(api, user, export_id: int) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = api(user).get(f"/api/v1/exports/{export_id}/").json()
        if state["state"] in ("ready", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError("the export was not written in 30 s")


class WatchedCache:
    """The cache, with every export's progress it is given kept in order (one export here)."""

    def __init__(self):
        self.seen = []

    def set(self, key, value, timeout=None):
        if key.startswith("export-progress:"):
            self.seen.append((value["rows"], value["total"]))
        cache.set(key, value, timeout)

    def __getattr__(self, name):
        return getattr(cache, name)


@pytest.mark.parametrize(
    ("file_format", "steps"),
    [
        # The writers: a batch at a time (2 rows here).
        ("ndjson", [(0, 5), (2, 5), (4, 5), (5, 5)]),
        # The CSV of COPY: each time its buffer goes to the file (every line here).
        ("csv", [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (5, 5)]),
    ],
)
def test_the_worker_writes_it_with_progress(
    api, supervisor, walk_in, celery_worker, monkeypatch, file_format, steps
):
    for _ in range(5):
        walk_in()
    watched = WatchedCache()
    monkeypatch.setattr(job, "BATCH", 2)
    monkeypatch.setattr(copy_csv, "FLUSH", 1)
    monkeypatch.setattr(job, "cache", watched)
    export = ask(api, supervisor, file_format=file_format)
    assert export["state"] == "queued" and export["progress"] is None
    done = wait_until_done(api, supervisor, export["id"])
    assert (done["state"], done["rows"], done["progress"]) == ("ready", 5, None)
    assert watched.seen == steps
    assert len(records(file_format, content(download(api, supervisor, export["id"])))) == 5
    assert done["expires_at"] and done["size"] > 0


def test_progress_is_shown_while_it_runs(api, supervisor):
    export = ask(api, supervisor)
    Export.objects.filter(pk=export["id"]).update(state="running", started_at=timezone.now())
    cache.set(job.progress_key(export["id"]), {"rows": 40000, "total": 90000})
    shown = api(supervisor).get(f"/api/v1/exports/{export['id']}/").json()
    assert (shown["state"], shown["progress"]) == ("running", {"rows": 40000, "total": 90000})


def test_a_job_delivered_twice_writes_once(api, supervisor, walk_in, exports_dir):
    walk_in()
    export = ask(api, supervisor)
    assert job.export_write(export_id=export["id"]).state == "ready"
    assert job.export_write(export_id=export["id"]) is None
    assert len(list(exports_dir.iterdir())) == 1
    assert AuditEntry.objects.filter(action="export.ready").count() == 1


def test_a_second_delivery_while_the_first_writes_stops_at_once(api, supervisor, walk_in, exports_dir):
    walk_in()
    export = ask(api, supervisor)
    # The first delivery's worker holds the export's lock (its own database session).
    first = connections.create_connection("default")
    with first.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [job.LOCK_CLASS, export["id"]])
    try:
        assert job.export_write(export_id=export["id"]) is None
        assert Export.objects.get().state == "queued" and list(exports_dir.iterdir()) == []
    finally:
        first.close()  # the worker died: its lock goes with its session
    assert job.export_write(export_id=export["id"]).state == "ready"


def test_an_export_a_dead_worker_left_running_is_written_again(api, supervisor, walk_in, exports_dir):
    walk_in()
    export = ask(api, supervisor)
    Export.objects.filter(pk=export["id"]).update(state="running", started_at=timezone.now(), attempts=1)
    written = job.export_write(export_id=export["id"])
    assert (written.state, written.attempts) == ("ready", 2)
    assert content(download(api, supervisor, export["id"])).count(b"\n") == 2


def test_an_export_that_killed_its_worker_three_times_fails(api, supervisor, walk_in, exports_dir):
    walk_in()
    export = ask(api, supervisor)
    Export.objects.filter(pk=export["id"]).update(state="running", started_at=timezone.now(), attempts=3)
    failed = job.export_write(export_id=export["id"])
    assert (failed.state, failed.error, failed.attempts) == ("failed", "failed", 4)
    assert list(exports_dir.iterdir()) == []
    refused = download(api, supervisor, export["id"])
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (409, "export_failed")


def test_a_requester_no_longer_a_supervisor_gets_nothing(api, supervisor, walk_in, exports_dir):
    walk_in()
    written, queued = ask(api, supervisor), ask(api, supervisor)
    job.export_write(export_id=written["id"])
    supervisor.role = "operator"
    supervisor.save()
    failed = job.export_write(export_id=queued["id"])
    assert (failed.state, failed.error) == ("failed", "requester_not_allowed")
    assert download(api, supervisor, written["id"]).status_code == 404


def test_a_lost_dispatch_is_swept_up(api, supervisor, walk_in, celery_worker, monkeypatch):
    walk_in()
    monkeypatch.setattr(services, "dispatch", lambda export_id: None)  # the broker was down
    export = ask(api, supervisor)
    monkeypatch.undo()
    Export.objects.filter(pk=export["id"]).update(requested_at=timezone.now() - timedelta(minutes=2))
    services.exports_sweep()
    assert wait_until_done(api, supervisor, export["id"])["state"] == "ready"


def test_too_many_rows_for_xlsx_fails_before_a_row_is_built(
    api, supervisor, walk_in, exports_dir, monkeypatch
):
    walk_in()
    walk_in()
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 1)
    built = []
    monkeypatch.setattr(writers.XlsxWriter, "write", lambda self, rows: built.append(rows))
    export = ask(api, supervisor, file_format="xlsx")
    job.export_write(export_id=export["id"])
    failed = api(supervisor).get(f"/api/v1/exports/{export['id']}/").json()
    assert (failed["state"], failed["error"], failed["rows"]) == ("failed", "too_many_rows_for_xlsx", 0)
    assert built == [] and list(exports_dir.iterdir()) == []
    assert AuditEntry.objects.filter(action="export.fail", extra__error="too_many_rows_for_xlsx").count() == 1
