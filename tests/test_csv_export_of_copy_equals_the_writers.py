"""A pseudonymised CSV export is written by PostgreSQL's COPY with the ids re-keyed in Python
(reports.exports.copy_csv): read back, it holds exactly what the writers would have written for the
same rows: the same pseudonyms, times on the helpline's clock (a +05:45 zone), lists, booleans, empty
and missing values, and text that would start a formula or holds commas and quotes."""

import csv
import io
from datetime import UTC, datetime

import pytest

from channels_sms.models import Message
from reports.exports import job
from tests import factories
from tests.exports import content, download

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.EXPORT_DIR = str(tmp_path / "exports")


@pytest.fixture
def month(helpline, supervisor):
    helpline.timezone = "Asia/Kathmandu"  # +05:45
    helpline.save()
    team = factories.TeamFactory(helpline=helpline, name='=Night, "east" team')
    at = datetime(2026, 11, 10, 18, 20, 7, 123456, tzinfo=UTC)
    cases = [
        factories.CaseFactory(
            helpline=helpline,
            team=team,
            categories=["abuse", "-neglect"],
            restricted=False,
            child_age=9,
            reporter_phone_hash="ab" * 32,
            state="closed",
            closed_at=at,
        ),
        factories.CaseFactory(helpline=helpline, categories=[], child_age=None, reporter_phone_hash=""),
    ]
    for case in cases:
        case.__class__.objects.filter(pk=case.pk).update(created_at=at)
        factories.ContactFactory(case=case, helpline=helpline, started_at=at, language="", call_type="")
        agency = factories.AgencyFactory(helpline=helpline, name='+Police, "cyber" unit')
        factories.ReferralFactory(case=case, agency=agency).__class__.objects.filter(case=case).update(
            created_at=at
        )
    loose = factories.ContactFactory(helpline=helpline, started_at=at, ended_at=at, channel="sms")  # no case
    for contact, sender in ((loose, "cd" * 32), (cases[0].contacts.get(), "")):
        Message.objects.create(
            helpline=helpline,
            contact=contact,
            case=contact.case,
            channel="sms",
            direction="inbound" if sender else "outbound",
            sender_hash=sender,
            body='=1+1, "quoted"',
            at=at,
            status="" if sender else "delivered",
        )


def rows(api, user, dataset: str) -> bytes:
    answer = api(user).post(
        "/api/v1/exports/",
        {"dataset": dataset, "file_format": "csv", "date_from": "2026-11-01", "date_to": "2026-11-30"},
        format="json",
    )
    job.export_write(export_id=answer.json()["id"])
    return content(download(api, user, answer.json()["id"]))


@pytest.mark.parametrize("dataset", ["cases", "contacts", "referrals", "messages"])
def test_copy_and_the_writers_write_the_same_file(api, supervisor, month, dataset, monkeypatch):
    copied_bytes = rows(api, supervisor, dataset)
    # The same export through the writers (as every other format and every full export is written).
    monkeypatch.setattr(job, "COPIED", set())
    assert copied_bytes == rows(api, supervisor, dataset)  # byte for byte
    copied = list(csv.reader(io.StringIO(copied_bytes.decode())))
    assert len(copied) == 1 + {"cases": 2, "contacts": 3, "referrals": 2, "messages": 2}[dataset]
    if dataset == "cases":
        header, first, second = copied
        row = dict(zip(header, first, strict=True))
        assert row["created_at"] == "2026-11-11T00:05:07+05:45"
        assert (row["team"], row["categories"]) == ('\'=Night, "east" team', "abuse;-neglect")
        assert (row["restricted"], row["child_age"], len(row["reporter_number"])) == ("False", "9", 20)
        other = dict(zip(header, second, strict=True))
        assert (other["reporter_number"], other["child_age"], other["closed_at"], other["team"]) == (
            "",
            "",
            "",
            "",
        )
    if dataset == "referrals":
        assert copied[1][copied[0].index("agency")] == '\'+Police, "cyber" unit'
