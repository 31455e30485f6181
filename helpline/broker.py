"""Publishing Celery tasks from a request without making the caller wait on a broker that is down.

Every task published from a request (an inbound webhook's processing, an operator's reply, an
agency notification) is stored first as a row that a beat sweeper dispatches again, so publishing
is only the fast path. While the broker is unreachable each publish still costs its retries and
socket timeouts (seconds when Redis hangs), and Twilio waits only ~15 s for a webhook answer: so
after a failed publish this process stops trying for BROKER_BACKOFF_SECONDS and leaves the rows to
the sweepers."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

_last_failure: float | None = None


def publish(task: Any, args: tuple, *, what: str) -> bool:
    """Publishes `task(*args)`; False (logged, never raised) when the broker is unavailable."""
    global _last_failure
    backoff = settings.BROKER_BACKOFF_SECONDS
    if _last_failure is not None and time.monotonic() - _last_failure < backoff:
        logger.warning("Broker unavailable a moment ago; %s is left to the sweeper", what)
        return False
    try:
        # One retry only: the sweeper is the real retry, and Twilio's 15 s cover the first
        # request of an outage (socket timeouts of 2 s on a hung Redis).
        task.apply_async(args, retry=True, retry_policy={"max_retries": 1, "interval_start": 0.2})
    except Exception:
        _last_failure = time.monotonic()
        logger.exception("Could not publish %s; the sweeper will dispatch it", what)
        return False
    _last_failure = None
    return True
