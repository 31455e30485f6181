"""Who sees which case: everything outside the caller's scope answers 404 and stays out of lists."""

import pytest

from helpline.models import AuditEntry
from tests.factories import (
    CaseFactory,
    ContactFactory,
    HelplineFactory,
    NoteFactory,
    OperatorFactory,
    SupervisorFactory,
    TeamFactory,
)


def listed_ids(client, path="/api/v1/cases/"):
    response = client.get(path)
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def world(helpline, team, operator):
    """Cases around `operator` (team `team` of helpline DEMO) and in another helpline."""
    other_team = TeamFactory(helpline=helpline, name="Night shift")
    night_operator = OperatorFactory(helpline=helpline, team=other_team)
    elsewhere = HelplineFactory(code="ELSE")
    return {
        "intake_queue": CaseFactory(helpline=helpline, state="intake"),
        "mine": CaseFactory(helpline=helpline, state="assessment", assigned_to=operator, team=team),
        "my_team": CaseFactory(helpline=helpline, state="referral", team=team),
        "other_team": CaseFactory(
            helpline=helpline, state="assessment", team=other_team, assigned_to=night_operator
        ),
        "restricted_in_team": CaseFactory(helpline=helpline, state="assessment", team=team, restricted=True),
        "restricted_mine": CaseFactory(
            helpline=helpline, state="assessment", team=team, assigned_to=operator, restricted=True
        ),
        "other_helpline": CaseFactory(helpline=elsewhere, state="intake"),
    }


def test_operator_sees_intake_queue_own_and_team_cases_only(api, operator, world):
    # Restricted cases are need-to-know only, even when assigned (tests/test_restricted_cases.py).
    visible = {"intake_queue", "mine", "my_team"}
    assert listed_ids(api(operator)) == {world[name].pk for name in visible}


def test_supervisor_sees_the_whole_helpline_but_no_other(api, supervisor, world):
    hidden = {"other_helpline", "restricted_in_team", "restricted_mine"}
    assert listed_ids(api(supervisor)) == {c.pk for name, c in world.items() if name not in hidden}


@pytest.mark.parametrize("fixture", ["admin_user", "agency_user"])
def test_admins_and_agency_users_see_no_cases(request, api, world, fixture):
    client = api(request.getfixturevalue(fixture))
    assert listed_ids(client) == set()
    assert client.get(f"/api/v1/cases/{world['intake_queue'].pk}/").status_code == 404
    assert listed_ids(client, "/api/v1/contacts/") == set()


@pytest.mark.parametrize("name", ["other_team", "restricted_in_team", "other_helpline"])
def test_case_outside_scope_answers_404_on_every_route(api, operator, world, name):
    case = world[name]
    client = api(operator)
    base = f"/api/v1/cases/{case.pk}/"
    assert client.get(base).status_code == 404
    assert client.patch(base, {"risk_level": "low"}, format="json").status_code == 404
    assert (
        client.post(base + "transitions/", {"name": "close", "reason": "x"}, format="json").status_code == 404
    )
    assert client.get(base + "notes/").status_code == 404
    assert client.post(base + "notes/", {"body": "x"}, format="json").status_code == 404
    assert client.get(base + "history/").status_code == 404
    case.refresh_from_db()
    assert case.risk_level == "unassessed"
    assert not case.notes.exists()


def test_unknown_case_and_forbidden_case_answer_the_same(api, operator, world):
    client = api(operator)
    forbidden = client.get(f"/api/v1/cases/{world['other_helpline'].pk}/")
    unknown = client.get("/api/v1/cases/987654321/")
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.json() == unknown.json()


def test_read_outside_scope_is_recorded_as_denied(api, operator, world):
    case = world["other_team"]
    api(operator).get(f"/api/v1/cases/{case.pk}/")
    entry = AuditEntry.objects.get(actor=operator, action="case.read", object_id=str(case.pk))
    assert entry.outcome == "denied"


def test_restricted_case_is_invisible_to_a_supervisor_of_another_helpline(api, world, helpline):
    outsider = SupervisorFactory(helpline=HelplineFactory(code="OUT"))
    assert api(outsider).get(f"/api/v1/cases/{world['restricted_in_team'].pk}/").status_code == 404


def test_contacts_follow_their_case_scope(api, operator, helpline, world):
    in_scope = ContactFactory(case=world["mine"])
    out_of_scope = ContactFactory(case=world["other_team"])
    unattached = ContactFactory(helpline=helpline, case=None)
    elsewhere = ContactFactory(case=world["other_helpline"])
    client = api(operator)
    assert listed_ids(client, "/api/v1/contacts/") == {in_scope.pk, unattached.pk}
    for contact in (out_of_scope, elsewhere):
        assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
        assert (
            client.patch(f"/api/v1/contacts/{contact.pk}/", {"call_type": "prank"}, format="json").status_code
            == 404
        )


def test_contact_cannot_be_attached_to_a_case_outside_scope(api, operator, helpline, world):
    contact = ContactFactory(helpline=helpline, case=None)
    response = api(operator).post(
        f"/api/v1/contacts/{contact.pk}/attach/", {"case": world["other_team"].pk}, format="json"
    )
    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.case_id is None


def test_notes_of_a_case_outside_scope_do_not_leak(api, operator, world):
    NoteFactory(case=world["other_team"], body="secret")
    response = api(operator).get(f"/api/v1/cases/{world['other_team'].pk}/notes/")
    assert response.status_code == 404
    assert "secret" not in response.content.decode()


def test_list_filters_narrow_within_scope(api, supervisor, world):
    client = api(supervisor)
    response = client.get("/api/v1/cases/", {"state": "assessment"})
    assert {row["state"] for row in response.json()["results"]} == {"assessment"}
    response = client.get("/api/v1/cases/", {"reference": world["mine"].reference})
    assert [row["id"] for row in response.json()["results"]] == [world["mine"].pk]
    response = client.get("/api/v1/cases/", {"reference": world["other_helpline"].reference})
    assert response.json()["results"] == []
