"""How many refused webhook requests go on the audit record. A request nobody signed (missing or
bad signature, or no token configured to check one) costs its sender nothing, so thirty of them
must not write thirty audit entries: per client address and minute the first
settings.WEBHOOK_REFUSALS_RECORDED["per_address"] are recorded (and at most ["all"] from all
addresses together), then one entry saying further ones are counted, not recorded; the next
recorded refusal from that address carries the count. Every request is still refused the same way.
Requests Twilio signed never reach this: they are answered, and their refusals (a number we do not
have) all recorded."""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from helpline import context
from helpline.models import AuditEntry
from helpline.vocabulary import AuditAction

logger = logging.getLogger(__name__)

UNSIGNED_REASONS = frozenset({"not_configured", "missing_signature", "bad_signature"})
WINDOW = timedelta(minutes=1)
FURTHER = {"further_refusals": "counted, not recorded, for a minute"}
UNRECORDED_KEEP_SECONDS = 7 * 24 * 3600


def unrecorded_refusals_key(client_ip: str | None) -> str:
    return f"webhook-refusals-unrecorded:{client_ip or '-'}"


def recording(reason: str) -> dict[str, Any] | None:
    """What to add to the refusal's audit entry, or None when it is only counted. Counted from the
    audit log itself (its recent `webhook.rejected` entries), so the limit holds across processes;
    the count of unrecorded ones lives in the cache, best effort."""
    if reason not in UNSIGNED_REASONS:
        return {}
    ip = context.current().client_ip
    recent = AuditEntry.objects.filter(action=AuditAction.WEBHOOK_REJECTED, at__gte=timezone.now() - WINDOW)
    from_address = recent.filter(client_ip=ip) if ip else recent.filter(client_ip__isnull=True)
    limits = settings.WEBHOOK_REFUSALS_RECORDED
    per_address, overall = from_address.count(), recent.count()
    key = unrecorded_refusals_key(ip)
    if per_address > limits["per_address"] or overall > limits["all"]:
        _count(key)
        return None
    if per_address == limits["per_address"] or overall == limits["all"]:
        return dict(FURTHER)
    unrecorded = _take(key)
    return {"unrecorded_before": unrecorded} if unrecorded else {}


def _count(key: str) -> None:
    try:
        cache.add(key, 0, UNRECORDED_KEEP_SECONDS)
        cache.incr(key)
    except Exception:  # a count lost to a cache outage must not fail the answer
        logger.warning("Could not count an unrecorded webhook refusal (cache unavailable).")


def _take(key: str) -> int:
    try:
        unrecorded = cache.get(key) or 0
        if unrecorded:
            cache.decr(key, unrecorded)
        return unrecorded
    except Exception:  # as above: the refusal is answered anyway
        logger.warning("Could not read the count of unrecorded webhook refusals (cache unavailable).")
        return 0
