"""Sending the e-mail and SMS of notifications: the outbox (as referrals.notifications does for
agencies' webhooks).

Each Delivery row is written in the transaction of the event that caused it; after the commit a
Celery task makes one attempt, and the beat sweep dispatches the ones due again (retries with
exponential backoff, first attempts whose dispatch was lost) until NOTIFICATION_MAX_ATTEMPTS, then
the delivery fails. No transaction is open while the message goes out:

1. the attempt is counted and the delivery marked in flight (`in_flight_since`) with a lease
   (`next_attempt_at` = now + NOTIFICATION_SEND_LEASE_SECONDS), committed: no other worker takes
   it meanwhile;
2. the message is handed to the SMTP server or to Twilio;
3. the outcome is recorded (sent, or the next attempt's time, or failed).

A worker killed in step 2 leaves the delivery pending and in flight; after the lease the sweep
sends it again (the last error says the attempt was interrupted). Neither SMTP nor Twilio's
Messages API takes an idempotency key, so a worker killed between the server's acceptance and
step 3 sends the message twice: at-least-once, a duplicate only in that window (milliseconds),
never a loss. A sent delivery is never sent again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpline import broker
from helpline.i18n import language_of

from .models import Channel, Delivery, DeliveryState, Notification, NotificationKind
from .senders import SendFailed, send_email, send_sms

logger = logging.getLogger(__name__)

INTERRUPTED = "Interrupted: the sender stopped mid-attempt"


def link_url(notification: Notification) -> str:
    base = settings.NOTIFICATION_LINK_BASE_URL or settings.PUBLIC_BASE_URL
    return f"{base}{notification.link}"


def message_text(notification: Notification) -> tuple[str, str]:
    """The subject and body of its e-mail or SMS: the kind, the reference and the link, nothing
    else (no name, no number, no text anyone typed)."""
    values = {"kind": NotificationKind(notification.kind).label, "reference": notification.reference}
    # Translators: same in every language: the product's name, the notification's kind, its reference.
    subject = _("[Lifeline] %(kind)s: %(reference)s") % values
    if notification.on_call:
        # Translators: the first line of a notification's e-mail or SMS to the person on call.
        headline = _("On call. %(kind)s: %(reference)s") % values
    else:
        # Translators: same in every language: the notification's kind and its reference.
        headline = _("%(kind)s: %(reference)s") % values
    return subject, f"{headline}\n{link_url(notification)}\n"


def dispatch(delivery_id: int) -> None:
    from .tasks import deliver_notification

    broker.publish(deliver_notification, (delivery_id,), what=f"notification delivery {delivery_id}")


@dataclass(frozen=True)
class _Attempt:
    delivery_pk: int
    number: int
    channel: str
    address: str
    subject: str
    body: str


def delivery_attempt(*, delivery_id: int) -> str:
    """One attempt at a pending delivery that is due: "sent", "retry", "failed" or "skipped" (not
    pending, not due, or another worker holds it)."""
    attempt = _attempt_start(delivery_id)
    if not isinstance(attempt, _Attempt):
        return attempt
    error, permanent = "", False
    try:
        if attempt.channel == Channel.EMAIL:
            send_email(to=attempt.address, subject=attempt.subject, body=attempt.body)
        else:
            send_sms(to=attempt.address, body=attempt.body)
    except SendFailed as failed:
        error, permanent = failed.outcome, failed.permanent
    return _attempt_finish(attempt, error=error, permanent=permanent)


def _attempt_start(delivery_id: int) -> _Attempt | str:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification__user__helpline", "notification__helpline")
            .filter(pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return "skipped"
        if delivery.in_flight_since is not None:
            delivery.last_error = INTERRUPTED  # the previous attempt's worker stopped mid-send
        if delivery.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
            delivery.in_flight_since = None
            delivery.save(update_fields=["state", "next_attempt_at", "in_flight_since", "last_error"])
            return "failed"
        delivery.attempts += 1
        delivery.in_flight_since = now
        delivery.next_attempt_at = now + timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)
        delivery.save(update_fields=["attempts", "in_flight_since", "next_attempt_at", "last_error"])
    # In the recipient's language: their own, else their helpline's (helpline.i18n); an agency's
    # (no user) in the helpline's.
    notification = delivery.notification
    reader = notification.user if notification.user_id else None
    with translation.override(language_of(reader, helpline=notification.helpline)):
        subject, body = message_text(delivery.notification)
    return _Attempt(delivery.pk, delivery.attempts, delivery.channel, delivery.address, subject, body)


def _attempt_finish(attempt: _Attempt, *, error: str, permanent: bool) -> str:
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=attempt.delivery_pk)
        if delivery.state != DeliveryState.PENDING or attempt.number != delivery.attempts:
            return "skipped"  # settled meanwhile, or a later attempt (after the lease) decides
        delivery.in_flight_since = None
        if not error:
            delivery.state = DeliveryState.SENT
            delivery.sent_at = timezone.now()
            delivery.next_attempt_at = None
            # last_error stays: the log shows what the earlier attempts met (an interruption).
            result = "sent"
        elif permanent or delivery.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
            delivery.last_error = error[:200]
            result = "failed"
        else:
            backoff = settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff)
            delivery.last_error = error[:200]
            result = "retry"
        delivery.save(update_fields=["state", "sent_at", "next_attempt_at", "last_error", "in_flight_since"])
    if result != "sent":
        logger.warning("Notification delivery %s: %s (%s)", attempt.delivery_pk, result, error)
    return result


def due_deliveries_dispatch(*, limit: int = 500) -> list[int]:
    """Beat: dispatch the pending deliveries whose next attempt is due."""
    ids = list(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        dispatch(delivery_id)
    return ids
