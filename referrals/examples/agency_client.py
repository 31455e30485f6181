"""A partner agency's client for Lifeline referrals, standard library only (copy it freely).

By default it only lists: the referrals waiting for the agency's answer (state `sent`, or the state
given with --state). It changes a referral only when told to, by a subcommand naming the referral:

    export LIFELINE_URL=http://127.0.0.1:8000
    python -m referrals.examples.agency_client                     # list what waits for an answer
    python -m referrals.examples.agency_client list --state accepted
    python -m referrals.examples.agency_client accept 42
    python -m referrals.examples.agency_client reject 42 --reason "Outside our district"
    python -m referrals.examples.agency_client update 42 --body "Officer visited the family today."
    python -m referrals.examples.agency_client complete 42 --outcome child_safe --note "Safe with an aunt."

The server is --url, else the LIFELINE_URL environment variable (nothing is guessed). It
authenticates with the LIFELINE_TOKEN environment variable (a token from `POST /api/v1/auth/token/`)
when set; else it signs in as --username (else LIFELINE_USERNAME, else the demo's police1) with
--password, else LIFELINE_PASSWORD, else the demo password `manage.py seed_demo` sets. Exits 1 with
the server's error on any HTTP error. See docs/agency-webhooks.md for the API and the webhooks.
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

    def referrals(self, state: str = "sent") -> list[dict[str, Any]]:
        """Every referral of the agency in this state (all pages); `sent`: waiting for an answer."""
        referrals: list[dict[str, Any]] = []
        url: str | None = "/api/v1/referrals/?" + urllib.parse.urlencode({"state": state, "page_size": 200})
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


OUTCOMES = ("service_provided", "child_safe", "investigation_opened", "unable_to_locate", "other")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="List a partner agency's Lifeline referrals; accept, reject, update or complete one "
        "only when told to.",
    )
    parser.add_argument(
        "--url", default=os.environ.get("LIFELINE_URL"), help="Lifeline server (default: $LIFELINE_URL)"
    )
    parser.add_argument(
        "--username",
        default=os.environ.get("LIFELINE_USERNAME", "police1"),
        help="Agency user, when LIFELINE_TOKEN is not set (default: $LIFELINE_USERNAME, else police1)",
    )
    parser.add_argument(
        "--password",
        default=os.environ.get("LIFELINE_PASSWORD", DEMO_PASSWORD),
        help="Password (default: $LIFELINE_PASSWORD, else the demo password)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    listing = commands.add_parser("list", help="List referrals (the default; changes nothing)")
    listing.add_argument("--state", default="sent", help="Referrals in this state (default %(default)s)")
    accept = commands.add_parser("accept", help="Accept a referral sent to the agency")
    accept.add_argument("referral", type=int)
    reject = commands.add_parser("reject", help="Reject a referral sent to the agency, with the reason")
    reject.add_argument("referral", type=int)
    reject.add_argument("--reason", required=True)
    update = commands.add_parser("update", help="Post a progress update on an accepted referral")
    update.add_argument("referral", type=int)
    update.add_argument("--body", required=True)
    complete = commands.add_parser("complete", help="Complete an accepted referral with its outcome")
    complete.add_argument("referral", type=int)
    complete.add_argument("--outcome", required=True, choices=OUTCOMES)
    complete.add_argument("--note", default="", help="Outcome note (required with --outcome other)")
    return parser


def _act(client: LifelineClient, args: argparse.Namespace) -> str:
    """Runs the one change the command names; returns what to print."""
    if args.command == "accept":
        referral = client.accept(args.referral)
    elif args.command == "reject":
        referral = client.reject(args.referral, args.reason)
    elif args.command == "complete":
        referral = client.complete(args.referral, args.outcome, args.note)
    else:
        update = client.post_update(args.referral, args.body)
        return f"Posted update #{update['id']} on referral #{args.referral}."
    done = {"accept": "accepted", "reject": "rejected", "complete": "completed"}[args.command]
    return f"Referral #{referral['id']} {done}: state {referral['state']}\n  " + describe(referral)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give the Lifeline server with --url or the LIFELINE_URL environment variable")
    try:
        client = LifelineClient(args.url, token=os.environ.get("LIFELINE_TOKEN") or None)
    except ValueError as error:
        parser.error(str(error))
    try:
        if client.token is None:
            client.login(args.username, args.password)
        if args.command in (None, "list"):
            state = getattr(args, "state", "sent")
            referrals = client.referrals(state=state)
            print(f"{len(referrals)} referral(s) in state {state}:")
            for referral in sorted(referrals, key=lambda r: (r.get("sent_at") or "", r["id"])):
                print("  " + describe(referral))
            print("Nothing changed; to answer one: accept ID | reject ID --reason ... (see --help).")
            return 0
        print(_act(client, args))
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
