"""Our helpline numbers' webhooks at Twilio, set so that Twilio retries a failed webhook and then
fails over to a second node (issue #14; `manage.py twilio_webhooks`).

What Twilio does with a webhook that fails (docs: "Webhook connection overrides", "Availability and
reliability: Fallback URLs"): it retries only what the URL's connection overrides ask for (a
fragment, `#rc=..&rp=..`); by default a 5xx answer or a read timeout is not retried at all. On a
failure it requests the number's Fallback URL once, if one is set, and then gives up: an SMS is
dropped, with an entry in Twilio's debugger only. The fragment never reaches us (clients do not send
fragments) and Twilio signs the URL up to the end of its query string, so the webhook views check
signatures as before.

What we set on each of our active SMS and voice numbers (WhatsApp senders are configured on the
sender at Twilio, not on a number: reported, never changed):

    rc=3          three retries after the first try (Twilio allows 0-5; default 1)
    rp=ct,rt,5xx  retry when the connection fails, when the answer is late and on a 5xx; not on a
                  4xx (a refused signature or an unknown number answers the same on every try)
    ct=2000       connect timeout, ms (Twilio: 100-10000, default 5000): a reachable node connects in
                  well under a second; 2 s still covers one lost SYN (resent after 1 s)
    rt=5000       read timeout, ms (100-15000, default 15000): webhooks answer in about 0.1 s (p99
                  94 ms in the bench); one held by a stuck statement answers 503 only after
                  DATABASE_STATEMENT_TIMEOUT (10 s), too late to leave time for a retry. A retry of a
                  request that did go through stores nothing twice (MessageSid, CallSid and status
                  are unique keys)
    tt=12000      all tries together, ms (100-15000, default and ceiling 15000): below Twilio's
                  ceiling, so our budget applies and not Twilio's cut; a caller hears silence
                  meanwhile, and the fallback should answer while they still listen. Three late
                  answers (5 + 5 + 2 s) or four quick failures fit in it

The Fallback URLs point at TWILIO_FALLBACK_BASE_URL (default PUBLIC_BASE_URL; a second web node in
production), on endpoints that spool the request without trying the database. Voice's status
callback gets the overrides too: Twilio has no fallback for it, so retrying is its only second
chance.
"""

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.response import Response

from .models import NumberChannel
from .outbound import twilio_client
from .selectors import phone_numbers_active

CONNECTION_OVERRIDES = "rc=3&rp=ct,rt,5xx&ct=2000&rt=5000&tt=12000"
SMS_PATH = "/webhooks/twilio/sms/"
SMS_FALLBACK_PATH = "/webhooks/twilio/sms/fallback/"
VOICE_PATH = "/webhooks/twilio/voice/"
VOICE_FALLBACK_PATH = "/webhooks/twilio/voice/fallback/"
VOICE_STATUS_PATH = "/webhooks/twilio/voice/status/"
POST = "POST"
PAGE_SIZE = 100
# Fields of an IncomingPhoneNumber whose value is a method: Twilio may answer them in any case.
METHOD_FIELDS = {
    "sms_method",
    "sms_fallback_method",
    "voice_method",
    "voice_fallback_method",
    "status_callback_method",
}


