"""Child Helpline International's annual report: the demo data's year, counted by hand from
demo/management/commands/seed_demo.py, matches the file figure for figure (unsuppressed with a
threshold of 1, and as submitted with the default of 5); the year is the helpline's own; a case's
categories changed later move its contacts' reasons; a helpline's own category counts as "other"
of its parent's CHI category; the mapping's version is in every answer; the read is on record;
bad years answer 400 and other roles 404."""

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
import time_machine
from django.core.management import call_command

from cases.models import Case, Category
from helpline.models import AuditEntry, User
from reports import rollups
from reports.chi import chi_figures, chi_mapping
from tests import factories

pytestmark = pytest.mark.django_db

CHI = "/api/v1/reports/chi/"
SEEDED = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

# The demo's twelve cases, each with one walk-in contact (seed_demo):
#   child, bullying, 14, girl                     caller about child, physical violence
#   child, suicidal thoughts, range 14-17         child, unaccompanied migrant
#   silent                                        prank
#   child, anxiety                                child, neglect
#   caller about child, sexual violence, 12, girl child, depression
#   child, loneliness                             child, child marriage
BY_HAND = {
    ("contact_types", "counselling"): 10,
    ("contact_types", "non_counselling"): 2,
    ("contact_types", "unclassified"): 0,
    ("contact_types", "total"): 12,
    ("non_counselling", "silent"): 1,
    ("non_counselling", "hang_up"): 0,
    ("non_counselling", "prank_testing"): 1,
    ("non_counselling", "wrong_number"): 0,
    ("non_counselling", "abusive"): 0,
    ("non_counselling", "information_request"): 0,
    ("non_counselling", "non_counselling"): 2,
    ("channel", "face_to_face"): 10,
    ("channel", "counselling"): 10,
    # 14 is 13-15 and 12 is 10-12; the range 14-17 lies across two CHI bands: unknown.
    ("age", "10-12"): 1,
    ("age", "13-15"): 1,
    ("age", "unknown"): 8,
    ("age", "counselling"): 10,
    ("gender", "female"): 2,
    ("gender", "unknown"): 8,
    ("gender", "counselling"): 10,
    ("reason:violence", "bullying"): 1,
    ("reason:violence", "physical_violence"): 1,
    ("reason:violence", "neglect"): 1,
    ("reason:violence", "sexual_violence"): 1,
    ("reason:violence", "child_marriage"): 1,
    ("reason:violence", "violence"): 5,
    ("reason:mental_health", "suicidal_thoughts"): 1,
    ("reason:mental_health", "anxiety"): 1,
    ("reason:mental_health", "depression"): 1,
    ("reason:mental_health", "loneliness"): 1,
    ("reason:mental_health", "mental_health"): 4,
    ("reason:missing_children", "unaccompanied_migrant"): 1,
    ("reason:missing_children", "missing_children"): 1,
    ("reasons_unmapped", "unmapped"): 0,
}


@pytest.fixture
def demo(db):
    with time_machine.travel(SEEDED, tick=False):
        call_command("seed_demo", stdout=io.StringIO())
    rollups.rollups_refresh()
    return User.objects.get(username="supervisor1")


def figures(answer) -> dict:
    assert answer.status_code == 200, answer.content
    return {(f["section"], f["code"]): f["shown"] for f in answer.json()["figures"]}


def nonzero(table: dict) -> dict:
    return {key: value for key, value in table.items() if value != "0"}


def test_the_demo_year_matches_the_count_by_hand(api, demo, settings):
    settings.REPORT_SUPPRESS_BELOW = 1  # nothing hidden: every figure checked
    answer = api(demo).get(CHI, {"year": 2026})
    body = answer.json()
    assert (body["helpline"], body["year"], body["timezone"]) == ("DEMO", 2026, "Africa/Nairobi")
    assert body["mapping_version"] == chi_mapping().version == "2026.1"
    assert nonzero(figures(answer)) == {key: str(n) for key, n in BY_HAND.items() if n}
    # Every CHI category is in the file, with its subcategories and "other", even when empty.
    sections = {section for section, _code in figures(answer)}
    assert {f"reason:{category}" for category in chi_mapping().reasons} <= sections


def test_the_submitted_file_hides_small_counts(api, demo):
    answer = api(demo).get(CHI, {"year": 2026, "file": "csv"})
    assert answer.status_code == 200, answer.content
    assert answer["Content-Disposition"] == 'attachment; filename="chi-DEMO-2026.csv"'
    lines = list(csv.reader(io.StringIO(answer.content.decode())))
    assert lines[0] == ["section", "code", "label", "figure"]
    about = {line[1]: line[3] for line in lines if line[0] == "about"}
    assert about["mapping_version"] == "2026.1" and about["year"] == "2026"
    shown = {(line[0], line[1]): line[3] for line in lines[1:] if line[0] != "about"}
    # The two non-counselling contacts: "<5". With the counselling contacts published (they are
    # the totals of the channel, age and gender lists too) and none unclassified, the total would
    # give them away: it is hidden.
    assert [
        shown[("contact_types", code)] for code in ("counselling", "non_counselling", "unclassified", "total")
    ] == [
        "10",
        "<5",
        "0",
        "c",
    ]
    # Their own list's total is small: every cell reads "<5", the empty ones too.
    assert {
        shown[("non_counselling", code)] for code in ("silent", "hang_up", "prank_testing", "non_counselling")
    } == {"<5"}
    assert [shown[("gender", code)] for code in ("female", "unknown", "counselling")] == ["<5", "c", "10"]
    assert [shown[("age", code)] for code in ("10-12", "13-15", "unknown", "counselling")] == [
        "<5",
        "<5",
        "c",
        "10",
    ]
    # Five reasons of one each: with their total, each would be 1.
    assert shown[("reason:violence", "violence")] == "c"
    assert {shown[("reason:violence", code)] for code in ("bullying", "neglect", "child_marriage")} == {"<5"}
    # No figure from 1 to 4 is written anywhere in the file.
    assert not {value for value in shown.values() if value in {"1", "2", "3", "4"}}


