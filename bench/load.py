"""The load generator of the bench: threads of this process, each with its own HTTP connection
(http.client, stdlib), sending requests until a deadline or a count; and the signed Twilio SMS
webhook and bare-view requests they send."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.twilio_signing import TOKEN

SMS_PATH = "/webhooks/twilio/sms/"
BARE_PATH = "/bench/bare"
OUR_NUMBER = "+254700000116"  # a bench-only helpline number, unlike any seeded one
SENDERS = 50  # distinct children writing in; each first message opens a case

Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path, body, headers


@dataclass
class Result:
    """What one load phase saw: the latency of every answered request, the numbers of the requests
    answered 200/204 (to check each one against the database afterwards) and the failures."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)
    errors: int = 0
    error_sample: str = ""  # the first failure, to tell a broken bench from a slow one

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        return percentile(self.latencies, p)


def percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def load(
    name: str,
    base_url: str,
    make_request: Callable[[int], Request],
    *,
    concurrency: int,
    seconds: float | None = None,
    total: int | None = None,
    timeout: float = 30.0,
) -> Result:
    """`concurrency` threads, each with its own keep-alive connection (gunicorn's sync worker closes
    it after each answer; http.client reconnects), send requests until `seconds` have passed or
    `total` were sent (and at most 300 s either way). Request numbers are unique across threads."""
    parsed = urllib.parse.urlsplit(base_url)
    counter = iter(range(10**9))
    lock = threading.Lock()
    result = Result(name)
    start = time.monotonic()
    deadline = start + (seconds if seconds else 300)

    def next_number() -> int | None:
        with lock:
            n = next(counter)
        return n if (total is None or n < total) and time.monotonic() < deadline else None

    def work() -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        latencies: list[float] = []
        accepted: list[int] = []
        errors, sample = 0, ""
        try:
            while (n := next_number()) is not None:
                method, path, body, headers = make_request(n)
                sent = time.monotonic()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    status, sample = 0, sample or f"{type(exc).__name__}: {exc}"
                if status in (200, 204):
                    latencies.append(time.monotonic() - sent)
                    accepted.append(n)
                else:
                    errors += 1
                    sample = sample or f"HTTP {status}"
        finally:
            conn.close()
            with lock:
                result.latencies.extend(latencies)
                result.accepted.extend(accepted)
                result.errors += errors
                result.error_sample = result.error_sample or sample

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=(seconds or 300) + timeout + 30)
    result.seconds = time.monotonic() - start
    return result


def message_sid(prefix: str, n: int) -> str:
    """A Twilio MessageSid: SM + 32 characters, the run's prefix then the request number."""
    return f"SM{prefix}{n:0{32 - len(prefix)}d}"


def sender_number(n: int, base: int = 0) -> str:
    """One of SENDERS children, from `base` on (phases with different bases share no sender)."""
    return f"+2547{base + n % SENDERS:08d}"


def webhook_request(base_url: str, prefix: str, *, senders_base: int = 0) -> Callable[[int], Request]:
    """Signed Twilio SMS webhooks, the signature computed per request with twilio's
    RequestValidator (as a real Twilio request must be checked per request)."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)

    def make(n: int) -> Request:
        params = {
            "AccountSid": "AC" + "0" * 32,
            "MessageSid": message_sid(prefix, n),
            "From": sender_number(n, senders_base),
            "To": OUR_NUMBER,
            "Body": f"message {n}",
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(base_url + SMS_PATH, params),
        }
        return "POST", SMS_PATH, urllib.parse.urlencode(params).encode(), headers

    return make


def bare_request(n: int) -> Request:
    return "GET", BARE_PATH, None, {}
