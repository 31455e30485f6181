"""Supervisors and administrators enrol their own authenticator at their first sign-in; an
administrator may only reset (remove) someone's authenticator, never see or set its secret. Both
are flagged in the audit log for review and shown to the person."""

import base64
import json
import random
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from helpline.models import AuditEntry
from tests.factories import PASSWORD, HelplineFactory, SupervisorFactory


def an_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def post(api, url, body):
    return api().post(url, body, format="json", REMOTE_ADDR=an_address())


def code_for(secret: str) -> str:
    return f"{totp(base64.b32decode(secret)):06d}"


def only_error(response) -> dict:
    (error,) = response.json()["errors"]
    return error


def enrol(api, user, password=PASSWORD):
    return post(api, "/api/v1/auth/totp/", {"username": user.username, "password": password})


def confirm(api, user, otp, password=PASSWORD):
    body = {"username": user.username, "password": password, "otp": otp}
    return post(api, "/api/v1/auth/totp/confirm/", body)


def test_an_admin_cannot_obtain_a_persons_authenticator_secret(api, admin_user, supervisor):
    response = api(admin_user).post(f"/api/v1/users/{supervisor.pk}/totp/")
    assert response.status_code == 405
    assert "secret" not in response.content.decode()
    assert not TOTPDevice.objects.filter(user=supervisor).exists()


@pytest.mark.parametrize("who", ["supervisor", "admin_user"])
def test_a_person_enrols_at_first_sign_in_and_then_signs_in(request, api, who):
    user = request.getfixturevalue(who)
    first = post(api, "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})
    assert (first.status_code, only_error(first)["code"]) == (401, "otp_not_configured")
    assert "/api/v1/auth/totp/" in only_error(first)["detail"]

    started = enrol(api, user)
    assert started.status_code == 201, started.json()
    secret = started.json()["secret"]
    assert started.json()["otpauth_url"].startswith("otpauth://totp/")
    # Not yet usable: the person proves their app shows the codes first.
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    confirmed = confirm(api, user, code_for(secret))
    assert confirmed.status_code == 200, confirmed.json()
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {confirmed.json()['token']}")
    assert client.get("/api/v1/auth/me/").status_code == 200
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1

    # Enrolled: a second enrolment is refused, whoever knows the password.
    again = enrol(api, user)
    assert (again.status_code, only_error(again)["code"]) == (409, "already_enrolled")
    entry = AuditEntry.objects.get(action="user.second_factor_enrol")
    assert (entry.actor, entry.extra["review"], entry.helpline_id) == (user, True, user.helpline_id)
    assert secret not in json.dumps([[e.changes, e.extra] for e in AuditEntry.objects.all()])


def test_enrolment_needs_the_password_and_the_right_code(api, supervisor):
    wrong_password = enrol(api, supervisor, "Wrong-password-123")
    assert (wrong_password.status_code, only_error(wrong_password)["code"]) == (401, "authentication_failed")
    assert not TOTPDevice.objects.filter(user=supervisor).exists()
    secret = enrol(api, supervisor).json()["secret"]
    right = code_for(secret)
    wrong = confirm(api, supervisor, f"{(int(right) + 1) % 10**6:06d}")
    assert (wrong.status_code, only_error(wrong)["code"]) == (401, "otp_invalid")
    not_started = confirm(api, SupervisorFactory(helpline=supervisor.helpline), "123456")
    assert (not_started.status_code, only_error(not_started)["code"]) == (401, "otp_not_configured")
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        assert confirm(api, supervisor, code_for(secret)).status_code == 200
    assert AuditEntry.objects.filter(action="user.second_factor_enrol").count() == 1


def test_operators_do_not_enrol(api, operator):
    response = enrol(api, operator)
    assert (response.status_code, only_error(response)["code"]) == (400, "otp_not_required")
    assert not TOTPDevice.objects.exists()


def test_an_admin_resets_an_authenticator_without_seeing_it(api, admin_user, supervisor):
    TOTPDevice.objects.create(user=supervisor, name="lost phone", confirmed=True)
    signed_in = api(supervisor)
    response = api(admin_user).delete(f"/api/v1/users/{supervisor.pk}/totp/")
    assert response.status_code == 204 and not response.content
    assert not TOTPDevice.objects.filter(user=supervisor).exists()
    assert signed_in.get("/api/v1/auth/me/").status_code == 401
    assert not AuthToken.objects.filter(user=supervisor).exists()
    entry = AuditEntry.objects.get(action="user.second_factor_reset")
    assert (entry.actor, entry.extra["review"]) == (admin_user, True)
    assert entry.helpline_id == supervisor.helpline_id

    # The person enrols again at their next sign-in, and sees what happened.
    secret = enrol(api, supervisor).json()["secret"]
    token = confirm(api, supervisor, code_for(secret)).json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    rows = client.get("/api/v1/auth/security-events/").json()["results"]
    assert [(r["action"], r["actor_username"]) for r in rows] == [
        ("user.second_factor_enrol", supervisor.username),
        ("user.second_factor_reset", admin_user.username),
    ]


def test_only_admins_of_the_helpline_reset(api, admin_user, supervisor, operator):
    TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    assert api(supervisor).delete(f"/api/v1/users/{operator.pk}/totp/").status_code == 403
    stranger = SupervisorFactory(helpline=HelplineFactory(code="ELSE"))
    TOTPDevice.objects.create(user=stranger, name="phone", confirmed=True)
    assert api(admin_user).delete(f"/api/v1/users/{stranger.pk}/totp/").status_code == 404
    assert TOTPDevice.objects.count() == 2
