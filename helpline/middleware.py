import logging
import re
import uuid

from . import context
from .api.errors import DATABASE_UNAVAILABLE, service_unavailable

logger = logging.getLogger(__name__)

_NOT_REQUEST_ID = re.compile(r"[^A-Za-z0-9._-]")
CLIENT_REQUEST_ID_LENGTH = 64


def client_request_id(header: str) -> str:
    """The client's X-Request-ID as we keep it: its safe characters only, at most 64."""
    return _NOT_REQUEST_ID.sub("", header[: CLIENT_REQUEST_ID_LENGTH * 4])[:CLIENT_REQUEST_ID_LENGTH]


class RequestContextMiddleware:
    """Gives every request our own id, for logs and the audit trail, and answers it in X-Request-ID.
    A client's X-Request-ID is kept apart (`client_request_id`): a client could otherwise make its
    requests pass for others' in the audit log, or share one id between many."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = uuid.uuid4().hex
        # REMOTE_ADDR is the proxy's address behind a load balancer; gunicorn's
        # --forwarded-allow-ips makes it the client's own when configured.
        token = context.bind(
            context.RequestContext(
                request_id=request_id,
                client_request_id=client_request_id(request.headers.get("X-Request-ID", "")),
                client_ip=request.META.get("REMOTE_ADDR") or None,
                user_agent=request.headers.get("User-Agent", "")[:300],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class DatabaseUnavailableMiddleware:
    """A plain Django view (Twilio's webhooks, the admin site) that finds the database unavailable
    answers 503 `service_unavailable` in the one error shape, as the API's exception handler does,
    instead of a 500: Twilio retries a 5xx only as the webhook URL's connection overrides ask (within
    seconds), then tries the number's Fallback URL; `manage.py twilio_webhooks` sets both."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        # Django logs the 503 itself (django.request); this says why, in one line rather than a
        # traceback per request of an outage: the driver's first line.
        reason = (str(exception).strip().splitlines() or [""])[0][:200]
        logger.warning(
            "Database unavailable (%s: %s); answered 503 to %s %s",
            type(exception).__name__,
            reason,
            request.method,
            request.path,
        )
        return service_unavailable()
