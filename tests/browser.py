"""A real Chromium for the console's tests (Debian's, found by config/browser.py), driven by
Playwright: each page checked for accessibility (axe-core: no serious or critical violation of
WCAG 2.2 A/AA), for what it weighs on first load, and for any Content-Security-Policy violation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from django.db import connections

from config.browser import HOW, find

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"
PAGE_BUDGET_BYTES = 150 * 1024
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def chromium_path() -> str:
    path = find()
    if path is None:
        raise AssertionError(f"The console's browser tests need Chromium (make test installs it): {HOW}")
    return path


@dataclass
class Watched:
    """What a page did that a test asserts on: CSP violations and console errors."""

    csp_violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def watch(page) -> Watched:
    seen = Watched()

    def on_console(message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            seen.csp_violations.append(text)
        elif message.type == "error" and "Failed to load resource" not in text:
            seen.errors.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    return seen


def accessibility_problems(page) -> list[str]:
    """Serious and critical violations of WCAG 2.2 A/AA on the page as it is now."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def page_weight(page) -> int:
    """Bytes transferred for the document and everything it loaded (as the browser counts them)."""
    return int(
        page.evaluate(
            """() => performance.getEntriesByType('navigation')
                 .concat(performance.getEntriesByType('resource'))
                 .reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0)"""
        )
    )


def screenshot(page, name: str) -> None:
    """Kept current in docs/screenshots/ (README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (one per test module); Django's ORM stays usable in the test while
    Playwright's event loop runs in the same thread."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
            try:
                yield browser
            finally:
                browser.close()
                # The ORM's connection opened while Playwright ran belongs to that context: closed
                # here, or the test database could not be dropped after the test.
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
