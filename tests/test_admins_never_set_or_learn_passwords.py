"""Administrators never set or learn another person's password: creating a person, or asking for a
reset, issues a one-time, expiring set-password link with which only its holder sets a password of
their own. Issuing and using one are flagged in the audit log for review and shown to the person."""

import json
import random
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from knox.models import AuthToken

from helpline.models import AuditEntry, SetPasswordLink, User
from tests.factories import PASSWORD, HelplineFactory, OperatorFactory

NEW_PASSWORD = "Their-own-passphrase-42"


def an_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def sign_in(api, username, password):
    body = {"username": username, "password": password}
    return api().post("/api/v1/auth/token/", body, format="json", REMOTE_ADDR=an_address())


def set_password(api, token, password=NEW_PASSWORD):
    body = {"token": token, "password": password}
    return api().post("/api/v1/auth/password/", body, format="json", REMOTE_ADDR=an_address())


def only_error(response) -> dict:
    (error,) = response.json()["errors"]
    return error


def test_an_admin_cannot_set_a_password_and_sign_in_as_the_person(api, admin_user, operator):
    response = api(admin_user).patch(
        f"/api/v1/users/{operator.pk}/", {"password": "Admin-chosen-pass-1"}, format="json"
    )
    assert response.status_code == 400
    assert only_error(response)["attr"] == "password"
    assert sign_in(api, operator.username, "Admin-chosen-pass-1").status_code == 401
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)


def test_an_admin_cannot_give_a_new_person_a_password(api, admin_user):
    body = {"username": "operator9", "password": "Admin-chosen-pass-1", "role": "operator"}
    response = api(admin_user).post("/api/v1/users/", body, format="json")
    assert response.status_code == 400
    assert only_error(response)["attr"] == "password"
    assert not User.objects.filter(username="operator9").exists()


