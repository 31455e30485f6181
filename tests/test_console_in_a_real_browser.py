"""The console's main path in a real Chromium, against real processes (gunicorn, a Celery worker,
Redis, PostgreSQL) and the demo data: a child's SMS arrives through the signed webhook and shows up
in the operator's open queue without a reload; the operator assesses, records consent, previews the
packet and refers; the police user accepts in the agency's inbox; the supervisor sees it all in the
case's history. Every page: no serious or critical accessibility violation (axe-core), no
Content-Security-Policy violation, no script error; first loads under 150 KB. The screenshots in
docs/screenshots/ (README) are taken here."""

from __future__ import annotations

import io
import re
import urllib.parse

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from cases.models import Case
from channels_sms.models import Message
from demo.management.commands.seed_demo import DEFAULT_PASSWORD
from referrals.models import Referral
from tests.browser import PAGE_BUDGET_BYTES, accessibility_problems, chromium, page_weight, screenshot, watch
from tests.console import current_code
from tests.processes import http_request, wait_until
from tests.twilio_signing import sms_params, twilio_signature

pytestmark = pytest.mark.browser

CHILD = "+254711000222"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the demo authenticators' secret in this test
WAIT_MS = 20_000


def post_sms(base_url: str, params: dict[str, str]) -> None:
    path = "/webhooks/twilio/sms/"
    answer = http_request(
        base_url,
        path,
        method="POST",
        body=urllib.parse.urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(path, params, base=base_url),
        },
    )
    assert answer.status == 200, answer.body[:300]


def sign_in(page, username: str, *, code: str = "") -> None:
    page.goto("/console/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    if code:
        page.get_by_label("Authentication code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/sign-in/"))


def checked(page, name: str, *, first_load: bool = False, show: str = "") -> None:
    """The page as it is now: accessible, and (on a first load) light; its screenshot kept
    (scrolled to `show`)."""
    assert accessibility_problems(page) == [], name
    if first_load:
        weight = page_weight(page)
        assert weight < PAGE_BUDGET_BYTES, f"{name}: {weight} bytes"
    if show:
        page.locator(show).scroll_into_view_if_needed()
    screenshot(page, name)


@pytest.fixture
def demo(stack):
    call_command("seed_demo", totp_secret=SECRET, stdout=io.StringIO())
    stack.extra_env = {"CONSOLE_POLL_SECONDS": "1"}
    stack.redis()
    web = stack.gunicorn()
    stack.worker()
    return web.url


def test_an_sms_is_worked_from_the_queue_to_the_agency_and_the_supervisors_timeline(demo):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with chromium() as browser:
        # --- the operator: the queue, live -----------------------------------------------------------
        operator = browser.new_context(base_url=demo, viewport={"width": 1280, "height": 900})
        page = operator.new_page()
        seen = watch(page)
        sign_in(page, "operator1")
        page.goto("/console/queue/")
        checked(page, "queue", first_load=True)
        # The keyboard: j moves to the first case of the list, g then s opens search, g then q the queue.
        page.keyboard.press("j")
        assert page.evaluate("document.activeElement.closest('[data-row]') !== null")
        page.keyboard.press("g")
        page.keyboard.press("s")
        expect(page).to_have_url(re.compile(r"/console/search/$"))
        page.keyboard.press("g")
        page.keyboard.press("q")
        expect(page).to_have_url(re.compile(r"/console/queue/$"))
        page.evaluate("window.stillTheSamePage = true")

        post_sms(demo, sms_params("SM" + "7" * 32, CHILD, "my stepfather hits me"))
        message = wait_until(
            "the SMS threaded", lambda: Message.objects.filter(body__isnull=False).last(), timeout=30
        )
        case = wait_until(
            "its case",
            lambda: Case.objects.filter(pk=message.case_id).first() if message.case_id else None,
            timeout=30,
        )
        expect(page.get_by_role("link", name=case.reference)).to_be_visible(timeout=WAIT_MS)
        assert page.evaluate("window.stillTheSamePage") is True  # it came without a reload

        # --- the workspace: assess, consent, preview, refer ------------------------------------------
        page.get_by_role("link", name=case.reference).click()
        expect(page.get_by_text("my stepfather hits me")).to_be_visible()
        checked(page, "case", first_load=False)
        page.get_by_role("button", name="Start assessment").click()
        expect(page.get_by_role("button", name="Record consent")).to_be_visible()
        page.get_by_label("Consent given by").select_option("child")
        page.get_by_label("Refer the child to a partner agency").check()
        page.get_by_label("Share the child's details the service needs").check()
        page.get_by_role("button", name="Record consent").click()
        page.get_by_label("Agency", exact=True).select_option(label="Police — Child Protection Unit")
        page.get_by_label("Service", exact=True).fill("investigation")
        page.get_by_label("Urgency", exact=True).select_option("urgent")
        page.get_by_label("Why (stays with the helpline)").fill("Violence at home")
        page.get_by_label("Summary for the agency").fill("Please visit the family")
        page.get_by_role("button", name="Preview what the agency gets").click()
        expect(page.locator("#packet")).to_contain_text("Please visit the family")
        checked(page, "referral-preview", show="#packet")
        page.get_by_role("button", name="Send referral").click()
        referral = wait_until("the referral", lambda: Referral.objects.filter(case=case).first(), timeout=10)
        assert seen.csp_violations == [] and seen.errors == []

        # --- the police: the inbox, accept --------------------------------------------------------------
        police = browser.new_context(base_url=demo, viewport={"width": 1280, "height": 900})
        inbox = police.new_page()
        police_seen = watch(inbox)
        sign_in(inbox, "police1")
        expect(inbox).to_have_url(re.compile(r"/console/referrals/$"))
        checked(inbox, "agency-inbox", first_load=True)
        inbox.get_by_role("link", name=case.reference).click()
        expect(inbox.get_by_text("Please visit the family")).to_be_visible()
        checked(inbox, "agency-referral")
        inbox.get_by_role("button", name="Accept").click()
        expect(inbox.get_by_text("Accepted", exact=True)).to_be_visible()
        referral.refresh_from_db()
        assert referral.state == "accepted"
        assert police_seen.csp_violations == [] and police_seen.errors == []

        # --- the supervisor: the dashboard, the case's history -----------------------------------------
        device = TOTPDevice.objects.get(user__username="supervisor1")
        supervision = browser.new_context(base_url=demo, viewport={"width": 1280, "height": 900})
        board = supervision.new_page()
        board_seen = watch(board)
        sign_in(board, "supervisor1", code=current_code(device))
        board.goto("/console/dashboard/")
        checked(board, "dashboard", first_load=True)
        board.goto(f"/console/cases/{case.pk}/history/")
        for action in (
            "case.transition.start_assessment",
            "consent.record",
            "referral.create",
            "referral.accept",
        ):
            expect(board.get_by_text(action, exact=True).first).to_be_visible()
        checked(board, "history")
        assert board_seen.csp_violations == [] and board_seen.errors == []
