"""The Django admin site is no way around the API's rule: nobody there sets another person's
password or sees an authenticator's secret."""

from django.contrib.auth.models import Permission
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD


def signed_in_staff(admin_user) -> Client:
    admin_user.is_staff = True
    admin_user.save()
    admin_user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["helpline", "otp_totp"])
    )
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    client = Client()
    body = {
        "username": admin_user.username,
        "password": PASSWORD,
        "otp_device": device.persistent_id,
        "otp_token": f"{totp(device.bin_key):06d}",
    }
    assert client.post("/admin/login/?next=/admin/", body).status_code == 302
    return client


def test_the_admin_site_sets_no_password(db, admin_user, operator):
    client = signed_in_staff(admin_user)
    change_page = client.get(f"/admin/helpline/user/{operator.pk}/change/")
    assert change_page.status_code == 200
    assert 'name="password' not in change_page.content.decode()
    assert client.get(f"/admin/helpline/user/{operator.pk}/password/").status_code == 403
    posted = client.post(
        f"/admin/helpline/user/{operator.pk}/password/",
        {"password1": "Admin-chosen-pass-1", "password2": "Admin-chosen-pass-1"},
    )
    assert posted.status_code == 403
    # Nor a new person with a password of the administrator's choosing.
    assert client.get("/admin/helpline/user/add/").status_code == 403
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)


def test_the_admin_site_shows_no_authenticator_secret(db, admin_user, supervisor):
    client = signed_in_staff(admin_user)
    device = TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)
    pages = [
        client.get("/admin/otp_totp/totpdevice/"),
        client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/"),
    ]
    assert [page.status_code for page in pages] == [200, 200]
    assert all(device.key not in page.content.decode() for page in pages)
    assert all("qrcode" not in page.content.decode().lower() for page in pages)
    qr_code = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/", follow=True)
    assert not qr_code["Content-Type"].startswith("image/")
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
