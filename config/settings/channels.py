"""Contact channels (channels_sms): Twilio SMS/WhatsApp/voice in and out, inbound threading, web chat."""

from .environment import BASE_DIR, env

TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
# Outbound replies (channels_sms.outbound): Twilio's REST API base (tests point it at a local fake
# server), the HTTP timeout, and the retries with exponential backoff on timeouts, connection
# errors and Twilio 5xx/429. Without TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN replies go to the
# local outbox (`manage.py outbox`).
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="https://api.twilio.com").rstrip("/")
TWILIO_HTTP_TIMEOUT_SECONDS = env.float("TWILIO_HTTP_TIMEOUT_SECONDS", default=10.0)
# Where Twilio's Fallback URLs point (`manage.py twilio_webhooks`): a second web node in
# production, so a message still reaches a node that spools it when this one cannot answer. Empty:
# PUBLIC_BASE_URL (resolved by channels_sms.twilio_numbers, so an empty variable means the same).
TWILIO_FALLBACK_BASE_URL = env("TWILIO_FALLBACK_BASE_URL", default="").rstrip("/")
OUTBOUND_MAX_RETRIES = env.int("OUTBOUND_MAX_RETRIES", default=6)
OUTBOUND_RETRY_BASE_SECONDS = env.float("OUTBOUND_RETRY_BASE_SECONDS", default=2.0)
# A reply still queued and never tried this long after it was written is dispatched again.
OUTBOUND_SWEEP_AFTER_SECONDS = env.int("OUTBOUND_SWEEP_AFTER_SECONDS", default=60)
# Inbound messages (channels_sms): a sender's messages belong to one conversation contact until
# they fall silent this long; the sweeper re-dispatches messages still unprocessed after
# INBOUND_SWEEP_AFTER_SECONDS; the acknowledgement answers a conversation's first message unless
# the helpline's number sets its own.
CONVERSATION_IDLE_MINUTES = env.int("CONVERSATION_IDLE_MINUTES", default=30)
INBOUND_SWEEP_AFTER_SECONDS = env.int("INBOUND_SWEEP_AFTER_SECONDS", default=30)
# Each process keeps the helpline numbers webhooks name this long (channels_sms.selectors): a
# number moved to another helpline, or deactivated, takes effect in other processes within it.
PHONE_NUMBER_CACHE_SECONDS = env.int("PHONE_NUMBER_CACHE_SECONDS", default=5)
# A worker threads a queued message together with up to INBOUND_BATCH_SIZE - 1 other messages
# waiting untried, in one transaction (one commit, one turn of the audit chain; bench: docs/performance.md).
INBOUND_BATCH_SIZE = min(max(env.int("INBOUND_BATCH_SIZE", default=20), 1), 500)
INBOUND_ACKNOWLEDGEMENT = env(
    "INBOUND_ACKNOWLEDGEMENT",
    default="Thank you for contacting the child helpline. A counsellor will reply to you soon.",
)
# Recorded voice prompts per language, played instead of Twilio's text-to-speech: required for a
# language Twilio cannot speak (Mongolian), e.g. {"mn": {"greeting": "https://...mp3",
# "emergency": "https://...", "connecting": "https://..."}} (the emergency recording names the
# digit the numbers use, 9 by default). HTTPS URLs Twilio fetches; we never fetch them.
VOICE_RECORDINGS = env.json("VOICE_RECORDINGS", default={})
# Web chat (channels_sms.chat): how long a session lives, and the rate limits (DRF throttles in the
# Redis cache) per session and per client address.
CHAT_SESSION_HOURS = env.int("CHAT_SESSION_HOURS", default=12)
CHAT_RATES = {
    "chat_session_create": env("CHAT_RATE_SESSION_CREATE", default="10/min"),
    "chat_message_session": env("CHAT_RATE_MESSAGE_SESSION", default="30/min"),
    "chat_message_ip": env("CHAT_RATE_MESSAGE_IP", default="60/min"),
}

# Refusals of unsigned Twilio webhook requests recorded in the audit log per minute, per client
# address and from all together (channels_sms.webhook_refusals); the rest are counted.
WEBHOOK_REFUSALS_RECORDED = {
    "per_address": env.int("WEBHOOK_REFUSALS_RECORDED_PER_ADDRESS", default=5),
    "all": env.int("WEBHOOK_REFUSALS_RECORDED_ALL", default=60),
}

# The durable spool (channels_sms.spool, docs/spool.md): inbound webhooks the database could not take
# wait on this node's disk until the drain stores them. SPOOL_DIR is per node (each drains its own);
# past a limit a webhook answers 503 and the alarm is logged, never a silent drop. The age limit
# bounds how long a node keeps answering "stored" while the database stays away.
SPOOL_DIR = env("SPOOL_DIR", default=str(BASE_DIR / ".data" / "spool"))
SPOOL_MAX_MESSAGES = env.int("SPOOL_MAX_MESSAGES", default=200_000)
SPOOL_MAX_BYTES = env.int("SPOOL_MAX_BYTES", default=1024**3)
SPOOL_MAX_AGE_HOURS = env.float("SPOOL_MAX_AGE_HOURS", default=72.0)
# Web-chat messages may take at most this share of the limits: anyone can post to a chat, so chat
# alone cannot fill the spool that children's SMS and calls need.
SPOOL_CHAT_SHARE = env.float("SPOOL_CHAT_SHARE", default=0.1)
# Messages from the spool that reach their case this much later than they arrived raise the case to
# its supervisors (`stored_late`); a few seconds' queue behind a draining spool does not.
STORED_LATE_AFTER_SECONDS = env.int("STORED_LATE_AFTER_SECONDS", default=120)
# How often each process counts the spool again (every webhook asks while it spools) and drains it.
SPOOL_COUNT_SECONDS = env.float("SPOOL_COUNT_SECONDS", default=1.0)
SPOOL_DRAIN_SECONDS = env.float("SPOOL_DRAIN_SECONDS", default=2.0)
# A file still under its temporary name this long after its last write was left by a killed process
# (docs/spool.md): the drain takes it (or holds it aside if torn); younger, it may be being written.
SPOOL_TEMPORARY_GRACE_SECONDS = env.float("SPOOL_TEMPORARY_GRACE_SECONDS", default=60.0)
# Calls to a number a web process has never read, while the database is away, wait in this queue.
VOICE_OUTAGE_QUEUE = env("VOICE_OUTAGE_QUEUE", default="helpline-outage")
