"""`GET /api/v1/cases/?ordering=urgency` is the intake queue in the order staff work it: risk level
most severe first, then the soonest due next action (none last), then the longest waiting; the
other orders (`risk_level` by severity, `next_action_due_at`, times, id) too. Pages walk the whole
order with keyset cursors: small pages over many equal risk levels and missing due dates, with
cases opened and changed between fetches, show every case that stayed in place exactly once."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from cases.models import Case
from helpline.models import AuditEntry

from . import factories

SEVERITY = ["critical", "high", "medium", "low", "unassessed"]
NOW = timezone.now().replace(microsecond=0)


def urgency_key(case: Case) -> tuple:
    due = case.next_action_due_at
    return (SEVERITY.index(case.risk_level), due is None, due or NOW, case.created_at, case.id)


def expected(cases, ordering: str) -> list[int]:
    """The order each term promises, computed in Python from the rows."""
    keys = {
        "urgency": urgency_key,
        "risk_level": lambda c: (-SEVERITY.index(c.risk_level), -c.id),
        "-risk_level": lambda c: (SEVERITY.index(c.risk_level), c.id),
        "next_action_due_at": lambda c: (c.next_action_due_at is None, c.next_action_due_at or NOW, c.id),
        "created_at": lambda c: (c.created_at, c.id),
        "updated_at": lambda c: (c.updated_at, c.id),
        "id": lambda c: c.id,
    }
    if ordering.startswith("-") and ordering not in keys:
        return list(reversed(expected(cases, ordering[1:])))
    return [case.id for case in sorted(cases, key=keys[ordering])]


@pytest.fixture
def queue(helpline):
    """40 intake cases: every risk level, due dates shared, missing and distinct, arrival times
    shared by several cases (so every tie-breaker is needed)."""
    arrivals = [NOW - timedelta(hours=h) for h in (5, 5, 4, 3, 3)]
    dues = [None, NOW + timedelta(hours=1), NOW + timedelta(hours=1), NOW - timedelta(hours=2)]
    cases = []
    for i in range(40):
        case = factories.CaseFactory(
            helpline=helpline, risk_level=SEVERITY[i % 5], next_action_due_at=dues[i % 4]
        )
        cases.append(case.pk)
    for i, pk in enumerate(cases):
        Case.objects.filter(pk=pk).update(created_at=arrivals[i % 5], updated_at=arrivals[(i + 2) % 5])
    return list(Case.objects.filter(pk__in=cases))


def walk(client, url: str, *, between=None) -> tuple[list[int], list[dict]]:
    """Follows `next` links to the end; `between(page_number)` runs between fetches."""
    seen, pages, number = [], [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        page = response.json()
        pages.append(page)
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
        number += 1
        if between and url:
            between(number)
    return seen, pages


def test_the_intake_queue_is_in_urgency_order_across_small_pages(api, supervisor, queue):
    ids, pages = walk(api(supervisor), "/api/v1/cases/?state=intake&ordering=urgency&page_size=3")
    assert ids == expected(queue, "urgency")
    assert len(pages) == 14
    levels = [row["risk_level"] for page in pages for row in page["results"]]
    assert levels == sorted(levels, key=SEVERITY.index)
    assert levels[0] == "critical" and levels[-1] == "unassessed"


@pytest.mark.parametrize(
    "ordering",
    [
        "urgency",
        "-urgency",
        "risk_level",
        "-risk_level",
        "next_action_due_at",
        "-next_action_due_at",
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "id",
        "-id",
    ],
)
def test_every_ordering_walks_every_case_once_in_its_order(api, supervisor, queue, ordering):
    ids, _ = walk(api(supervisor), f"/api/v1/cases/?ordering={ordering}&page_size=4")
    assert ids == expected(queue, ordering)


def test_without_ordering_the_list_is_newest_first(api, supervisor, queue):
    ids, _ = walk(api(supervisor), "/api/v1/cases/?page_size=7")
    assert ids == expected(queue, "-created_at")


def test_risk_level_orders_by_severity_not_by_name(api, supervisor, queue):
    response = api(supervisor).get("/api/v1/cases/?ordering=-risk_level&page_size=200")
    levels = list(dict.fromkeys(row["risk_level"] for row in response.json()["results"]))
    assert levels == SEVERITY
    response = api(supervisor).get("/api/v1/cases/?ordering=risk_level&page_size=200")
    levels = list(dict.fromkeys(row["risk_level"] for row in response.json()["results"]))
    assert levels == list(reversed(SEVERITY))


def test_a_case_opened_between_pages_neither_repeats_nor_hides_the_others(api, supervisor, queue, helpline):
    """New cases (one ahead of the cursor, one behind it) and a case promoted past the cursor do not
    shift what the next pages show: every case that stayed in place is seen exactly once."""
    promoted = next(c for c in sorted(queue, key=urgency_key) if c.risk_level == "unassessed")
    added = []

    def meanwhile(page_number: int) -> None:
        if page_number == 2:
            for level in ("critical", "unassessed"):
                added.append(factories.CaseFactory(helpline=helpline, risk_level=level).pk)
            Case.objects.filter(pk=promoted.pk).update(risk_level="critical")

    ids, _ = walk(
        api(supervisor), "/api/v1/cases/?state=intake&ordering=urgency&page_size=5", between=meanwhile
    )
    assert len(ids) == len(set(ids)), "a case shown twice"
    stayed = [pk for pk in expected(queue, "urgency") if pk != promoted.pk]
    assert [pk for pk in ids if pk in stayed] == stayed
    critical_new, unassessed_new = added
    assert critical_new not in ids  # it sorts before the pages already read
    assert unassessed_new in ids  # it sorts after the cursor: the walk reaches it
    assert promoted.pk not in ids  # it moved from after the cursor to before it


def test_previous_links_walk_back_through_the_same_pages(api, supervisor, queue):
    client = api(supervisor)
    _, pages = walk(client, "/api/v1/cases/?ordering=urgency&page_size=6")
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    back = pages[-1]["previous"]
    for page in reversed(pages[:-1]):
        response = client.get(back)
        assert response.status_code == 200
        assert response.json()["results"] == page["results"]
        back = response.json()["previous"]
    assert back is None


def test_an_emptied_last_page_links_back_to_the_page_before(api, supervisor, queue):
    client = api(supervisor)
    first = client.get("/api/v1/cases/?state=intake&ordering=urgency&page_size=39").json()
    shown = [row["id"] for row in first["results"]]
    Case.objects.filter(state="intake").exclude(pk__in=shown).update(state="assessment")
    last = client.get(first["next"]).json()
    assert last["results"] == [] and last["next"] is None
    back = client.get(last["previous"]).json()
    assert [row["id"] for row in back["results"]] == shown
    assert back["previous"] is None


def test_an_operator_pages_only_through_what_the_policy_lets_them_see(api, operator, helpline, team):
    other_helpline = factories.HelplineFactory(code="OTHER")
    other_team = factories.TeamFactory(helpline=helpline, name="Night shift")
    mine = [factories.CaseFactory(helpline=helpline, risk_level=level).pk for level in SEVERITY * 2]
    assigned = factories.CaseFactory(
        helpline=helpline, state="assessment", risk_level="critical", assigned_to=operator
    )
    hidden = [
        factories.CaseFactory(helpline=other_helpline, risk_level="critical").pk,
        factories.CaseFactory(helpline=helpline, risk_level="critical", restricted=True).pk,
        factories.CaseFactory(
            helpline=helpline, state="assessment", risk_level="critical", team=other_team
        ).pk,
    ]
    ids, _ = walk(api(operator), "/api/v1/cases/?ordering=urgency&page_size=2")
    assert sorted(ids) == sorted([*mine, assigned.pk])
    assert not set(hidden) & set(ids)
    intake, _ = walk(api(operator), "/api/v1/cases/?state=intake&ordering=urgency&page_size=3")
    assert intake == expected(list(Case.objects.filter(pk__in=mine)), "urgency")


def test_unknown_orderings_are_refused_in_the_error_shape(api, supervisor, queue):
    client = api(supervisor)
    for ordering in (
        "risk",
        "due",
        "next_action_due",
        "urgency,nonsense",
        "-",
        "next_action_due_sort",
        "risk_rank",
    ):
        response = client.get(f"/api/v1/cases/?ordering={ordering}")
        assert response.status_code == 400, (ordering, response.content[:300])
        body = response.json()
        assert body["type"] == "validation_error"
        assert [(e["attr"], e["code"]) for e in body["errors"]] == [("ordering", "invalid")]
        assert "urgency" in body["errors"][0]["detail"]


def test_orderings_combine_and_the_id_settles_ties(api, supervisor, queue):
    ids, _ = walk(api(supervisor), "/api/v1/cases/?ordering=-risk_level,created_at&page_size=4")
    keyed = sorted(queue, key=lambda c: (SEVERITY.index(c.risk_level), c.created_at, c.id))
    assert ids == [case.id for case in keyed]
    # Columns running both ways (least severe first, then oldest first) page the same.
    ids, _ = walk(api(supervisor), "/api/v1/cases/?ordering=risk_level,created_at&page_size=4")
    keyed = sorted(queue, key=lambda c: (-SEVERITY.index(c.risk_level), c.created_at, c.id))
    assert ids == [case.id for case in keyed]


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_forged_or_foreign_cursors_are_not_found(api, supervisor, queue):
    client = api(supervisor)
    first = client.get("/api/v1/cases/?ordering=urgency&page_size=5").json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    # A cursor given out for one order, sent with another, is refused rather than misread.
    response = client.get(f"/api/v1/cases/?ordering=-created_at&cursor={cursor}")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"
    forged = [
        "!!not-a-cursor!!",
        _cursor([["urgency"], [0, "x", "y", 1], 0, 0]),
        _cursor([["urgency"], [0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00", 1], 0, 0]),
        _cursor([["urgency"], [0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", 2**70], 0, 0]),
        _cursor([["urgency"], [0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"], 0, 0]),
        _cursor([["urgency"], [0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", 1], 2, 0]),
        _cursor({"urgency": 1}),
    ]
    for token in forged:
        response = client.get(f"/api/v1/cases/?ordering=urgency&cursor={token}")
        assert response.status_code == 404, (token, response.content[:300])
    # A well-formed cursor anywhere in the order is just a position.
    token = _cursor([["urgency"], [2, "2000-01-01T00:00:00+00:00", "2000-01-01T00:00:00+00:00", 0], 0, 0])
    response = client.get(f"/api/v1/cases/?ordering=urgency&cursor={token}&page_size=200")
    assert {row["risk_level"] for row in response.json()["results"]} == {"medium", "low", "unassessed"}


def test_list_rows_and_case_details_keep_their_fields_and_each_page_is_audited(api, supervisor, queue):
    client = api(supervisor)
    before = AuditEntry.objects.filter(action="case.list").count()
    _, pages = walk(client, "/api/v1/cases/?ordering=urgency&page_size=20")
    assert AuditEntry.objects.filter(action="case.list").count() == before + len(pages) == before + 2
    listed = pages[0]["results"][0]
    assert set(listed) == {
        "id", "reference", "helpline", "state", "risk_level", "categories", "child_first_name",
        "child_age_range", "child_gender", "child_language", "vulnerability_flags", "assigned_to",
        "team", "next_action_due_at", "overdue_since", "state_changed_at", "restricted", "closed_at",
        "anonymised_at", "created_at", "updated_at",
    }  # fmt: skip
    detail = client.get(f"/api/v1/cases/{listed['id']}/").json()
    assert "available_transitions" in detail and "risk_rank" not in detail
    assert "next_action_due_sort" not in detail


def test_the_schema_lists_exactly_the_accepted_orderings(api, supervisor):
    document = SchemaGenerator().get_schema(request=None, public=True)
    parameters = document["paths"]["/api/v1/cases/"]["get"]["parameters"]
    ordering = next(p for p in parameters if p["name"] == "ordering")
    terms = ["urgency", "risk_level", "next_action_due_at", "created_at", "updated_at", "id"]
    enum = ordering["schema"]["items"]["enum"]
    assert sorted(enum) == sorted(t for term in terms for t in (term, f"-{term}"))
    client = api(supervisor)
    for term in enum:
        assert client.get(f"/api/v1/cases/?ordering={term}").status_code == 200, term
