"""An export's file is downloaded by the supervisor who asked for it and by nobody else (404,
whatever their role); not before it is ready (409), not after it expired (410, the file deleted).
Asking, writing, each download and the expiry are on record."""

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from helpline.models import AuditEntry
from reports.exports.services import exports_sweep
from reports.models import Export
from tests import factories
from tests.exports import content, download, export, period

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.EXPORT_DIR = str(tmp_path / "exports")
    settings.EXPORT_KEEP_HOURS = 24
    return Path(settings.EXPORT_DIR)


def test_nobody_but_the_requester_downloads(api, supervisor, operator, admin_user, helpline, walk_in):
    walk_in()
    export_id = export(api, supervisor, "contacts", "csv")
    other_supervisor = factories.SupervisorFactory(helpline=helpline)
    for user in (other_supervisor, operator, admin_user):
        assert download(api, user, export_id).status_code == 404
        assert api(user).get(f"/api/v1/exports/{export_id}/").status_code == 404
    assert content(download(api, supervisor, export_id)).startswith(b"contact_id,case_id,")
    assert content(download(api, supervisor, export_id))
    assert Export.objects.get().downloads == 2
    assert (
        AuditEntry.objects.filter(action="export.download", outcome="allowed", actor=supervisor).count() == 2
    )
    assert AuditEntry.objects.filter(action="export.download", outcome="denied").count() == 3


def test_operators_and_agencies_cannot_ask(api, operator, agency_user, admin_user):
    body = {"dataset": "cases", "file_format": "csv", **period()}
    for user in (operator, agency_user, admin_user):
        assert api(user).post("/api/v1/exports/", body, format="json").status_code == 404
    assert not Export.objects.exists()


def test_not_before_it_is_ready(api, supervisor):
    answer = api(supervisor).post(
        "/api/v1/exports/", {"dataset": "cases", "file_format": "csv", **period()}, format="json"
    )
    assert (answer.status_code, answer.json()["state"]) == (202, "queued")
    early = download(api, supervisor, answer.json()["id"])
    assert (early.status_code, early.json()["errors"][0]["code"]) == (409, "export_not_ready")


def test_expired_exports_are_deleted(
    api, supervisor, walk_in, exports_dir, django_capture_on_commit_callbacks
):
    walk_in()
    export_id = export(api, supervisor, "cases", "xlsx")
    ready = Export.objects.get()
    assert ready.state == "ready" and (exports_dir / ready.file_name).exists()
    assert ready.expires_at - ready.finished_at == timedelta(hours=24)
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        assert exports_sweep() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        # Past its time, not yet swept: no longer downloadable.
        late = download(api, supervisor, export_id)
        assert (late.status_code, late.json()["errors"][0]["code"]) == (410, "export_expired")
        with django_capture_on_commit_callbacks(execute=True):
            assert exports_sweep() == 1
    gone = Export.objects.get()
    assert (gone.state, gone.file_key) == ("expired", "")
    assert list(exports_dir.iterdir()) == []
    late = download(api, supervisor, export_id)
    assert (late.status_code, late.json()["errors"][0]["code"]) == (410, "export_expired")
    actions = list(
        AuditEntry.objects.filter(object_type="reports.export")
        .values_list("action", flat=True)
        .order_by("id")
    )
    assert actions == [
        "export.request",
        "export.ready",
        "export.download",
        "export.expire",
        "export.download",
    ]
    assert AuditEntry.objects.filter(action="export.download", outcome="denied").count() == 2


def test_a_file_deleted_under_a_download_answers_410(api, supervisor, walk_in, exports_dir):
    walk_in()
    export_id = export(api, supervisor, "cases", "csv")
    for file in exports_dir.iterdir():
        file.unlink()
    gone = download(api, supervisor, export_id)
    assert (gone.status_code, gone.json()["errors"][0]["code"]) == (410, "export_expired")
    assert Export.objects.get().downloads == 0


def test_head_sends_no_file_and_is_no_download(api, supervisor, walk_in):
    walk_in()
    export_id = export(api, supervisor, "cases", "csv")
    head = api(supervisor).head(f"/api/v1/exports/{export_id}/file/")
    assert head.status_code == 200 and head["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(head.streaming_content) == b""
    assert Export.objects.get().downloads == 0
    assert not AuditEntry.objects.filter(action="export.download").exists()
