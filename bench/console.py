"""The console's queue page on a slow mobile connection (issue #17): Chromium (Debian's, driven
by Playwright, config/browser.py) opens `/console/queue/` with an empty cache through Chrome's own
network throttling, as the seeded operator, and reports how long until the page was loaded and
usable, and what it transferred. A figure of this machine and its loopback, not of a real network:
the throttling adds the round trips and the bandwidth of the profile below."""

from __future__ import annotations

import statistics
from typing import Any

# A slow mobile connection: Chrome DevTools' "Slow 3G"-like profile.
PROFILE = {"latency_ms": 400, "down_kbit": 400, "up_kbit": 400}


def throttled_queue(base_url: str, session_key: str, *, runs: int = 5) -> dict[str, Any]:
    """Median and worst load of the queue page over `runs` cold loads (a new browser context
    each: no cache, no connection kept)."""
    from django.conf import settings

    from config.browser import find

    chromium = find()
    if chromium is None:
        return {"error": "no Chromium on this machine (make test installs it)"}
    from playwright.sync_api import sync_playwright

    loads, usable, weights = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            for _ in range(runs):
                context = browser.new_context(base_url=base_url)
                context.add_cookies(
                    [{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": base_url}]
                )
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send(
                    "Network.emulateNetworkConditions",
                    {
                        "offline": False,
                        "latency": PROFILE["latency_ms"],
                        "downloadThroughput": PROFILE["down_kbit"] * 1000 / 8,
                        "uploadThroughput": PROFILE["up_kbit"] * 1000 / 8,
                    },
                )
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                page.goto("/console/queue/", wait_until="load", timeout=120_000)
                timing = page.evaluate(
                    """() => { const n = performance.getEntriesByType('navigation')[0];
                       const all = [n].concat(performance.getEntriesByType('resource'));
                       return {load: n.loadEventEnd, ready: n.domContentLoadedEventEnd,
                               bytes: all.reduce((s, e) => s + (e.transferSize || 0), 0)}; }"""
                )
                loads.append(timing["load"])
                usable.append(timing["ready"])
                weights.append(timing["bytes"])
                context.close()
        finally:
            browser.close()
    return {
        "profile": PROFILE,
        "runs": runs,
        "load_ms_median": statistics.median(loads),
        "load_ms_max": max(loads),
        "dom_ready_ms_median": statistics.median(usable),
        "transferred_bytes": max(weights),
    }


def throttled(base_url: str, exclude: tuple[int, ...], *, runs: int) -> dict[str, Any]:
    """The seeded operator's queue page through a slow mobile connection (bench/run.py's step
    (5)); a browser that cannot start is a figure missing, not a failed run."""
    from django.db import connections

    from bench import reads as read_bench

    keys = read_bench.tokens(read_bench.subjects(exclude))
    connections.close_all()  # Playwright's event loop runs in this thread next
    try:
        return throttled_queue(base_url, keys["operator_console"], runs=runs)
    except Exception as exc:
        return {"error": f"{exc.__class__.__name__}: {exc}"[:500]}
