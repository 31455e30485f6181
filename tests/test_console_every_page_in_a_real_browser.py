"""Every page of the console, as each role that has it, in a real Chromium over a real server
with the demo data: no serious or critical accessibility violation (axe-core, WCAG 2.2 A/AA), no
Content-Security-Policy violation or script error, and each page under 150 KB transferred when
loaded with an empty cache. The pages are taken from the URL table, so a new page is checked
as soon as it exists (and fails here until the test knows how to name its object)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from demo.management.commands.seed_demo import DEFAULT_PASSWORD
from tests.browser import PAGE_BUDGET_BYTES, accessibility_problems, chromium, page_weight, watch
from tests.console import current_code

pytestmark = pytest.mark.browser

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# Parts of pages (what the live regions ask for), not pages: checked inside their page.
PARTS = {"queue-rows", "chat-rows", "conversation", "notification-rows", "dashboard-figures"}
PEOPLE = ("operator1", "supervisor1", "police1", "admin1")


def console_routes() -> list[tuple[str, URLPattern]]:
    """(name, pattern) of every console route, with the prefixes of included ones."""
    found: list[tuple[str, URLPattern]] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                found.append((prefix + str(pattern.pattern), pattern))

    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and str(pattern.pattern) == "console/":
            walk(pattern.url_patterns, "/console/")
    return found


def objects() -> dict[str, int | str]:
    """An object of the demo data for each path parameter a console page takes."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cases.models import Case, Escalation
    from channels_sms.models import Callback, CannedReply, PhoneNumber, VoiceRoute
    from helpline.models import Team, User
    from referrals.models import Agency, Referral

    referral = Referral.objects.filter(agency__code="police").order_by("id").first()
    case = Case.objects.filter(restricted=False).exclude(state="closed").order_by("id").first()
    helpline = case.helpline
    if not CannedReply.objects.exists():
        CannedReply.objects.create(
            helpline=helpline,
            language="en",
            title="Safe now?",
            body="Are you safe now?",
            created_by=User.objects.get(username="admin1"),
        )
    if not VoiceRoute.objects.exists():
        voice = PhoneNumber.objects.filter(helpline=helpline, channel="voice").order_by("id").first()
        VoiceRoute.objects.create(number=voice, mode="dial", dial_numbers="+254700000001")
    found = {
        "helpline_id": helpline,
        "contact_id": case.contacts.order_by("id").first(),
        "case_id": case,
        "referral_id": referral,
        "escalation_id": Escalation.objects.order_by("id").first(),
        "user_id": User.objects.get(username="operator1"),
        "team_id": Team.objects.order_by("id").first(),
        "agency_id": Agency.objects.get(code="police"),
        "reply_id": CannedReply.objects.order_by("id").first(),
        "canned_reply_id": CannedReply.objects.order_by("id").first(),
        "number_id": PhoneNumber.objects.order_by("id").first(),
        "voice_route_id": VoiceRoute.objects.order_by("id").first(),
        "callback_id": Callback.objects.order_by("id").first(),
        "device_id": TOTPDevice.objects.order_by("id").first(),
    }
    known: dict[str, int | str] = {name: obj.pk for name, obj in found.items() if obj is not None}
    return known


def path_of(route: str, pattern: URLPattern, known: dict[str, int | str]) -> str | None:
    names = list(pattern.pattern.converters)
    if any(name not in known for name in names):
        return None
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(known[m.group(1)]), route)


def sign_in(page, username: str) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    page.goto("/console/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    device = TOTPDevice.objects.filter(user__username=username).first()
    if device is not None:
        page.get_by_label("Authentication code").fill(current_code(device))
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/sign-in/"))


@pytest.fixture
def server(stack):
    call_command("seed_demo", totp_secret=SECRET, stdout=io.StringIO())
    stack.redis()
    return stack.gunicorn().url


def test_every_page_of_every_role_is_accessible_light_and_within_its_policy(server):
    known = objects()
    routes = console_routes()
    unnamed = [
        route
        for route, pattern in routes
        if path_of(route, pattern, known) is None
        and hasattr(getattr(pattern.callback, "view_class", None), "get")
    ]
    assert unnamed == [], f"pages whose objects this test cannot name: {unnamed}"
    visited: set[str] = set()
    problems: list[str] = []
    with chromium() as browser:
        for username in PEOPLE:
            context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            seen = watch(page)
            sign_in(page, username)
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            for route, pattern in routes:
                if pattern.name in PARTS or not hasattr(getattr(pattern.callback, "view_class", None), "get"):
                    continue
                try:
                    answer = page.goto(path_of(route, pattern, known))
                except PlaywrightError as error:
                    if "Download is starting" not in str(error):
                        raise
                    visited.add(pattern.name)  # a file (an export), not a page
                    continue
                if answer is None or answer.status != 200 or "/sign-in/" in page.url:
                    continue  # not this role's page (404), a form's address (405), or signing out
                visited.add(pattern.name)
                name = f"{username} {route}"
                problems += [f"{name}: {p}" for p in accessibility_problems(page)]
                weight = page_weight(page)
                if weight >= PAGE_BUDGET_BYTES:
                    problems.append(f"{name}: {weight} bytes")
            problems += [f"{username}: CSP {v}" for v in seen.csp_violations]
            problems += [f"{username}: script error {e}" for e in seen.errors]
            context.close()
    assert problems == []
    pages = {p.name for _route, p in routes if p.name not in PARTS}
    # Every page was seen by someone (forms' addresses answer GET with 405 and are not pages).
    forms = {
        p.name for _route, p in routes if "get" not in getattr(p.callback, "view_class", object).__dict__
    }
    forms |= {n for n in pages if n in {"sign-out", "language"}}
    assert pages - forms - visited == set()
