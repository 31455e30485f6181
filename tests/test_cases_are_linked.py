"""Cases are linked through /api/v1/cases/{id}/links/: one link per pair and kind, shown from both
cases, only between cases of one helpline the caller can see, never to a case hidden from a
reader (not even as "a case you cannot see"), and withdrawn on the record, not deleted."""

import pytest

from cases.models import CaseLink
from helpline.models import AuditEntry

from . import factories

KINDS = ("sibling", "same_family", "same_incident", "possible_duplicate")


def links_url(case_id) -> str:
    return f"/api/v1/cases/{case_id}/links/"


def link(client, case_id, other_id, kind="sibling"):
    return client.post(links_url(case_id), {"case": other_id, "kind": kind}, format="json")


@pytest.fixture
def two_cases(walk_in, supervisor):
    return walk_in(supervisor)["id"], walk_in(supervisor)["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_a_link_of_each_kind_shows_on_both_cases(api, operator, walk_in, kind):
    a, b = walk_in()["id"], walk_in()["id"]
    client = api(operator)

    response = link(client, a, b, kind)

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["kind"] == kind and created["case"]["id"] == b
    from_a = client.get(links_url(a)).json()
    from_b = client.get(links_url(b)).json()
    assert [(row["id"], row["kind"], row["case"]["id"]) for row in from_a] == [(created["id"], kind, b)]
    assert [(row["id"], row["kind"], row["case"]["id"]) for row in from_b] == [(created["id"], kind, a)]
    assert from_b[0]["case"]["reference"].startswith("DEMO-")
    # Each case's history records the link, naming the other case.
    for case_id, other in ((a, b), (b, a)):
        entry = AuditEntry.objects.get(action="case.link.create", case_id=case_id)
        assert entry.extra["case_ids"] == [other] and entry.extra["kind"] == kind


@pytest.mark.django_db
def test_a_link_is_stored_once_whichever_case_it_is_made_from(api, supervisor, two_cases):
    a, b = two_cases
    client = api(supervisor)
    assert link(client, a, b, "sibling").status_code == 201

    again = link(client, b, a, "sibling")

    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "case_link_exists"
    assert CaseLink.objects.count() == 1
    row = CaseLink.objects.get()
    assert (row.case_low_id, row.case_high_id) == (min(a, b), max(a, b))
    # Another kind between the same two cases is another link.
    assert link(client, b, a, "same_incident").status_code == 201
    assert len(client.get(links_url(a)).json()) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"case": "SELF", "kind": "sibling"},
        {"case": "OTHER", "kind": "cousin"},
        {"case": "OTHER"},
        {"kind": "sibling"},
        {"case": "OTHER", "kind": "sibling", "note": "unknown field"},
        {"case": -1, "kind": "sibling"},
        {"case": "OTHER", "kind": ["sibling"]},
    ],
)
def test_bad_link_requests_are_refused_with_400_and_nothing_written(api, supervisor, two_cases, body):
    a, b = two_cases
    body = {k: {"SELF": a, "OTHER": b}.get(v, v) if isinstance(v, str) else v for k, v in body.items()}

    response = api(supervisor).post(links_url(a), body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "validation_error"
    assert not CaseLink.objects.exists()
    assert not AuditEntry.objects.filter(action="case.link.create", outcome="allowed").exists()


@pytest.mark.django_db
def test_a_case_of_another_helpline_answers_as_a_case_that_does_not_exist(api, supervisor, two_cases):
    a, _ = two_cases
    elsewhere = factories.CaseFactory(helpline=factories.HelplineFactory(code="ELSE"))
    client = api(supervisor)

    foreign = link(client, a, elsewhere.pk)
    nowhere = link(client, a, 987654321)

    assert foreign.status_code == nowhere.status_code == 404
    assert foreign.json() == nowhere.json()
    assert not CaseLink.objects.exists()


@pytest.mark.django_db
def test_linking_needs_both_cases_in_the_callers_scope(api, operator, supervisor, walk_in, helpline):
    mine = walk_in()["id"]
    elsewhere_team = factories.TeamFactory(helpline=helpline, name="Night shift")
    theirs = walk_in(supervisor, team=elsewhere_team.pk)["id"]
    # Out of intake, and another team's: the operator no longer sees it.
    started = api(supervisor).post(
        f"/api/v1/cases/{theirs}/transitions/", {"name": "start_assessment"}, format="json"
    )
    assert started.status_code == 200
    client = api(operator)
    assert client.get(f"/api/v1/cases/{theirs}/").status_code == 404

    assert link(client, mine, theirs).status_code == 404
    assert link(client, theirs, mine).status_code == 404
    assert not CaseLink.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin_user", "agency_user"])
def test_people_who_see_no_cases_cannot_link_or_list(request, api, two_cases, role):
    a, b = two_cases
    client = api(request.getfixturevalue(role))
    assert link(client, a, b).status_code == 404
    assert client.get(links_url(a)).status_code == 404
    assert not CaseLink.objects.exists()


@pytest.fixture
def restricted_and_visible(api, supervisor, walk_in, helpline, team):
    """A restricted case (only `supervisor` on its list) linked to an ordinary case, and another
    supervisor of the helpline who is not on the list."""
    visible, hidden = walk_in(supervisor)["id"], walk_in(supervisor)["id"]
    client = api(supervisor)
    assert client.put(f"/api/v1/cases/{hidden}/access/", {"users": []}, format="json").status_code == 200
    created = link(client, visible, hidden, "same_family")
    assert created.status_code == 201
    outsider = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
    return visible, hidden, created.json()["id"], outsider


@pytest.mark.django_db
def test_a_link_to_a_restricted_case_is_not_shown_to_a_reader_off_its_list(
    api, supervisor, restricted_and_visible
):
    visible, hidden, link_id, outsider = restricted_and_visible
    reference = api(supervisor).get(f"/api/v1/cases/{hidden}/").json()["reference"]

    response = api(outsider).get(links_url(visible))

    assert response.status_code == 200
    assert response.json() == []
    assert str(hidden) not in response.content.decode() and reference not in response.content.decode()
    # Its read is recorded naming no linked case; the supervisor on the list sees the link.
    read = AuditEntry.objects.filter(action="case.link.list", actor=outsider).get()
    assert read.extra["case_ids"] == []
    shown = api(supervisor).get(links_url(visible)).json()
    assert [(row["id"], row["case"]["id"]) for row in shown] == [(link_id, hidden)]
    # And the audit log shows the outsider the visible case's link entry without the hidden id.
    entries = api(outsider).get("/api/v1/audit/", {"case": visible, "action": "case.link."}).json()
    created = [row for row in entries["results"] if row["action"] == "case.link.create"]
    assert len(created) == 1 and created[0]["extra"]["case_ids"] == []
    assert all(hidden not in (row["extra"].get("case_ids") or []) for row in entries["results"])


@pytest.mark.django_db
def test_a_reader_off_the_list_can_neither_link_to_nor_unlink_a_restricted_case(
    api, walk_in, supervisor, restricted_and_visible
):
    _, hidden, link_id, outsider = restricted_and_visible
    another = walk_in(supervisor)["id"]
    client = api(outsider)

    assert link(client, another, hidden).status_code == 404
    assert client.delete(f"/api/v1/case-links/{link_id}/").status_code == 404
    assert client.delete("/api/v1/case-links/987654321/").status_code == 404
    assert CaseLink.objects.get(pk=link_id).removed_at is None


@pytest.mark.django_db
def test_removing_a_link_is_recorded_and_the_row_kept(api, operator, supervisor, two_cases):
    a, b = two_cases
    created = link(api(supervisor), a, b, "possible_duplicate").json()
    client = api(operator)

    removed = client.delete(f"/api/v1/case-links/{created['id']}/")

    assert removed.status_code == 204
    assert client.get(links_url(a)).json() == [] and client.get(links_url(b)).json() == []
    row = CaseLink.objects.get(pk=created["id"])
    assert row.removed_at is not None and row.removed_by == operator
    for case_id, other in ((a, b), (b, a)):
        entry = AuditEntry.objects.get(action="case.link.remove", case_id=case_id)
        assert entry.actor == operator and entry.extra["case_ids"] == [other]
    # Removing it again is a conflict; linking again makes a new link, the old one still on record.
    assert client.delete(f"/api/v1/case-links/{created['id']}/").status_code == 409
    again = link(client, a, b, "possible_duplicate")
    assert again.status_code == 201 and again.json()["id"] != created["id"]
    assert CaseLink.objects.count() == 2


@pytest.mark.django_db
def test_removing_a_link_needs_both_of_its_cases_in_the_callers_scope(
    api, operator, supervisor, walk_in, helpline
):
    mine = walk_in()["id"]
    elsewhere_team = factories.TeamFactory(helpline=helpline, name="Night shift")
    theirs = walk_in(supervisor, team=elsewhere_team.pk)["id"]
    created = link(api(supervisor), mine, theirs).json()
    started = api(supervisor).post(
        f"/api/v1/cases/{theirs}/transitions/", {"name": "start_assessment"}, format="json"
    )
    assert started.status_code == 200  # now out of the operator's scope

    response = api(operator).delete(f"/api/v1/case-links/{created['id']}/")

    assert response.status_code == 404
    assert api(operator).get(links_url(mine)).json() == []
    assert CaseLink.objects.get(pk=created["id"]).removed_at is None


@pytest.mark.django_db
def test_links_cannot_be_deleted_from_the_table(api, supervisor, two_cases):
    from django.db import InternalError, transaction

    a, b = two_cases
    link(api(supervisor), a, b)
    with pytest.raises(InternalError), transaction.atomic():
        CaseLink.objects.all().delete()
    assert CaseLink.objects.count() == 1