class TwilioWebhooksError(Exception):
    """Twilio's configuration could not be read or changed; the message is for the operator and
    never holds the auth token."""


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass
class NumberPlan:
    """One of our numbers at Twilio: what it serves for us and what would change on it."""

    sid: str
    phone_number: str
    channels: tuple[str, ...]
    changes: list[FieldChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class WebhooksReport:
    primary_base: str
    fallback_base: str
    numbers: list[NumberPlan] = field(default_factory=list)  # ours, found in the account
    not_ours: list[str] = field(default_factory=list)  # in the account, no active number of ours
    missing: list[tuple[str, str]] = field(default_factory=list)  # (number, channel) not in the account
    whatsapp: list[str] = field(default_factory=list)  # our WhatsApp senders: configured elsewhere
    notes: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # phone numbers updated by this run

    @property
    def changes(self) -> int:
        return sum(len(number.changes) for number in self.numbers)


def fallback_base_url() -> str:
    return (settings.TWILIO_FALLBACK_BASE_URL or settings.PUBLIC_BASE_URL).rstrip("/")


def wanted_webhooks(channels: tuple[str, ...]) -> dict[str, str]:
    """The fields of an IncomingPhoneNumber that serve `channels` (sms, voice), as we want them."""
    primary, fallback = settings.PUBLIC_BASE_URL.rstrip("/"), fallback_base_url()
    wanted: dict[str, str] = {}
    if NumberChannel.SMS in channels:
        wanted |= {
            "sms_url": f"{primary}{SMS_PATH}#{CONNECTION_OVERRIDES}",
            "sms_method": POST,
            "sms_fallback_url": f"{fallback}{SMS_FALLBACK_PATH}",
            "sms_fallback_method": POST,
        }
    if NumberChannel.VOICE in channels:
        wanted |= {
            "voice_url": f"{primary}{VOICE_PATH}#{CONNECTION_OVERRIDES}",
            "voice_method": POST,
            "voice_fallback_url": f"{fallback}{VOICE_FALLBACK_PATH}",
            "voice_fallback_method": POST,
            "status_callback": f"{primary}{VOICE_STATUS_PATH}#{CONNECTION_OVERRIDES}",
            "status_callback_method": POST,
        }
    return wanted


def twilio_webhooks_configure(*, apply: bool = False) -> WebhooksReport:
    """Reads the account's IncomingPhoneNumbers, compares each of ours with the webhooks we want
    and, with `apply`, updates those that differ (one request per number, only its changed
    fields). Numbers that are not ours are never written. Raises TwilioWebhooksError without
    credentials, with a base URL Twilio cannot reach, or when Twilio answers an error (the numbers
    updated before it are named)."""
    _check_configuration()
    report = WebhooksReport(
        primary_base=settings.PUBLIC_BASE_URL.rstrip("/"), fallback_base=fallback_base_url()
    )
    if report.fallback_base == report.primary_base:
        report.notes.append(
            _(
                "The Fallback URLs point at PUBLIC_BASE_URL, the same node as the webhooks: they help when "
                "its database is away, not when the node is. Set TWILIO_FALLBACK_BASE_URL to a second node."
            )
        )
    client = twilio_client()
    at_twilio = _twilio_call(lambda: client.incoming_phone_numbers.list(page_size=PAGE_SIZE), _listing_failed)

    ours: dict[str, set[str]] = {}
    for number in phone_numbers_active():
        if number.channel == NumberChannel.WHATSAPP:
            report.whatsapp.append(number.number)
        else:
            ours.setdefault(number.number, set()).add(number.channel)
    found: set[str] = set()
    for resource in sorted(at_twilio, key=lambda r: r.phone_number or ""):
        channels = ours.get(resource.phone_number or "")
        if not channels:
            report.not_ours.append(resource.phone_number or resource.sid)
            continue
        found.add(resource.phone_number)
        report.numbers.append(_plan(resource, tuple(sorted(channels))))
    report.missing = sorted(
        (number, channel) for number, channels in ours.items() if number not in found for channel in channels
    )
    report.whatsapp.sort()
    if apply:
        for plan in report.numbers:
            if not plan.changes:
                continue
            _twilio_call(
                lambda plan=plan: client.incoming_phone_numbers(plan.sid).update(
                    **{change.field: change.after for change in plan.changes}
                ),
                lambda problem, plan=plan: _update_failed(plan.phone_number, problem, report.applied),
            )
            report.applied.append(plan.phone_number)
    return report


def _plan(resource, channels: tuple[str, ...]) -> NumberPlan:
    plan = NumberPlan(sid=resource.sid, phone_number=resource.phone_number, channels=channels)
    for name, after in wanted_webhooks(channels).items():
        before = getattr(resource, name, None) or ""
        same = before.upper() == after if name in METHOD_FIELDS else before == after
        if not same:
            plan.changes.append(FieldChange(name, before, after))
    # Settings that make Twilio ignore the number's own URLs: said, not changed (they may be on
    # purpose, and clearing them changes more than webhooks).
    if NumberChannel.SMS in channels and resource.sms_application_sid:
        plan.notes.append(
            # Translators: sms_application_sid is the name of a field at Twilio: keep it as it is.
            _(
                "sms_application_sid %(sid)s is set: Twilio uses that TwiML app's URLs for messages, not the "
                "number's. Clear it, or give the app the same URLs."
            )
            % {"sid": resource.sms_application_sid}
        )
    if NumberChannel.VOICE in channels and (resource.voice_application_sid or resource.trunk_sid):
        which, sid = (
            ("voice_application_sid", resource.voice_application_sid)
            if resource.voice_application_sid
            else ("trunk_sid", resource.trunk_sid)
        )
        plan.notes.append(
            # Translators: %(field)s is the name of a field at Twilio (voice_application_sid, trunk_sid).
            _(
                "%(field)s %(sid)s is set: Twilio uses its URLs for calls, not the number's. Clear it, or "
                "give it the same URLs."
            )
            % {"field": which, "sid": sid}
        )
    return plan


def _check_configuration() -> None:
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not getattr(settings, name)]
    if len(missing) == 2:
        raise TwilioWebhooksError(
            # Translators: %(first)s and %(second)s are names of settings (TWILIO_ACCOUNT_SID).
            _(
                "Twilio credentials are missing: set %(first)s and %(second)s (the account whose numbers "
                "to configure)."
            )
            % {"first": missing[0], "second": missing[1]}
        )
    if missing:
        raise TwilioWebhooksError(
            # Translators: %(setting)s is the name of a setting (TWILIO_AUTH_TOKEN).
            _("Twilio credentials are missing: set %(setting)s (the account whose numbers to configure).")
            % {"setting": missing[0]}
        )
    for url, not_http, local in (
        (
            settings.PUBLIC_BASE_URL,
            _("PUBLIC_BASE_URL (%(url)r) is not an http(s) URL Twilio can call."),
            _(
                "PUBLIC_BASE_URL (%(url)s) names this machine only: Twilio cannot reach it. Set "
                "PUBLIC_BASE_URL (and TWILIO_FALLBACK_BASE_URL) to the addresses Twilio calls."
            ),
        ),
        (
            fallback_base_url(),
            _("the fallback base (%(url)r) is not an http(s) URL Twilio can call."),
            _(
                "the fallback base (%(url)s) names this machine only: Twilio cannot reach it. Set "
                "PUBLIC_BASE_URL (and TWILIO_FALLBACK_BASE_URL) to the addresses Twilio calls."
            ),
        ),
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TwilioWebhooksError(not_http % {"url": url})
        if _is_local(parts.hostname):
            raise TwilioWebhooksError(local % {"url": url})


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _twilio_call(call, failed: Callable[[str], str]):
    """`call()`, or TwilioWebhooksError with `failed(what went wrong)` as its message."""
    try:
        return call()
    except (TwilioException, requests.RequestException) as exc:
        raise TwilioWebhooksError(_without_token(failed(_describe(exc)))) from None


def _listing_failed(problem: str) -> str:
    # Translators: %(problem)s says what Twilio answered, or why it could not be reached.
    return _("Listing the account's numbers at Twilio failed: %(problem)s") % {"problem": problem}


def _update_failed(phone_number: str, problem: str, applied: list[str]) -> str:
    if applied:
        # Translators: %(problem)s says what Twilio answered, or why it could not be reached;
        # %(updated)s lists phone numbers.
        return _(
            "Updating %(number)s at Twilio failed: %(problem)s. Updated before it: %(updated)s; run again to "
            "finish (numbers already right are left alone)"
        ) % {"number": phone_number, "problem": problem, "updated": ", ".join(applied)}
    # Translators: %(problem)s says what Twilio answered, or why it could not be reached.
    return _(
        "Updating %(number)s at Twilio failed: %(problem)s. Updated before it: none; run again to finish "
        "(numbers already right are left alone)"
    ) % {"number": phone_number, "problem": problem}


def _describe(exc: Exception) -> str:
    if isinstance(exc, TwilioRestException):
        return _status_text(exc.status, exc.code, exc.msg)
    if isinstance(exc, TwilioServiceException):
        return _status_text(exc.status, exc.code, exc.detail or exc.title)
    if isinstance(exc, TwilioException) and len(exc.args) > 1 and isinstance(exc.args[1], Response):
        # A list page answered an error: twilio raises with the raw response.
        response = exc.args[1]
        try:
            body = json.loads(response.text)
        except ValueError:
            body = {}
        return _status_text(response.status_code, body.get("code"), body.get("message") or "")
    if isinstance(exc, requests.Timeout):
        # Translators: TWILIO_HTTP_TIMEOUT_SECONDS is the name of a setting: keep it as it is.
        return _("no answer within TWILIO_HTTP_TIMEOUT_SECONDS (%(seconds)s s)") % {
            "seconds": settings.TWILIO_HTTP_TIMEOUT_SECONDS
        }
    if isinstance(exc, requests.ConnectionError):
        return _("could not connect to %(url)s") % {"url": settings.TWILIO_API_BASE_URL}
    return type(exc).__name__


def _status_text(status, code, message: str) -> str:
    """What Twilio answered; `message` is Twilio's own text (English)."""
    values = {
        "status": status,
        "code": code,
        "url": f"https://www.twilio.com/docs/errors/{code}",
        "message": message,
    }
    if code and message:
        return _("Twilio answered HTTP %(status)s (error %(code)s: %(url)s): %(message)s") % values
    if code:
        return _("Twilio answered HTTP %(status)s (error %(code)s: %(url)s)") % values
    if message:
        return _("Twilio answered HTTP %(status)s: %(message)s") % values
    return _("Twilio answered HTTP %(status)s") % values


def _without_token(text: str) -> str:
    token = settings.TWILIO_AUTH_TOKEN
    return text.replace(token, "[auth token]") if token else text
