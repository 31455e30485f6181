"""The console is secure by default: a strict Content-Security-Policy and no inline script or style
on any page, CSRF on every form and htmx request, no framing, cookies scripts cannot read, nothing
cached, and no personal data in addresses (search goes in a POST)."""

import re

import pytest
from django.test import Client

from tests import factories
from tests.console import an_address, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+=", re.I)


def pages_of(user, helpline):
    case = factories.CaseFactory(helpline=helpline, assigned_to=user if user.role != "agency" else None)
    return {
        "operator": [
            "/console/queue/",
            "/console/search/",
            "/console/callbacks/",
            "/console/notifications/",
            f"/console/cases/{case.pk}/",
            "/console/account/",
        ],
        "supervisor": [
            "/console/queue/",
            "/console/dashboard/",
            "/console/escalations/",
            f"/console/cases/{case.pk}/",
            f"/console/cases/{case.pk}/history/",
        ],
        "agency": ["/console/referrals/", "/console/account/"],
        "admin": ["/console/account/"],
    }[user.role]


@pytest.mark.parametrize("role", ["operator", "supervisor", "agency", "admin"])
def test_no_page_has_inline_script_or_style_and_every_page_has_the_headers(
    role, operator, supervisor, agency_user, admin_user, helpline
):
    user = {"operator": operator, "supervisor": supervisor, "agency": agency_user, "admin": admin_user}[role]
    client = sign_in(user)
    for path in [*pages_of(user, helpline), "/console/sign-in/"]:
        answer = client.get(path)
        assert answer.status_code in (200, 302), path
        if answer.status_code != 200:
            continue
        html = answer.content.decode()
        assert not INLINE_SCRIPT.search(html), path
        assert not INLINE_STYLE.search(html), path
        assert not INLINE_HANDLER.search(html), path
        policy = answer["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert answer["X-Frame-Options"] == "DENY"
        assert "no-store" in answer["Cache-Control"], path


def test_the_session_and_csrf_cookies_are_out_of_scripts_reach(operator):
    client = Client()
    client.get("/console/sign-in/")
    client = sign_in(operator, client=client)
    session = client.cookies["lifeline_session"]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert client.cookies["csrftoken"]["httponly"]


def test_a_form_without_the_csrf_token_is_refused(operator, walk_in):
    case = walk_in()
    # Signing in needs the token too.
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=an_address())
    page = client.get("/console/sign-in/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    signed = client.post(
        "/console/sign-in/", {"username": "operator1", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert signed.status_code == 302
    refused = client.post(f"/console/cases/{case['id']}/notes/", {"body": "x"})
    assert refused.status_code == 403
    assert "This form has expired" in refused.content.decode()
    page = client.get(f"/console/cases/{case['id']}/").content.decode()
    # htmx sends the token in a header taken from the page.
    header_token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page).group(1)
    accepted = client.post(
        f"/console/cases/{case['id']}/notes/", {"body": "x"}, headers={"X-CSRFToken": header_token}
    )
    assert accepted.status_code == 302


def test_search_words_never_go_in_the_address(operator, walk_in):
    walk_in(child_first_name="Oyunchimeg")
    client = sign_in(operator)
    form = client.get("/console/search/").content.decode()
    assert '<form method="post" role="search">' in form
    found = client.post("/console/search/", {"q": "Oyunchimeg"})
    assert found.status_code == 200
    assert "1 case found" in found.content.decode()
    # A query string is not a way around it: the search page takes none.
    assert client.get("/console/search/?q=Oyunchimeg").status_code == 400
