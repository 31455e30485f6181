"""Administrators give supervisors (and each other) an authenticator through the API."""

import base64

from django_otp.oath import totp
from knox.models import AuthToken

from helpline.models import AuditEntry
from tests.factories import PASSWORD, HelplineFactory, SupervisorFactory


def test_admin_enrols_a_supervisor_who_can_then_sign_in(api, admin_user, supervisor):
    response = api(admin_user).post(f"/api/v1/users/{supervisor.pk}/totp/")
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert response.json()["otpauth_url"].startswith("otpauth://totp/")
    code = f"{totp(base64.b32decode(secret)):06d}"
    login = api().post(
        "/api/v1/auth/token/",
        {"username": supervisor.username, "password": PASSWORD, "otp": code},
        format="json",
        REMOTE_ADDR="10.9.8.7",
    )
    assert login.status_code == 200, login.json()
    entry = AuditEntry.objects.get(action="user.totp_enrol")
    assert entry.actor == admin_user and secret not in str(entry.extra)


def test_re_enrolling_replaces_the_authenticator_and_signs_the_person_out(api, admin_user, supervisor):
    client = api(admin_user)
    client.post(f"/api/v1/users/{supervisor.pk}/totp/")
    AuthToken.objects.create(user=supervisor)
    first_secret_holder = client.post(f"/api/v1/users/{supervisor.pk}/totp/")
    assert first_secret_holder.status_code == 201
    assert supervisor.totpdevice_set.count() == 1
    assert not AuthToken.objects.filter(user=supervisor).exists()


def test_only_admins_of_the_helpline_enrol(api, admin_user, supervisor, operator):
    assert api(supervisor).post(f"/api/v1/users/{operator.pk}/totp/").status_code == 403
    stranger = SupervisorFactory(helpline=HelplineFactory(code="ELSE"))
    assert api(admin_user).post(f"/api/v1/users/{stranger.pk}/totp/").status_code == 404
    assert not stranger.totpdevice_set.exists()
