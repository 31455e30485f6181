"""Signed webhook notifications to partner agencies.

Every referral event an agency must hear about becomes a `Delivery` row in the event's own
transaction (an outbox: if the event committed, its notification exists). Celery delivers it:
POST of the JSON body with

    X-Lifeline-Event:      referral.sent
    X-Lifeline-Delivery:   <uuid, the same on every attempt: receivers drop repeats>
    X-Lifeline-Timestamp:  <unix seconds of this attempt>
    X-Lifeline-Signature:  sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

A 2xx answer delivers it; anything else (or no answer within the timeout) is retried with
exponential backoff by the beat sweep, up to AGENCY_WEBHOOK_MAX_ATTEMPTS; then the delivery fails
and the case's supervisors get an escalation. docs/agency-webhooks.md shows how to verify.

No transaction is open during the HTTP call: each attempt is committed as "in flight" with a lease
on the delivery (`next_attempt_at` past the longest the call can take) before the request goes out,
and completed after. A second worker cannot send the same delivery meanwhile, and a worker killed
mid-call leaves the attempt on record and the delivery pending, sent again after the lease with the
same delivery id (at-least-once, deduplicated by the receiver).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.models import EscalationKind
from cases.services import escalation_raise
from helpline import broker
from helpline.audit import audit_record
from helpline.vocabulary import AuditAction
from notifications.services import notify_agency_referral

from . import endpoints
from .models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryState, Referral

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Lifeline-Signature"
TIMESTAMP_HEADER = "X-Lifeline-Timestamp"
DELIVERY_HEADER = "X-Lifeline-Delivery"
EVENT_HEADER = "X-Lifeline-Event"
INTERRUPTED_ERROR = "No outcome recorded: the sender stopped mid-attempt."


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def agency_notify(*, referral: Referral, event: str, data: dict[str, Any]) -> Delivery | None:
    """Queues `event` for the referral's agency (call inside the event's transaction). Agencies
    without a webhook URL read the API; of a new referral they get an e-mail (and an SMS) at their
    notify_email / notify_sms: its number and a link, never the packet (notifications)."""
    agency = referral.agency
    if not agency.webhook_url:
        if event == "referral.sent":
            notify_agency_referral(referral=referral)
        return None
    delivery = Delivery(referral=referral, agency=agency, event=event, url=agency.webhook_url)
    delivery.body = json.dumps(
        {
            "event": event,
            "delivery_id": str(delivery.delivery_id),
            "referral_id": referral.pk,
            "occurred_at": timezone.now().isoformat(),
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    delivery.next_attempt_at = timezone.now()
    delivery.save()
    transaction.on_commit(lambda: dispatch(delivery.pk), robust=True)
    return delivery


def dispatch(delivery_id: int) -> None:
    from .tasks import deliver_to_agency

    broker.publish(deliver_to_agency, (delivery_id,), what=f"agency delivery {delivery_id}")


@dataclass(frozen=True)
class _Attempt:
    delivery_pk: int
    attempt_pk: int
    number: int
    url: str
    body: bytes
    headers: dict[str, str]
    signed: bool


def attempt_lease() -> timedelta:
    """How long a started attempt keeps its delivery from being sent again: the call's timeout
    (connect and answer together), plus time for the name look-up and for recording the outcome. A
    delivery whose worker stopped mid-attempt is due again after it. An endpoint that trickles its
    answer can outlive the lease: two attempts then overlap (the agency drops the repeat by its
    delivery id) and each records its own outcome."""
    return timedelta(seconds=settings.AGENCY_WEBHOOK_TIMEOUT_SECONDS + 15)


def delivery_attempt(*, delivery_id: int) -> str:
    """One attempt at a pending delivery that is due. Returns "delivered", "retry", "failed" or
    "skipped" (not pending, not due, or another worker holds it).

    Three steps, no transaction open during the HTTP call: the attempt is recorded and the
    delivery leased (committed), the agency is called, the outcome is recorded. A worker stopped
    in between leaves the attempt on record, in flight; the next attempt after the lease marks it
    interrupted (the agency may have the event: it drops the repeat by its delivery id)."""
    attempt = _attempt_start(delivery_id)
    if not isinstance(attempt, _Attempt):
        return attempt  # "skipped", or "failed": no attempt left
    started = time.monotonic()
    status_code, error = None, ""
    if not attempt.signed:
        # Unsigned, anyone could forge it: never sent so; the supervisors hear of it instead.
        error = "The agency has no signing secret; not sent."
    else:
        try:
            # One bound for the connect and the answer together; the answer's body is never read,
            # so an endpoint trickling bytes cannot hold the worker past the timeout.
            answer = endpoints.post(
                attempt.url,
                body=attempt.body,
                headers=attempt.headers,
                timeout=settings.AGENCY_WEBHOOK_TIMEOUT_SECONDS,
            )
            status_code = answer.status
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except endpoints.SendFailed as failed:
            # The agency sees the generic outcome; the library's text (addresses, ports) goes to
            # the log only.
            error = failed.outcome.value
            logger.warning("Agency delivery %s got no answer (%s: %s)", delivery_id, error, failed.reason)
    outcome = _attempt_finish(
        attempt, status_code=status_code, error=error, duration_ms=int((time.monotonic() - started) * 1000)
    )
    if outcome == "retry":
        logger.warning("Agency delivery %s failed (%s); will retry", delivery_id, error)
    return outcome


def _attempt_start(delivery_id: int) -> _Attempt | str:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("agency", "referral")
            .filter(pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return "skipped"
        # An attempt still in flight past its lease was cut off: its worker stopped mid-call.
        cut_off = DeliveryAttempt.objects.filter(
            delivery=delivery, outcome=AttemptOutcome.IN_FLIGHT, status_code=None, error=""
        ).update(outcome=AttemptOutcome.INTERRUPTED, error=INTERRUPTED_ERROR)
        if delivery.attempts >= settings.AGENCY_WEBHOOK_MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
            delivery.save(update_fields=["state", "next_attempt_at"])
            why = "the last attempt was cut off" if cut_off else "no attempts left (the limit was lowered)"
            _escalate_failure(delivery, why)
            return "failed"
        # The agency's endpoint in use: a retry follows a change once it is approved and verified
        # (referrals.webhooks); after a removal the secret is empty and nothing is sent.
        delivery.url = delivery.agency.webhook_url or delivery.url
        secret = delivery.agency.webhook_secret
        body = delivery.body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Lifeline-Referrals/1",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.delivery_id),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        }
        delivery.attempts += 1
        delivery.next_attempt_at = now + attempt_lease()
        delivery.save(update_fields=["url", "attempts", "next_attempt_at"])
        attempt = DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts, at=now)
    return _Attempt(
        delivery_pk=delivery.pk,
        attempt_pk=attempt.pk,
        number=attempt.number,
        url=delivery.url,
        body=body,
        headers=headers,
        signed=bool(secret),
    )


def _attempt_finish(attempt: _Attempt, *, status_code: int | None, error: str, duration_ms: int) -> str:
    if not error:
        outcome = AttemptOutcome.DELIVERED
    elif status_code is not None:
        outcome = AttemptOutcome.REFUSED
    elif not attempt.signed:
        outcome = AttemptOutcome.NOT_SENT
    else:
        outcome = AttemptOutcome.UNREACHABLE
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("agency", "referral")
            .get(pk=attempt.delivery_pk)
        )
        # Its real outcome, even if a later attempt already marked it interrupted.
        DeliveryAttempt.objects.filter(pk=attempt.attempt_pk).update(
            outcome=outcome, status_code=status_code, error=error, duration_ms=duration_ms
        )
        # An attempt that outlived its lease can get through after the delivery was given up: the
        # agency has it after all, whatever the supervisors' alert said.
        late = delivery.state == DeliveryState.FAILED and outcome == AttemptOutcome.DELIVERED
        if delivery.state != DeliveryState.PENDING and not late:
            return "skipped"  # settled meanwhile by another attempt
        if outcome == AttemptOutcome.DELIVERED:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            if late:
                _record_late_delivery(delivery, attempt.number)
            result = "delivered"
        elif attempt.number != delivery.attempts:
            return "skipped"  # a later attempt is under way and decides what follows
        elif delivery.attempts >= settings.AGENCY_WEBHOOK_MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
            _escalate_failure(delivery, error)
            result = "failed"
        else:
            # Counted from the failure, not from the attempt's start (a slow failure still waits).
            backoff = settings.AGENCY_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff)
            result = "retry"
        delivery.save(update_fields=["state", "next_attempt_at", "delivered_at"])
    return result


def _escalate_failure(delivery: Delivery, error: str) -> None:
    referral = delivery.referral
    # One escalation per failed delivery: a later failure (a withdrawal the agency never heard of)
    # must alert again even if the first was acknowledged.
    escalation = escalation_raise(
        case=referral.case,
        kind=EscalationKind.DELIVERY_FAILED,
        detail=f"{delivery.event} could not be delivered to {delivery.agency.name}: {error}",
        referral=referral,
        once=False,
    )
    audit_record(
        actor=None,
        action=AuditAction.REFERRAL_DELIVERY_FAILED,
        obj=delivery,
        case_id=referral.case_id,
        helpline=referral.helpline_id,
        extra={
            "referral_id": referral.pk,
            "event": delivery.event,
            "attempts": delivery.attempts,
            "escalation_id": escalation.pk,
        },
    )


def _record_late_delivery(delivery: Delivery, attempt_number: int) -> None:
    referral = delivery.referral
    audit_record(
        actor=None,
        action=AuditAction.REFERRAL_DELIVERED_LATE,
        obj=delivery,
        case_id=referral.case_id,
        helpline=referral.helpline_id,
        extra={"referral_id": referral.pk, "event": delivery.event, "attempt": attempt_number},
    )


def due_deliveries_dispatch(*, limit: int = 500) -> list[int]:
    """Beat: dispatch the pending deliveries whose next attempt is due (retries, and first
    attempts whose dispatch was lost)."""
    ids = list(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        dispatch(delivery_id)
    return ids
