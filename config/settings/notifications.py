"""Staff notifications (notifications app): e-mail, SMS, the live stream, retries."""

from .environment import env

# E-mail: EMAIL_URL (smtp://user:password@host:587 with ?tls=True, smtp+ssl://..., consolemail://)
# or the usual EMAIL_HOST / EMAIL_PORT / EMAIL_HOST_USER / EMAIL_HOST_PASSWORD / EMAIL_USE_TLS.
# Neither set (`make run`, development): the console backend prints messages to the worker's log.
if env("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "")
    EMAIL_PORT = _email.get("EMAIL_PORT", 25) or 25
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
elif env("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# An SMTP server that stops answering must not hold a worker: every call gives up after this.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=15)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Lifeline <lifeline@localhost>")

# The number (or Twilio messaging service sid, MG...) notification SMS are sent from; empty: SMS
# deliveries fail with "SMS is not configured" (in-app and e-mail still go).
NOTIFICATION_SMS_FROM = env("NOTIFICATION_SMS_FROM", default="")
# Where the links in e-mail and SMS point: the console's (or the API's) public address.
NOTIFICATION_LINK_BASE_URL = env("NOTIFICATION_LINK_BASE_URL", default="").rstrip("/")
# Attempts per e-mail or SMS before it is marked failed, and the first retry's delay (doubling).
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=6)
NOTIFICATION_RETRY_BASE_SECONDS = env.float("NOTIFICATION_RETRY_BASE_SECONDS", default=30.0)
# How long a started attempt keeps its delivery from being sent again (its worker may be dead).
NOTIFICATION_SEND_LEASE_SECONDS = env.int("NOTIFICATION_SEND_LEASE_SECONDS", default=60)

# The live stream (GET /api/v1/notifications/stream/, server-sent events). A stream holds a web
# worker for its whole life: it ends after NOTIFICATION_STREAM_SECONDS (below gunicorn's 30 s
# worker timeout: a sync worker busy streaming cannot tell the master it is alive; the console
# reconnects with Last-Event-ID and loses nothing), sends a comment every
# NOTIFICATION_STREAM_HEARTBEAT_SECONDS, and at most NOTIFICATION_STREAM_LIMIT streams are open in
# the whole installation (more answer 503 with Retry-After). docs/notifications.md: deployment.
NOTIFICATION_STREAM_SECONDS = env.int("NOTIFICATION_STREAM_SECONDS", default=25)
NOTIFICATION_STREAM_HEARTBEAT_SECONDS = env.float("NOTIFICATION_STREAM_HEARTBEAT_SECONDS", default=10.0)
NOTIFICATION_STREAM_LIMIT = env.int("NOTIFICATION_STREAM_LIMIT", default=1)
