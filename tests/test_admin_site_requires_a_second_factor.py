"""The Django admin site cannot be used to get around two-factor sign-in."""

from django.contrib.auth.models import Permission
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD


def _staff_admin(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    admin_user.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    return TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)


def login(client, username, **extra):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD, **extra})


def test_admin_login_without_the_code_is_refused(db, admin_user):
    _staff_admin(admin_user)
    client = Client()
    response = login(client, admin_user.username)
    assert response.status_code == 200  # the form again, with an error
    assert client.get("/admin/helpline/auditentry/").status_code == 302  # back to the login page


def test_admin_login_with_the_code_gets_in(db, admin_user):
    device = _staff_admin(admin_user)
    client = Client()
    code = f"{totp(device.bin_key):06d}"
    response = login(client, admin_user.username, otp_device=device.persistent_id, otp_token=code)
    assert response.status_code == 302
    assert client.get("/admin/helpline/auditentry/").status_code == 200
