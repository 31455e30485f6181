"""A set-password link opened in a real Chromium: the token after `#` fills the form's code field
and leaves the address bar, the server never receives it in an address (its access log has only
`/console/password/`), and the person signs in with the password they chose."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from helpline.services import user_password_link_issue
from tests import factories
from tests.browser import accessibility_problems, chromium, watch

pytestmark = pytest.mark.browser


def test_a_person_sets_their_password_from_the_link_and_signs_in(stack, helpline):
    administrator = factories.AdminFactory(username="admin1", helpline=helpline)
    newcomer = factories.OperatorFactory(username="newcomer", helpline=helpline)
    link = user_password_link_issue(actor=administrator, user=newcomer)
    stack.log_level = "INFO"  # gunicorn writes its access log
    stack.redis()
    web = stack.gunicorn()
    with chromium() as browser:
        page = browser.new_context(base_url=web.url).new_page()
        seen = watch(page)
        page.goto(f"/console/password/#{link.token}")
        expect(page.get_by_label("Code from your link")).to_have_value(link.token)
        assert page.evaluate("window.location.hash") == ""
        assert accessibility_problems(page) == []
        page.get_by_label("New password").fill("Chosen-by-me-2026")
        page.get_by_label("The same password again").fill("Chosen-by-me-2026")
        page.get_by_role("button", name="Set my password").click()
        expect(page).to_have_url(re.compile(r"/console/sign-in/\?password=1$"))
        page.get_by_label("Username").fill("newcomer")
        page.get_by_label("Password", exact=True).fill("Chosen-by-me-2026")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/console/queue/$"))
        assert seen.csp_violations == [] and seen.errors == []
    stack.close()
    logged = web.log_path.read_text()
    assert "/console/password/" in logged
    assert link.token not in logged
