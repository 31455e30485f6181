"""A report downloaded as a file (CSV or XLSX) is one that leaves the supervisor's screen: counts
below 5 are written as "<5", as many others as "c" as it takes for the total not to reveal them,
and a mean handle time only where at least 5 contacts ended. Each format is opened with its own reader;
the download is on record; a wrong format answers 400 and other roles 404."""

import csv
import io
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from helpline.models import AuditEntry
from reports import rollups
from tests import factories

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/reports/contacts/"
MONTH = {"date_from": "2026-11-01", "date_to": "2026-11-30"}
NOON = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def contacts(
    helpline, channel: str, call_type: str, count: int, *, ended: int = 0, seconds: int = 60
) -> None:
    for number in range(count):
        started = NOON + timedelta(minutes=number)
        factories.ContactFactory(
            helpline=helpline,
            channel=channel,
            call_type=call_type,
            started_at=started,
            ended_at=started + timedelta(seconds=seconds) if number < ended else None,
        )


@pytest.fixture
def month(helpline):
    contacts(helpline, "voice", "child", 9, ended=6, seconds=120)
    contacts(helpline, "voice", "silent", 3, ended=3)
    contacts(helpline, "sms", "child", 3, ended=3)
    contacts(helpline, "chat", "child", 7)
    contacts(helpline, "whatsapp", "child", 6, ended=2)
    rollups.rollups_refresh()


def download(api, user, file_format: str, **query):
    return api(user).get(REPORT, {**MONTH, "file": file_format, **query})


def rows_of_csv(answer) -> list[list[str]]:
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(answer.content.decode())))


def test_by_channel_hides_the_small_count_and_the_next_smallest(api, supervisor, month):
    answer = download(api, supervisor, "csv", by="channel")
    assert answer["Content-Disposition"] == 'attachment; filename="contacts-DEMO-2026-11-01-2026-11-30.csv"'
    assert rows_of_csv(answer) == [
        ["channel", "channel_label", "contacts", "handle_seconds_mean"],
        ["chat", "Web chat", "7", ""],
        ["sms", "SMS", "<5", ""],
        ["voice", "Voice", "12", "100.0"],  # 6 of 120 s and 3 of 60 s ended: shown, 9 ≥ 5
        ["whatsapp", "WhatsApp", "c", ""],  # 6, but with the total it would give the SMS away
        ["total", "Total", "28", "85.7"],  # 14 ended, 1,200 s
    ]


def test_two_groups_list_each_pair_and_the_total_without_subtotals(api, supervisor, month):
    lines = rows_of_csv(download(api, supervisor, "csv", by=["channel", "call_type"]))
    assert lines[0] == [
        "channel", "channel_label", "call_type", "call_type_label", "contacts", "handle_seconds_mean",
    ]  # fmt: skip
    figures = {(line[0], line[2]): line[4] for line in lines[1:]}
    # Subtotals would be more equations over the hidden pairs: the file has the pairs and the
    # total. The two small ones add up to 28 - 22 = 6: each could be 2, 3 or 4, so nothing more
    # is hidden.
    assert figures == {
        ("chat", "child"): "7",
        ("sms", "child"): "<5",
        ("voice", "child"): "9",
        ("voice", "silent"): "<5",
        ("whatsapp", "child"): "6",
        ("total", "total"): "28",
    }


def test_the_xlsx_carries_the_same_cells_and_says_what_it_is(api, supervisor, month):
    answer = download(api, supervisor, "xlsx", by="channel")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
    rows = [list(row) for row in book["report"].iter_rows(values_only=True)]
    assert rows[1:] == [
        ["chat", "Web chat", 7, None],
        ["sms", "SMS", "<5", None],
        ["voice", "Voice", 12, 100.0],
        ["whatsapp", "WhatsApp", "c", None],
        ["total", "Total", 28, 85.7],
    ]
    about = dict(book["about"].iter_rows(values_only=True))
    assert about["Helpline"] == "DEMO" and about["From"] == "2026-11-01"
    assert "<5" in about["Small counts"]


def test_the_supervisors_own_screen_keeps_every_figure(api, supervisor, month):
    rows = api(supervisor).get(REPORT, {**MONTH, "by": "channel"}).json()["rows"]
    assert [(r["channel"], r["contacts"]) for r in rows] == [
        ("chat", 7),
        ("sms", 3),
        ("voice", 12),
        ("whatsapp", 6),
    ]


def test_the_download_is_on_record_with_its_format(api, supervisor, month):
    download(api, supervisor, "xlsx")
    entry = AuditEntry.objects.filter(action="report.read").latest("id")
    assert entry.actor_id == supervisor.pk
    assert entry.extra["file"] == "xlsx" and entry.outcome == "allowed"


def test_a_format_not_offered_answers_400(api, supervisor, month):
    answer = download(api, supervisor, "pdf")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["attr"] == "file"
    assert answer.json()["errors"][0]["code"] == "invalid_choice"


def test_operators_get_404_for_a_file_too(api, operator, month):
    answer = download(api, operator, "csv")
    assert answer.status_code == 404
    assert "text/csv" not in answer["Content-Type"]