def test_a_new_person_sets_their_own_password_with_the_link_once(api, admin_user, team):
    response = api(admin_user).post(
        "/api/v1/users/", {"username": "operator9", "role": "operator", "team": team.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    link = response.json()["set_password"]
    token = link["token"]
    created = User.objects.get(username="operator9")
    assert not created.has_usable_password()
    assert sign_in(api, "operator9", "").status_code in (400, 401)
    # Only a hash of the token is stored.
    (stored,) = SetPasswordLink.objects.filter(user=created)
    assert token not in stored.digest and stored.issued_by == admin_user
    assert link["expires_at"] == stored.expires_at.isoformat().replace("+00:00", "Z")
    assert stored.expires_at - stored.created_at == timedelta(hours=72)

    assert set_password(api, token).status_code == 204
    signed_in = sign_in(api, "operator9", NEW_PASSWORD)
    assert signed_in.status_code == 200, signed_in.json()

    again = set_password(api, token, "Someone-elses-pass-77")
    assert again.status_code == 400
    assert (only_error(again)["attr"], only_error(again)["code"]) == ("token", "used")
    assert sign_in(api, "operator9", NEW_PASSWORD).status_code == 200

    actions = list(AuditEntry.objects.filter(object_id=str(created.pk)).values_list("action", flat=True))
    assert actions[:3] == ["user.create", "user.password_link", "user.password_set"]
    issued = AuditEntry.objects.get(action="user.password_link")
    used = AuditEntry.objects.get(action="user.password_set")
    assert (issued.actor, issued.extra["review"]) == (admin_user, True)
    assert (used.actor, used.extra["review"]) == (created, True)
    assert issued.helpline_id == used.helpline_id == admin_user.helpline_id
    recorded = json.dumps([[e.changes, e.extra] for e in AuditEntry.objects.all()])
    assert token not in recorded and NEW_PASSWORD not in recorded


def test_a_reset_link_replaces_the_password_and_signs_the_person_out(api, admin_user, operator):
    phone = api(operator)
    first = api(admin_user).post(f"/api/v1/users/{operator.pk}/password-link/")
    second = api(admin_user).post(f"/api/v1/users/{operator.pk}/password-link/")
    assert first.status_code == second.status_code == 201
    assert set(second.json()) == {"token", "expires_at"}
    # Asking for a reset changes nothing yet: the person still signs in as before.
    assert phone.get("/api/v1/auth/me/").status_code == 200
    assert sign_in(api, operator.username, PASSWORD).status_code == 200

    superseded = set_password(api, first.json()["token"])
    assert (superseded.status_code, only_error(superseded)["code"]) == (400, "revoked")
    assert set_password(api, second.json()["token"]).status_code == 204
    assert phone.get("/api/v1/auth/me/").status_code == 401
    assert not AuthToken.objects.filter(user=operator).exists()
    assert sign_in(api, operator.username, PASSWORD).status_code == 401
    assert sign_in(api, operator.username, NEW_PASSWORD).status_code == 200


def test_an_expired_or_unknown_link_is_refused(api, admin_user, operator):
    issued = api(admin_user).post(f"/api/v1/users/{operator.pk}/password-link/").json()
    with time_machine.travel(timezone.now() + timedelta(hours=72, seconds=1)):
        late = set_password(api, issued["token"])
    assert (late.status_code, only_error(late)["code"], only_error(late)["attr"]) == (400, "expired", "token")
    unknown = set_password(api, "x" * 43)
    assert (unknown.status_code, only_error(unknown)["code"]) == (400, "invalid")
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="user.password_set").exists()


def test_a_weak_password_is_refused_and_the_link_still_works(api, admin_user, operator):
    token = api(admin_user).post(f"/api/v1/users/{operator.pk}/password-link/").json()["token"]
    weak = set_password(api, token, "operator1")
    assert weak.status_code == 400
    assert {e["attr"] for e in weak.json()["errors"]} == {"password"}
    assert set_password(api, token).status_code == 204


def test_a_deactivated_persons_link_does_not_work(api, admin_user, operator):
    token = api(admin_user).post(f"/api/v1/users/{operator.pk}/password-link/").json()["token"]
    api(admin_user).patch(f"/api/v1/users/{operator.pk}/", {"is_active": False}, format="json")
    refused = set_password(api, token)
    assert (refused.status_code, only_error(refused)["code"]) == (400, "invalid")


@pytest.mark.parametrize("fixture", ["operator", "supervisor", "agency_user"])
def test_only_administrators_issue_links(request, api, fixture, other_operator):
    caller = request.getfixturevalue(fixture)
    response = api(caller).post(f"/api/v1/users/{other_operator.pk}/password-link/")
    assert response.status_code == 403
    assert not SetPasswordLink.objects.exists()


def test_an_administrator_issues_links_in_their_own_helpline_only(api, admin_user):
    stranger = OperatorFactory(helpline=HelplineFactory(code="ELSE"))
    assert api(admin_user).post(f"/api/v1/users/{stranger.pk}/password-link/").status_code == 404
    assert not SetPasswordLink.objects.exists()


def test_the_person_sees_the_flagged_changes_to_their_account(api, admin_user, operator, other_operator):
    token = api(admin_user).post(f"/api/v1/users/{operator.pk}/password-link/").json()["token"]
    api(admin_user).post(f"/api/v1/users/{other_operator.pk}/password-link/")
    set_password(api, token)
    rows = api(operator).get("/api/v1/auth/security-events/").json()["results"]
    assert [(r["action"], r["actor_username"]) for r in rows] == [
        ("user.password_set", operator.username),
        ("user.password_link", admin_user.username),
    ]
    assert all(set(r) == {"id", "at", "action", "actor_username", "actor_role", "client_ip"} for r in rows)
    # Supervisors find every flagged change to review.
    assert AuditEntry.objects.filter(extra__review=True).count() == 3


def test_supervisors_find_the_flagged_changes_in_the_audit_log(api, admin_user, operator, supervisor):
    api(admin_user).patch(f"/api/v1/users/{operator.pk}/", {"first_name": "Amina"}, format="json")
    api(admin_user).post(f"/api/v1/users/{operator.pk}/password-link/")
    flagged = api(supervisor).get("/api/v1/audit/?review=true").json()["results"]
    assert [(e["action"], e["object_id"]) for e in flagged] == [("user.password_link", str(operator.pk))]
    others = api(supervisor).get("/api/v1/audit/?review=false&object_type=helpline.user").json()["results"]
    assert "user.update" in {e["action"] for e in others}
    assert "user.password_link" not in {e["action"] for e in others}
