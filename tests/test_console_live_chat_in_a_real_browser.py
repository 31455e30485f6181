"""Live chat in a real Chromium against a real server: a child opens the web chat and writes; the
operator's open queue shows it without a reload; the operator answers from the case's page; the
child's chat receives the answer; the child's next message appears in the operator's conversation
without a reload."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from cases.models import Case
from tests import factories
from tests.browser import accessibility_problems, chromium, watch
from tests.factories import PASSWORD
from tests.processes import http_request, wait_until

pytestmark = pytest.mark.browser
WAIT_MS = 20_000


def chat(base_url: str, path: str, *, body: dict | None = None, secret: str = "") -> dict:
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Chat-Secret"] = secret
    answer = http_request(
        base_url,
        path,
        method="POST" if body is not None else "GET",
        body=json.dumps(body).encode() if body is not None else None,
        headers=headers,
    )
    assert answer.status < 300, answer.body[:300]
    return json.loads(answer.body)


def test_an_operator_answers_a_childs_web_chat_live(stack, helpline):
    operator = factories.OperatorFactory(username="operator1", helpline=helpline)
    stack.extra_env = {"CONSOLE_POLL_SECONDS": "1"}
    stack.redis()
    web = stack.gunicorn()
    with chromium() as browser:
        page = browser.new_context(base_url=web.url).new_page()
        seen = watch(page)
        page.goto("/console/sign-in/")
        page.get_by_label("Username").fill(operator.username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/console/queue/$"))
        page.evaluate("window.stillTheSamePage = true")

        session = chat(web.url, "/api/v1/chat/sessions/", body={"helpline": helpline.code, "language": "en"})
        messages = f"/api/v1/chat/sessions/{session['id']}/messages/"
        chat(web.url, messages, body={"body": "is anyone there"}, secret=session["secret"])
        case = wait_until(
            "the chat's case", lambda: Case.objects.filter(helpline=helpline).first(), timeout=10
        )
        expect(page.get_by_role("link", name=case.reference)).to_be_visible(timeout=WAIT_MS)
        assert page.evaluate("window.stillTheSamePage") is True

        page.get_by_role("link", name=case.reference).click()
        expect(page.get_by_text("is anyone there")).to_be_visible()
        page.get_by_label("Reply").fill("Yes, I am here. You can tell me.")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#thread")).to_contain_text("Yes, I am here.")
        read = chat(web.url, messages, secret=session["secret"])
        assert "Yes, I am here. You can tell me." in [m["body"] for m in read["results"]]

        page.evaluate("window.stillTheSamePage = true")
        chat(web.url, messages, body={"body": "my brother hurts me"}, secret=session["secret"])
        expect(page.locator("#thread")).to_contain_text("my brother hurts me", timeout=WAIT_MS)
        assert page.evaluate("window.stillTheSamePage") is True
        assert accessibility_problems(page) == []
        assert seen.csp_violations == [] and seen.errors == []
