"""Redis: the cache, Celery's broker and results, the beat schedule of the sweepers, and what a
request does when the broker fails."""

from .environment import env

REDIS_URL = env("REDIS_URL")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# Celery: a task is acknowledged only after it ran, and re-queued if its worker dies, so a crash
# never loses work; every task is written to be idempotent for that reason.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection around every task unless told how many
# tasks a connection may serve; config.celery applies Django's rule (CONN_MAX_AGE, health checks)
# around each task instead, so this only bounds a connection's life to that many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=5000)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A Redis that stops answering without closing the connection (frozen, failover, a dropped
# network path) would otherwise hold a publish, and so the webhook answering Twilio, forever: with
# these timeouts the publish fails in seconds, and the sweeper dispatches the stored event later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
}
# How often the reports' roll-ups take in the changes (reports.tasks.refresh_rollups): their lag.
ROLLUP_SWEEP_SECONDS = env.int("ROLLUP_SWEEP_SECONDS", default=2)
CELERY_BEAT_SCHEDULE = {
    "refresh-report-rollups": {
        "task": "reports.tasks.refresh_rollups",
        "schedule": ROLLUP_SWEEP_SECONDS,
    },
    # Deletes exports past their EXPORT_KEEP_HOURS; dispatches again those whose dispatch was lost.
    "expire-exports": {
        "task": "reports.tasks.sweep_exports",
        "schedule": env.int("EXPORT_SWEEP_SECONDS", default=600),
    },
    "escalate-overdue-cases": {
        "task": "cases.tasks.escalate_overdue_cases",
        "schedule": env.int("ESCALATION_SWEEP_SECONDS", default=60),
    },
    "reconcile-row-history": {
        "task": "cases.tasks.reconcile_row_history",
        "schedule": env.int("RECONCILE_SWEEP_SECONDS", default=300),
    },
    "anonymise-expired-cases": {
        "task": "cases.tasks.anonymise_expired_cases",
        "schedule": env.int("RETENTION_SWEEP_SECONDS", default=3600),
    },
    "sweep-unprocessed-inbound-events": {
        "task": "channels_sms.tasks.sweep_unprocessed_events",
        "schedule": env.int("INBOUND_SWEEP_SECONDS", default=60),
    },
    "sweep-unsent-outbound-messages": {
        "task": "channels_sms.tasks.sweep_unsent_messages",
        "schedule": env.int("OUTBOUND_SWEEP_SECONDS", default=60),
    },
    # Drains the spool of the node the worker runs on (a web node's spool directory mounted in its
    # worker, docker-compose.yml); the web processes drain it themselves too (channels_sms.spool_drain).
    "drain-spool": {
        "task": "channels_sms.tasks.drain_spool",
        "schedule": env.int("SPOOL_BEAT_SECONDS", default=10),
    },
    "sweep-unprocessed-voice-calls": {
        "task": "channels_sms.tasks.sweep_unprocessed_calls",
        "schedule": env.int("INBOUND_SWEEP_SECONDS", default=60),
    },
    # Ends web chats whose time ran out, with an event in their conversation (channels_sms.chat).
    "close-expired-chat-sessions": {
        "task": "channels_sms.tasks.close_expired_chat_sessions",
        "schedule": env.int("CHAT_SWEEP_SECONDS", default=60),
    },
    "expire-unanswered-referrals": {
        "task": "referrals.tasks.expire_unanswered_referrals",
        "schedule": env.int("REFERRAL_SWEEP_SECONDS", default=60),
    },
    "send-due-agency-deliveries": {
        "task": "referrals.tasks.send_due_deliveries",
        "schedule": env.int("AGENCY_DELIVERY_SWEEP_SECONDS", default=30),
    },
    # Staff notifications' e-mail and SMS: retries, and first attempts whose dispatch was lost.
    "send-due-notifications": {
        "task": "notifications.tasks.send_due_notifications",
        "schedule": env.int("NOTIFICATION_SWEEP_SECONDS", default=15),
    },
}

# After a failed publish to the broker, requests leave their stored work to the sweepers this long
# instead of waiting on the broker again (helpline.broker).
BROKER_BACKOFF_SECONDS = env.int("BROKER_BACKOFF_SECONDS", default=10)
