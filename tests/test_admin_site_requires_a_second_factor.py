"""The Django admin site cannot be used to get around two-factor sign-in."""

from datetime import timedelta

import time_machine
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.models import AuditEntry
from tests.console import an_address
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


def test_an_idle_admin_session_is_signed_out_and_on_record(db, admin_user, settings):
    device = _staff_admin(admin_user)
    client = Client()
    code = f"{totp(device.bin_key):06d}"
    assert (
        login(client, admin_user.username, otp_device=device.persistent_id, otp_token=code).status_code == 302
    )
    assert client.get("/admin/helpline/auditentry/").status_code == 200
    later = timezone.now() + timedelta(minutes=settings.CONSOLE_IDLE_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        answer = client.get("/admin/helpline/auditentry/")
        assert answer.status_code == 302 and answer["Location"].startswith("/admin/login/")
        assert client.get("/admin/helpline/auditentry/").status_code == 302  # signed out for good
    logout = AuditEntry.objects.get(action="auth.logout", actor=admin_user)
    assert logout.extra["idle"] is True


def test_the_admin_site_does_not_take_a_session_it_did_not_sign_in(db, admin_user):
    """A session without the idle clock (signed in by some other way than our two sign-ins) is
    idle from its first request, as in the console."""
    device = _staff_admin(admin_user)
    client = Client()
    client.force_login(admin_user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    assert client.get("/admin/helpline/auditentry/").status_code == 302


def test_a_post_to_the_admin_sign_in_does_not_wake_an_idle_session(db, admin_user, settings):
    """An idle browser is signed out before the admin's form: posting it (even empty) cannot
    restart the idle clock that the console shares."""
    device = _staff_admin(admin_user)
    client = Client()
    code = f"{totp(device.bin_key):06d}"
    assert (
        login(client, admin_user.username, otp_device=device.persistent_id, otp_token=code).status_code == 302
    )
    later = timezone.now() + timedelta(minutes=settings.CONSOLE_IDLE_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        assert client.post("/admin/login/?next=/admin/", {}).status_code == 200  # the form again
        assert client.get("/console/account/").status_code == 302  # to the console's sign-in
        assert client.get("/admin/helpline/auditentry/").status_code == 302
    assert AuditEntry.objects.get(action="auth.logout", actor=admin_user).extra["idle"] is True


def test_an_admin_sign_in_is_on_record_and_throttled_with_the_others(db, admin_user, settings):
    device = _staff_admin(admin_user)
    client = Client(REMOTE_ADDR=an_address())
    code = f"{totp(device.bin_key):06d}"
    assert (
        login(client, admin_user.username, otp_device=device.persistent_id, otp_token=code).status_code == 302
    )
    entry = AuditEntry.objects.get(action="auth.login", actor=admin_user)
    assert entry.extra["admin_site"] is True
    settings.SIGN_IN_RATE = "1/min"
    other = Client(REMOTE_ADDR=an_address())
    assert login(other, admin_user.username, password="wrong").status_code == 200
    refused = login(other, admin_user.username)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
