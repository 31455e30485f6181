"""A partner agency's client for Lifeline referrals, standard library only (copy it freely).

Signs in, lists the referrals waiting for the agency's answer (state `sent`), prints them and
accepts the oldest one (or the one given with --referral):

    python -m referrals.examples.agency_client --url http://127.0.0.1:8000 --username police1

The password comes from --password, else the LIFELINE_PASSWORD environment variable, else the demo
password `manage.py seed_demo` sets. Exits 1 with the server's error on any HTTP error. See
docs/agency-webhooks.md for the API and the webhooks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

# The published demo password (seed_demo's DEFAULT_PASSWORD), not a credential of any real server.
DEMO_PASSWORD = "Lifeline-demo-2026"  # nosec B105
TIMEOUT_SECONDS = 30


class ApiError(Exception):
    """An HTTP error answer (or no answer) from the Lifeline API, with a readable message."""


class LifelineClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"The Lifeline server's URL must be http:// or https://, not {base_url!r}.")
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, method: str, path_or_url: str, body: dict[str, Any] | None = None) -> Any:
        """Sends one JSON request; returns the decoded answer (None when empty). An absolute URL (a
        page's `next` link) is followed only on this client's own server: the token goes nowhere else."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if _origin(url) != _origin(self.base_url):
            raise ApiError(f"Refusing to send the token to {url}: it is not on {self.base_url}.")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "User-Agent": "lifeline-agency-example/1"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # nosec B310  # http(s) origin
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise ApiError(f"{method} {url} answered HTTP {error.code}: {_error_detail(error)}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(f"{method} {url} failed: {reason}") from None
        return json.loads(raw) if raw else None

    def login(self, username: str, password: str) -> None:
        answer = self.request("POST", "/api/v1/auth/token/", {"username": username, "password": password})
        self.token = answer["token"]

    def pending_referrals(self) -> list[dict[str, Any]]:
        """Every referral waiting for the agency's answer (all pages)."""
        referrals: list[dict[str, Any]] = []
        url: str | None = "/api/v1/referrals/?" + urllib.parse.urlencode({"state": "sent", "page_size": 200})
        while url:
            page = self.request("GET", url)
            referrals.extend(page["results"])
            url = page.get("next")
        return referrals

    def accept(self, referral_id: int) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/referrals/{referral_id}/accept/")

    def reject(self, referral_id: int, reason: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/referrals/{referral_id}/reject/", {"reason": reason})

    def post_update(self, referral_id: int, body: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/referrals/{referral_id}/updates/", {"body": body})

    def complete(self, referral_id: int, outcome: str, outcome_note: str = "") -> dict[str, Any]:
        return self.request(
            "POST",
            f"/api/v1/referrals/{referral_id}/complete/",
            {"outcome": outcome, "outcome_note": outcome_note},
        )


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _error_detail(error: urllib.error.HTTPError) -> str:
    """The errors of Lifeline's error shape `{"type", "errors": [{"code", "detail", "attr"}]}`."""
    try:
        answer = json.loads(error.read() or b"{}")
        errors = answer.get("errors") or []
        details = [f"{e.get('code')}: {e.get('detail')}" for e in errors if isinstance(e, dict)]
        if details:
            return "; ".join(details)
    except (ValueError, AttributeError):
        pass
    return str(error.reason)


def describe(referral: dict[str, Any]) -> str:
    packet = referral.get("packet") or {}
    summary = " ".join(str(packet.get("summary", "")).split())
    if len(summary) > 100:
        summary = summary[:97] + "..."
    return (
        f"#{referral['id']} {packet.get('reference', '?')} {referral['urgency']:<9} "
        f"respond by {referral.get('respond_by')}  {summary}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accept a Lifeline referral as a partner agency.")
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="Lifeline server (default %(default)s)"
    )
    parser.add_argument("--username", default="police1", help="Agency user (default %(default)s)")
    parser.add_argument(
        "--password",
        default=os.environ.get("LIFELINE_PASSWORD", DEMO_PASSWORD),
        help="Password (default: $LIFELINE_PASSWORD, else the demo password)",
    )
    parser.add_argument("--referral", type=int, help="Accept this referral instead of the oldest pending one")
    args = parser.parse_args(argv)

    try:
        client = LifelineClient(args.url)
    except ValueError as error:
        parser.error(str(error))
    try:
        client.login(args.username, args.password)
        pending = client.pending_referrals()
        print(f"{len(pending)} referral(s) waiting for an answer from {args.username}:")
        for referral in sorted(pending, key=lambda r: (r.get("sent_at") or "", r["id"])):
            print("  " + describe(referral))
        if args.referral is not None:
            referral_id = args.referral
        elif pending:
            referral_id = min(pending, key=lambda r: (r.get("sent_at") or "", r["id"]))["id"]
        else:
            print("Nothing to accept.")
            return 0
        accepted = client.accept(referral_id)
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Accepted referral #{accepted['id']}: state {accepted['state']}, at {accepted['responded_at']}")
    print("  " + describe(accepted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