def test_the_xlsx_is_the_same_file(api, demo):
    as_csv = api(demo).get(CHI, {"year": 2026, "file": "csv"})
    as_xlsx = api(demo).get(CHI, {"year": 2026, "file": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
    cells = [["" if v is None else str(v) for v in row] for row in book["report"].iter_rows(values_only=True)]
    assert cells == list(csv.reader(io.StringIO(as_csv.content.decode())))


def test_the_year_is_the_helplines_and_later_changes_count(api, demo, settings):
    settings.REPORT_SUPPRESS_BELOW = 1
    helpline = demo.helpline  # Nairobi, UTC+3
    # 23:30 on the 31st of December 2025 in Nairobi is in 2025; 00:30 on the 1st of January
    # 2026 (21:30 UTC on the 31st) is not.
    inside = factories.ContactFactory(
        helpline=helpline, call_type="silent", started_at=datetime(2025, 12, 31, 20, 30, tzinfo=UTC)
    )
    factories.ContactFactory(
        helpline=helpline, call_type="silent", started_at=datetime(2025, 12, 31, 21, 30, tzinfo=UTC)
    )
    rollups.rollups_refresh()
    assert figures(api(demo).get(CHI, {"year": 2025}))[("non_counselling", "silent")] == "1"
    assert inside.pk

    # The anxiety case is reclassified, and given the helpline's own category under violence.
    Category.objects.create(
        helpline=helpline, code="school_violence", label="Violence at school", parent_code="violence"
    )
    case = Case.objects.get(helpline=helpline, categories=["anxiety"])
    answer = api(demo).patch(
        f"/api/v1/cases/{case.pk}/", {"categories": ["bullying", "school_violence"]}, format="json"
    )
    assert answer.status_code == 200, answer.content
    rollups.rollups_refresh()
    after = figures(api(demo).get(CHI, {"year": 2026}))
    assert after[("reason:violence", "bullying")] == "2"
    assert after[("reason:violence", "other")] == "1"
    assert after[("reason:violence", "violence")] == "7"
    assert after[("reason:mental_health", "anxiety")] == "0"


def test_the_read_is_on_record(api, demo):
    api(demo).get(CHI, {"year": 2026, "file": "xlsx"})
    entry = AuditEntry.objects.filter(action="report.read").latest("id")
    assert entry.actor_id == demo.pk
    assert entry.extra == {"report": "chi", "year": 2026, "file": "xlsx"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({}, "required"),
        ({"year": "last"}, "invalid"),
        ({"year": 1999}, "min_value"),
        ({"year": 9999}, "year_in_future"),
    ],
)
def test_a_bad_year_answers_400(api, demo, query, code):
    answer = api(demo).get(CHI, query)
    assert answer.status_code == 400
    assert (answer.json()["errors"][0]["attr"], answer.json()["errors"][0]["code"]) == ("year", code)


def test_operators_and_agencies_get_404(api, demo):
    for username in ("operator1", "police1"):
        assert api(User.objects.get(username=username)).get(CHI, {"year": 2026}).status_code == 404


def test_the_new_year_begins_on_the_helplines_clock(api, demo):
    helpline = demo.helpline
    # Noon on the 31st of December in UTC is already the 1st of January in Samoa (+13).
    with time_machine.travel(datetime(2026, 12, 31, 12, 0, tzinfo=UTC), tick=False):
        assert api(demo).get(CHI, {"year": 2027}).status_code == 400
        helpline.timezone = "Pacific/Apia"
        helpline.save()
        assert api(demo).get(CHI, {"year": 2027}).status_code == 200


def test_the_file_is_what_the_query_names_whatever_the_accept_header(api, demo):
    client = api(demo)
    as_file = client.get(CHI, {"year": 2026, "file": "csv"}, HTTP_ACCEPT="text/csv")
    assert as_file.status_code == 200 and as_file["Content-Type"] == "text/csv; charset=utf-8"
    refused = client.get(CHI, {"year": "last"}, HTTP_ACCEPT="text/csv")
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "invalid"


def test_a_helplines_own_categories_count_with_their_nearest_mapped_ancestor():
    parent_of = {"school_bullying": "bullying", "hotline_feedback": "non_counselling", "misc": "nowhere"}
    traits = [
        ("child", "age", "12", 7),
        ("child", "gender", "girl", 7),
        *(("child", "category", code, 7) for code in ("school_bullying", "hotline_feedback", "misc")),
    ]
    figures = {
        (f.section, f.code): f.count
        for f in chi_figures([("child", "voice", 7)], traits, parent_of=parent_of)
    }
    assert figures[("reason:violence", "bullying")] == 7  # under bullying: counted as bullying
    assert figures[("reasons_unmapped", "unmapped")] == 7  # "misc": no ancestor CHI knows
    assert sum(n for (section, _code), n in figures.items() if section.startswith("reason:")) == 7 * 2
