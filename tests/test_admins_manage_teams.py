"""Administrators create, rename, retire and reactivate their helpline's teams and move people
between them; staff of the helpline read the teams and their members; nobody reaches another
helpline's teams. A retired team keeps its cases but receives no new members or cases."""

import pytest

from cases.models import Case
from helpline.models import AuditEntry, Team, User

from . import factories
from .bad_input import assert_error, error_pairs

TEAMS = "/api/v1/teams/"


def team_url(team) -> str:
    return f"{TEAMS}{team.pk if hasattr(team, 'pk') else team}/"


@pytest.fixture
def elsewhere(db):
    """Another helpline with its own team, operator and administrator."""
    other = factories.HelplineFactory(code="ELSE")
    team = factories.TeamFactory(helpline=other, name="Else team")
    return {
        "helpline": other,
        "team": team,
        "operator": factories.OperatorFactory(username="else_op", helpline=other, team=team),
        "admin": factories.AdminFactory(username="else_admin", helpline=other),
    }


def test_an_administrator_creates_a_team_and_the_helplines_staff_read_it_with_its_members(
    api, admin_user, supervisor, operator, helpline
):
    response = api(admin_user).post(TEAMS, {"name": "Night shift", "auto_assign": True}, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["name"], created["helpline"], created["is_active"], created["auto_assign"]) == (
        "Night shift",
        "DEMO",
        True,
        True,
    )
    assert created["members"] == []
    entry = AuditEntry.objects.get(action="team.create")
    assert (entry.actor_id, entry.helpline_id, entry.object_id) == (
        admin_user.pk,
        helpline.pk,
        str(created["id"]),
    )
    assert entry.changes["name"] == {"before": None, "after": "Night shift"}

    for reader in (supervisor, operator):
        listed = api(reader).get(TEAMS).json()["results"]
        by_name = {team["name"]: team for team in listed}
        assert set(by_name) == {"Day shift", "Night shift"}
        day = by_name["Day shift"]
        assert {m["username"] for m in day["members"]} == {"operator1", "supervisor1"}
        assert api(reader).get(team_url(created["id"])).json()["name"] == "Night shift"


def test_team_names_are_unique_per_helpline_letter_case_aside(api, admin_user, team, elsewhere):
    response = api(admin_user).post(TEAMS, {"name": "day SHIFT"}, format="json")
    assert error_pairs(response) == {("name", "unique")}
    # Another helpline may use the name.
    assert api(elsewhere["admin"]).post(TEAMS, {"name": "Day shift"}, format="json").status_code == 201
    assert Team.objects.filter(helpline=admin_user.helpline).count() == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {("name", "required")}),
        ({"name": ""}, {("name", "blank")}),
        ({"name": "x" * 101}, {("name", "max_length")}),
        ({"name": "Evening", "colour": "red"}, {("colour", "unknown_field")}),
        ({"name": "Evening", "auto_assign": "sometimes"}, {("auto_assign", "invalid")}),
    ],
)
def test_bad_team_input_is_refused_and_nothing_is_written(api, admin_user, team, body, expected):
    response = api(admin_user).post(TEAMS, body, format="json")
    assert error_pairs(response) == expected
    assert Team.objects.count() == 1 and not AuditEntry.objects.filter(action="team.create").exists()


def test_only_administrators_manage_teams(api, supervisor, operator, agency_user, team):
    for user in (supervisor, operator):
        assert_error(api(user).post(TEAMS, {"name": "Mine"}, format="json"), 403)
        assert_error(api(user).patch(team_url(team), {"name": "Mine"}, format="json"), 403)
    # Agency users see no team at all: it is not there for them.
    assert api(agency_user).get(TEAMS).json()["results"] == []
    assert_error(api(agency_user).get(team_url(team)), 404)
    assert_error(api(agency_user).patch(team_url(team), {"name": "Mine"}, format="json"), 404)
    assert Team.objects.get().name == "Day shift"
    refusals = AuditEntry.objects.filter(action__in=["team.create", "team.update"], outcome="denied")
    assert refusals.count() == 5


def test_another_helplines_team_answers_as_unknown(api, admin_user, supervisor, elsewhere):
    for user in (admin_user, supervisor):
        assert_error(api(user).get(team_url(elsewhere["team"])), 404)
        assert "Else team" not in {t["name"] for t in api(user).get(TEAMS).json()["results"]}
    assert_error(api(admin_user).patch(team_url(elsewhere["team"]), {"name": "Ours"}, format="json"), 404)
    assert Team.objects.get(pk=elsewhere["team"].pk).name == "Else team"


def test_a_platform_administrator_names_the_helpline(api, helpline, elsewhere):
    root = factories.AdminFactory(username="root", helpline=None)
    response = api(root).post(TEAMS, {"name": "Weekend"}, format="json")
    assert error_pairs(response) == {("helpline", "required")}
    response = api(root).post(TEAMS, {"name": "Weekend", "helpline": elsewhere["helpline"].pk}, format="json")
    assert response.status_code == 201 and response.json()["helpline"] == "ELSE"
    assert {t["helpline"] for t in api(root).get(TEAMS).json()["results"]} == {"ELSE"}


