"""Signing in and out with tokens; administrators manage people and helplines, not case content."""

import pytest

from cases.models import Category
from helpline.models import AuditEntry, Helpline, User
from tests.factories import PASSWORD, AdminFactory, HelplineFactory, TeamFactory


def login(api, username, password=PASSWORD):
    return api().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_login_returns_a_token_that_authenticates(api, operator):
    response = login(api, "operator1")
    assert response.status_code == 200
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    me = client.get("/api/v1/auth/me/").json()
    assert (me["username"], me["role"], me["helpline"]) == ("operator1", "operator", "DEMO")
    assert AuditEntry.objects.filter(action="auth.login", actor=operator, outcome="allowed").exists()


@pytest.mark.parametrize(("username", "password"), [("operator1", "wrong-password"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_refused_and_recorded(api, operator, username, password):
    response = login(api, username, password)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "authentication_failed"
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.outcome == "denied"
    assert entry.extra["username"] == username
    assert PASSWORD not in str(entry.extra) and "wrong-password" not in str(entry.extra)


def test_inactive_user_cannot_sign_in(api, operator):
    operator.is_active = False
    operator.save()
    assert login(api, "operator1").status_code == 401


def test_logout_revokes_the_token(api, operator):
    token = login(api, "operator1").json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/auth/me/").status_code == 401
    assert AuditEntry.objects.filter(action="auth.logout", actor=operator).exists()


def test_admin_creates_a_user_in_their_own_helpline(api, admin_user, team):
    other = HelplineFactory(code="OTHER")
    body = {
        "username": "operator9",
        "role": "operator",
        "team": team.pk,
    }
    # Another helpline is answered as a helpline that does not exist (issue #13, leak 8b).
    refused = api(admin_user).post("/api/v1/users/", {**body, "helpline": other.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "does_not_exist"
    response = api(admin_user).post("/api/v1/users/", body, format="json")
    assert response.status_code == 201, response.json()
    created = User.objects.get(username="operator9")
    assert created.helpline == admin_user.helpline  # never another helpline's
    assert not created.has_usable_password()  # the person sets it with the link in the answer
    assert response.json()["set_password"]["token"]
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.actor == admin_user
    assert response.json()["set_password"]["token"] not in str(entry.changes)


def test_foreign_team_and_agency_role_without_agency_are_refused(api, admin_user):
    client = api(admin_user)
    foreign_team = TeamFactory(helpline=HelplineFactory(code="OTHER"))
    response = client.post(
        "/api/v1/users/",
        {"username": "op10", "role": "operator", "team": foreign_team.pk},
        format="json",
    )
    assert response.status_code == 400
    agency_without_agency = client.post(
        "/api/v1/users/", {"username": "op11", "role": "agency"}, format="json"
    )
    assert agency_without_agency.status_code == 400
    assert not User.objects.filter(username__in=["op10", "op11"]).exists()


def test_deactivating_a_user_revokes_their_access(api, admin_user, operator):
    client = api(operator)
    assert client.get("/api/v1/auth/me/").status_code == 200
    response = api(admin_user).patch(f"/api/v1/users/{operator.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me/").status_code == 401


@pytest.mark.parametrize("fixture", ["operator", "supervisor", "agency_user"])
def test_only_admins_manage_users_and_helplines(request, api, fixture, helpline):
    client = api(request.getfixturevalue(fixture))
    assert client.get("/api/v1/users/").status_code == 403
    assert client.get("/api/v1/helplines/").status_code == 403
    assert client.patch(f"/api/v1/helplines/{helpline.pk}/", {"name": "x"}, format="json").status_code == 403


def test_helpline_admin_sees_only_their_helpline_and_users(api, admin_user, operator):
    elsewhere = HelplineFactory(code="ELSE")
    outsider = AdminFactory(helpline=elsewhere)
    client = api(admin_user)
    assert {row["code"] for row in client.get("/api/v1/helplines/").json()["results"]} == {"DEMO"}
    assert client.get(f"/api/v1/helplines/{elsewhere.pk}/").status_code == 404
    assert client.get(f"/api/v1/users/{outsider.pk}/").status_code == 404
    usernames = {row["username"] for row in client.get("/api/v1/users/").json()["results"]}
    assert usernames == {admin_user.username, operator.username}


def test_platform_admin_creates_a_helpline_with_the_default_categories(api, db):
    platform_admin = AdminFactory(helpline=None)
    client = api(platform_admin)
    response = client.post(
        "/api/v1/helplines/",
        {
            "code": "MN108",
            "name": "Mongolia 108",
            "country": "MN",
            "timezone": "Asia/Ulaanbaatar",
            "default_language": "mn",
            "due_policy": {"intake": {"critical": 10}},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    helpline = Helpline.objects.get(code="MN108")
    assert Category.objects.filter(
        helpline=helpline, code="suicidal_thoughts", parent_code="mental_health"
    ).exists()
    bad_zone = client.post(
        "/api/v1/helplines/",
        {"code": "XX1", "name": "x", "country": "MX", "timezone": "Mars/Olympus"},
        format="json",
    )
    assert bad_zone.status_code == 400
    bad_policy = client.patch(
        f"/api/v1/helplines/{helpline.pk}/", {"due_policy": {"intake": {"critical": -1}}}, format="json"
    )
    assert bad_policy.status_code == 400
    assert Helpline.objects.get(code="MN108").due_policy == {"intake": {"critical": 10}}


def test_helpline_admin_cannot_create_helplines(api, admin_user):
    response = api(admin_user).post(
        "/api/v1/helplines/", {"code": "NEW", "name": "x", "country": "MX"}, format="json"
    )
    assert response.status_code == 403
