"""A full export holds what the requester may read, decrypted; it needs a supervisor's reason
(refused without one, nothing stored) and is flagged for the helpline's administrators, who see who
asked, why and what (never the file) and record their review once."""

import pytest

from helpline.models import AuditEntry
from reports.models import Export
from tests import factories
from tests.exports import NAME, PHONE, SUMMARY, content, download, export, period, records, seed
from tests.twilio_signing import PUBLIC, TOKEN

pytestmark = pytest.mark.django_db
WHY = "The ministry's inquiry into case 2026-114 asked for the full record"


@pytest.fixture(autouse=True)
def twilio_settings(settings, sms_number, tmp_path):
    settings.TWILIO_AUTH_TOKEN, settings.PUBLIC_BASE_URL = TOKEN, PUBLIC
    settings.EXPORT_DIR = str(tmp_path / "exports")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_full_export_without_a_reason_is_refused(api, supervisor, reason):
    body = {"dataset": "cases", "file_format": "csv", "mode": "full", **period()}
    if reason is not None:
        body["reason"] = reason
    answer = api(supervisor).post("/api/v1/exports/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"code": "reason_required", "detail": "A full export needs a reason.", "attr": "reason"}
    ]
    assert not Export.objects.exists()


def test_a_full_export_holds_the_decrypted_record(api, supervisor, operator, walk_in):
    seed(api, operator, walk_in)
    rows = records(
        "csv",
        content(download(api, supervisor, export(api, supervisor, "cases", "csv", mode="full", reason=WHY))),
    )
    (case,) = [row for row in rows if row["child_first_name"]]
    # In CSV no cell starts a spreadsheet formula: "+976..." is written "'+976...".
    assert (case["child_first_name"], case["reporter_phone"]) == (NAME, "'" + PHONE)
    assert case["reference"].startswith("DEMO-") and case["case_id"].isdigit()
    contacts = records(
        "ndjson",
        content(
            download(api, supervisor, export(api, supervisor, "contacts", "ndjson", mode="full", reason=WHY))
        ),
    )
    assert SUMMARY in {c["summary"] for c in contacts}
    parquet = records(
        "parquet",
        content(
            download(api, supervisor, export(api, supervisor, "cases", "parquet", mode="full", reason=WHY))
        ),
    )
    assert PHONE in {c["reporter_phone"] for c in parquet}


def test_a_full_export_is_flagged_and_reviewed_once(api, supervisor, admin_user, walk_in):
    walk_in()
    export_id = export(api, supervisor, "cases", "parquet", mode="full", reason=WHY)
    request = AuditEntry.objects.get(action="export.request")
    assert request.extra["flagged_for_review"] is True and WHY not in str(request.extra)
    listed = api(admin_user).get("/api/v1/exports/").json()["results"]
    assert [(e["id"], e["review"], e["reason"], e["requested_by"]) for e in listed] == [
        (export_id, "pending", WHY, supervisor.username)
    ]
    # The administrator reviews it; they do not download it.
    assert download(api, admin_user, export_id).status_code == 404
    reviewed = api(admin_user).post(f"/api/v1/exports/{export_id}/review/")
    assert reviewed.status_code == 200, reviewed.json()
    assert (reviewed.json()["review"], reviewed.json()["reviewed_by"]) == ("reviewed", admin_user.username)
    again = api(admin_user).post(f"/api/v1/exports/{export_id}/review/")
    assert (again.status_code, again.json()["errors"][0]["code"]) == (409, "already_reviewed")
    assert AuditEntry.objects.filter(action="export.review", outcome="allowed", actor=admin_user).count() == 1


def test_only_the_helplines_administrators_review(api, supervisor, walk_in):
    walk_in()
    export_id = export(api, supervisor, "cases", "csv", mode="full", reason=WHY)
    other_admin = factories.AdminFactory()  # of another helpline
    for user in (supervisor, other_admin):
        assert api(user).post(f"/api/v1/exports/{export_id}/review/").status_code == 404
    assert Export.objects.get().review == "pending"


def test_a_pseudonymised_export_needs_no_review(api, supervisor, admin_user, walk_in):
    walk_in()
    export_id = export(api, supervisor, "cases", "csv")
    assert Export.objects.get(pk=export_id).review == "not_needed"
    assert api(admin_user).get("/api/v1/exports/").json()["results"] == []
    assert api(admin_user).post(f"/api/v1/exports/{export_id}/review/").status_code == 404