def test_renaming_is_on_the_record(api, admin_user, team):
    response = api(admin_user).patch(team_url(team), {"name": "Morning shift"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Morning shift"
    entry = AuditEntry.objects.get(action="team.update")
    assert entry.changes == {"name": {"before": "Day shift", "after": "Morning shift"}}


def test_a_team_with_active_members_is_retired_only_once_they_are_moved(
    api, admin_user, team, operator, supervisor, helpline
):
    night = factories.TeamFactory(helpline=helpline, name="Night shift")
    factories.OperatorFactory(username="left", helpline=helpline, team=team, is_active=False)
    response = api(admin_user).patch(team_url(team), {"is_active": False}, format="json")
    assert_error(response, 409, code="team_has_members")
    assert Team.objects.get(pk=team.pk).is_active

    for person in (operator, supervisor):
        moved = api(admin_user).patch(f"/api/v1/users/{person.pk}/", {"team": night.pk}, format="json")
        assert moved.status_code == 200 and moved.json()["team"] == night.pk
    moves = AuditEntry.objects.filter(action="user.update").order_by("id")
    assert [e.changes["team"] for e in moves] == [{"before": team.pk, "after": night.pk}] * 2

    response = api(admin_user).patch(team_url(team), {"is_active": False}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["is_active"] is False and response.json()["retired_at"] is not None
    # Still listed, with the deactivated person who stayed in it: its history is kept.
    listed = {t["name"]: t for t in api(admin_user).get(TEAMS).json()["results"]}
    assert listed["Day shift"]["is_active"] is False
    assert [m["username"] for m in listed["Day shift"]["members"]] == ["left"]
    entry = AuditEntry.objects.filter(action="team.update").latest("id")
    assert entry.changes == {"is_active": {"before": True, "after": False}}


def test_a_retired_team_receives_no_new_members_or_cases_and_can_be_reactivated(
    api, admin_user, operator, supervisor, helpline, walk_in
):
    retired = factories.TeamFactory(helpline=helpline, name="Old team", is_active=False)
    case = walk_in()

    response = api(admin_user).patch(f"/api/v1/users/{operator.pk}/", {"team": retired.pk}, format="json")
    assert error_pairs(response) == {("team", "retired")}
    response = api(admin_user).post(
        "/api/v1/users/", {"username": "newbie", "role": "operator", "team": retired.pk}, format="json"
    )
    assert error_pairs(response) == {("team", "retired")}
    assert not User.objects.filter(username="newbie").exists()
    response = api(supervisor).patch(f"/api/v1/cases/{case['id']}/", {"team": retired.pk}, format="json")
    assert error_pairs(response) == {("team", "retired")}
    response = api(operator).post("/api/v1/cases/", {"call_type": "child", "team": retired.pk}, format="json")
    assert error_pairs(response) == {("team", "retired")}
    assert Case.objects.count() == 1 and User.objects.get(pk=operator.pk).team_id != retired.pk

    response = api(admin_user).patch(team_url(retired), {"is_active": True}, format="json")
    assert response.status_code == 200 and response.json()["retired_at"] is None
    response = api(admin_user).patch(f"/api/v1/users/{operator.pk}/", {"team": retired.pk}, format="json")
    assert response.status_code == 200 and response.json()["team"] == retired.pk


def test_people_move_only_into_their_own_helplines_teams(api, admin_user, operator, elsewhere):
    response = api(admin_user).patch(
        f"/api/v1/users/{operator.pk}/", {"team": elsewhere["team"].pk}, format="json"
    )
    assert error_pairs(response) == {("team", "does_not_exist")}
    assert User.objects.get(pk=operator.pk).team.name == "Day shift"


def test_the_intake_team_is_a_helpline_setting_of_its_own_active_teams(
    api, admin_user, helpline, team, elsewhere
):
    url = f"/api/v1/helplines/{helpline.pk}/"
    response = api(admin_user).patch(url, {"intake_team": elsewhere["team"].pk}, format="json")
    assert error_pairs(response) == {("intake_team", "does_not_exist")}
    retired = factories.TeamFactory(helpline=helpline, name="Old team", is_active=False)
    response = api(admin_user).patch(url, {"intake_team": retired.pk}, format="json")
    assert error_pairs(response) == {("intake_team", "retired")}

    response = api(admin_user).patch(url, {"intake_team": team.pk}, format="json")
    assert response.status_code == 200 and response.json()["intake_team"] == team.pk
    entry = AuditEntry.objects.get(action="helpline.update")
    assert entry.changes == {"intake_team": {"before": None, "after": team.pk}}

    # The intake team cannot be retired while it is one (its members moved away first).
    User.objects.filter(team=team).update(team=None)
    response = api(admin_user).patch(team_url(team), {"is_active": False}, format="json")
    assert_error(response, 409, code="team_receives_intake")
    assert api(admin_user).patch(url, {"intake_team": None}, format="json").status_code == 200
    assert api(admin_user).patch(team_url(team), {"is_active": False}, format="json").status_code == 200


def test_a_platform_administrator_cannot_make_another_helplines_team_the_intake_team(
    api, helpline, elsewhere
):
    root = factories.AdminFactory(username="root", helpline=None)
    response = api(root).patch(
        f"/api/v1/helplines/{helpline.pk}/", {"intake_team": elsewhere["team"].pk}, format="json"
    )
    assert error_pairs(response) == {("intake_team", "does_not_exist")}


def test_the_team_list_costs_the_same_queries_for_3_teams_as_for_30(api, supervisor, helpline):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_teams(n: int) -> None:
        for i in range(n):
            team = factories.TeamFactory(helpline=helpline)
            factories.OperatorFactory(username=f"member{team.pk}_{i}", helpline=helpline, team=team)

    def queries() -> int:
        client = api(supervisor)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(TEAMS, {"page_size": 50}).status_code == 200
        return len(captured)

    add_teams(3)
    few = queries()
    add_teams(27)
    assert queries() == few
