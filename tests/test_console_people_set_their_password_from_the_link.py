"""A person opens the set-password link an administrator handed them and chooses their password in
the console: the token travels after `#` (never to a server, so never in a log), the password
rules are the API's, the link works once, and then they sign in."""

import re

import pytest
from django.test import Client

from helpline.models import AuditEntry
from helpline.services import user_password_link_issue
from tests.console import sign_in

pytestmark = pytest.mark.django_db


def test_the_link_sets_the_password_once(admin_user, operator):
    link = user_password_link_issue(actor=admin_user, user=operator)
    browser = Client()
    form = browser.get("/console/password/").content.decode()
    assert '<label for="link-code">Code from your link</label>' in form
    assert '<label for="password">New password</label>' in form
    body = {"token": link.token, "password": "A-new-long-pass-7", "password_again": "other"}
    assert browser.post("/console/password/", body).status_code == 400
    weak = browser.post("/console/password/", {**body, "password": "12345", "password_again": "12345"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    done = browser.post("/console/password/", {**body, "password_again": "A-new-long-pass-7"})
    assert done["Location"] == "/console/sign-in/?password=1"
    operator.refresh_from_db()
    assert operator.check_password("A-new-long-pass-7")
    assert AuditEntry.objects.filter(action="user.password_set", object_id=str(operator.pk)).exists()
    # Used: a second time it is refused, and says why.
    again = browser.post(
        "/console/password/", {**body, "password": "Another-long-9x", "password_again": "Another-long-9x"}
    )
    assert again.status_code == 400 and "used already" in again.content.decode()


def test_the_administrator_hands_over_an_address_whose_token_no_server_sees(admin_user, operator, settings):
    settings.PUBLIC_BASE_URL = "https://helpline.example.org"
    page = sign_in(admin_user).post(f"/console/admin/people/{operator.pk}/password-link/").content.decode()
    url = re.search(r'id="set-password-token" value="([^"]+)"', page).group(1)
    assert re.fullmatch(r"https://helpline\.example\.org/console/password/#[A-Za-z0-9_-]{20,}", url)


def test_without_a_valid_code_there_is_nothing_to_set():
    body = {"password": "A-new-long-pass-7", "password_again": "A-new-long-pass-7"}
    assert Client().post("/console/password/", body).status_code == 400
    assert Client().post("/console/password/", {**body, "token": "not-a-token"}).status_code == 400
