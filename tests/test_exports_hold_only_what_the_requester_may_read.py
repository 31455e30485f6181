"""An export holds the rows its requester may read, by the same rule as every other read: their
helpline's cases they may view (a restricted case only on its need-to-know list), those cases'
contacts, messages and referrals, contacts in no case; never another helpline's. And only the
period asked for, in days of the helpline's clock."""

from datetime import UTC, datetime

import pytest

from cases.models import CaseAccess
from reports.exports.job import export_write
from tests import factories
from tests.exports import content, download, records

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.EXPORT_DIR = str(tmp_path / "exports")


def full_export(api, user, dataset: str, date_from="2026-11-01", date_to="2026-11-30") -> list[dict]:
    answer = api(user).post(
        "/api/v1/exports/",
        {
            "dataset": dataset,
            "file_format": "ndjson",
            "mode": "full",
            "reason": "Audit of the month",
            "date_from": date_from,
            "date_to": date_to,
        },
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    export_write(export_id=answer.json()["id"])
    return records("ndjson", content(download(api, user, answer.json()["id"])))


@pytest.fixture
def month(helpline, supervisor):
    at = datetime(2026, 11, 10, 12, tzinfo=UTC)
    open_case = factories.CaseFactory(helpline=helpline, reference="OPEN-1")
    restricted = factories.CaseFactory(helpline=helpline, reference="SECRET-1", restricted=True)
    elsewhere = factories.CaseFactory(reference="ELSEWHERE-1")
    for case in (open_case, restricted, elsewhere):
        case.__class__.objects.filter(pk=case.pk).update(created_at=at)
        factories.ContactFactory(
            case=case, helpline=case.helpline, started_at=at, summary=f"about {case.reference}"
        )
        factories.ReferralFactory(case=case, reason=f"referral of {case.reference}").__class__.objects.filter(
            case=case
        ).update(created_at=at)
    factories.ContactFactory(helpline=helpline, started_at=at, summary="a silent call, no case")
    return {"open": open_case, "restricted": restricted}


def test_restricted_and_other_helplines_cases_are_left_out(api, supervisor, month):
    assert [c["reference"] for c in full_export(api, supervisor, "cases")] == ["OPEN-1"]
    assert sorted(c["summary"] for c in full_export(api, supervisor, "contacts")) == [
        "a silent call, no case",
        "about OPEN-1",
    ]
    assert [r["reason"] for r in full_export(api, supervisor, "referrals")] == ["referral of OPEN-1"]


def test_the_need_to_know_list_opens_a_restricted_case(api, supervisor, month):
    CaseAccess.objects.create(
        case=month["restricted"], user=supervisor, kind="need_to_know", granted_by=supervisor
    )
    assert sorted(c["reference"] for c in full_export(api, supervisor, "cases")) == ["OPEN-1", "SECRET-1"]


def test_the_period_is_in_days_of_the_helplines_clock(api, supervisor, helpline):
    helpline.timezone = "America/Mexico_City"  # UTC-6 in November
    helpline.save()
    late = factories.CaseFactory(helpline=helpline, reference="LATE-31-OCT")
    late.__class__.objects.filter(pk=late.pk).update(created_at=datetime(2026, 11, 1, 5, 30, tzinfo=UTC))
    first = factories.CaseFactory(helpline=helpline, reference="FIRST-1-NOV")
    first.__class__.objects.filter(pk=first.pk).update(created_at=datetime(2026, 11, 1, 6, 0, tzinfo=UTC))
    cases = full_export(api, supervisor, "cases", "2026-11-01", "2026-11-01")
    assert [c["reference"] for c in cases] == ["FIRST-1-NOV"]
    assert cases[0]["created_at"] == "2026-11-01T00:00:00-06:00"
    assert [c["reference"] for c in full_export(api, supervisor, "cases", "2026-10-31", "2026-10-31")] == [
        "LATE-31-OCT"
    ]
