"""Settings shared by every environment; every value that differs per deployment comes from the
environment (12-factor), read with django-environ."""

from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
# The URL Twilio and browsers use to reach us; webhook signatures are computed against it.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "pgtrigger",
    "pghistory",
    "helpline",
    "cases",
    "referrals",
    "channels_sms",
]

MIDDLEWARE = [
    "helpline.middleware.RequestContextMiddleware",
    # A view's database error (an outage, a restart) answers 503 in the one error shape, not 500.
    "helpline.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks whether a session user passed a second factor; the admin site requires it.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a django-axes lockout into our 429 answer (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# A POST to a URL without its trailing slash answers 404 in JSON, not an HTML redirect that
# clients would follow as a GET.
APPEND_SLASH = False
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
# Django's backend with a cheaper health check (config/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "config.postgresql"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Our queries are short: PostgreSQL's JIT compiles any plan whose estimate passes jit_above_cost,
# and on the case history's anti-joins it spent 9 of 24 ms compiling (bench, 1M cases). Off for our
# connections unless DATABASE_URL's `options` says otherwise (docs/performance.md: PgBouncer).
_pg_options = DATABASES["default"].setdefault("OPTIONS", {})
if "jit" not in _pg_options.get("options", ""):
    _pg_options["options"] = (_pg_options.get("options", "") + " -c jit=off").strip()
# A database host that does not answer makes a request fail (503) in seconds instead of holding a
# worker until gunicorn's timeout.
_pg_options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
# A statement still running (or waiting for a lock) after this many seconds is cancelled: the
# request answers 503 with Retry-After (Twilio retries a webhook) instead of holding its worker
# until gunicorn's timeout kills it. config/gunicorn.py sets it for the web only; Celery,
# migrations (index builds on large tables) and management commands run without (0).
_statement_timeout = env.float("DATABASE_STATEMENT_TIMEOUT", default=0)
if _statement_timeout > 0 and "statement_timeout" not in _pg_options["options"]:
    _pg_options["options"] += f" -c statement_timeout={int(_statement_timeout * 1000)}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "helpline.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in (docs/decisions.md, "Authentication"). django-axes counts failed sign-ins per account and,
# separately, per client address: 5 failures lock that account, or that address, for 30 minutes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a lockout are refused without extending it: it ends 30 minutes after it began.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "helpline.api.authentication.client_ip"
AXES_LOCKOUT_CALLABLE = "helpline.api.errors.locked_out"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in our audit log already
# API tokens (django-rest-knox): only a hash is stored; a token expires after TOKEN_IDLE_HOURS
# without use (each use moves its expiry forward).
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.float("TOKEN_IDLE_HOURS", default=12)),
    "AUTO_REFRESH": True,
    "AUTH_HEADER_PREFIX": "Token",
}
# Supervisors and administrators also give a TOTP code (django-otp) when they sign in.
OTP_TOTP_ISSUER = "Lifeline"

LANGUAGE_CODE = "en"
# Storage is always UTC; a helpline's own timezone is applied only at the edges.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Request bodies: children's messages are short; anything this large is an error or an attack.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)

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
CELERY_BEAT_SCHEDULE = {
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
    "sweep-unprocessed-voice-calls": {
        "task": "channels_sms.tasks.sweep_unprocessed_calls",
        "schedule": env.int("INBOUND_SWEEP_SECONDS", default=60),
    },
    "expire-unanswered-referrals": {
        "task": "referrals.tasks.expire_unanswered_referrals",
        "schedule": env.int("REFERRAL_SWEEP_SECONDS", default=60),
    },
    "send-due-agency-deliveries": {
        "task": "referrals.tasks.send_due_deliveries",
        "schedule": env.int("AGENCY_DELIVERY_SWEEP_SECONDS", default=30),
    },
}

# After a failed publish to the broker, requests leave their stored work to the sweepers this long
# instead of waiting on the broker again (helpline.broker).
BROKER_BACKOFF_SECONDS = env.int("BROKER_BACKOFF_SECONDS", default=10)

# Signed webhooks to partner agencies (referrals.notifications): attempts before the delivery fails
# and the supervisors are alerted, the first retry's delay (doubling each time), the HTTP timeout.
AGENCY_WEBHOOK_MAX_ATTEMPTS = env.int("AGENCY_WEBHOOK_MAX_ATTEMPTS", default=8)
AGENCY_WEBHOOK_RETRY_BASE_SECONDS = env.float("AGENCY_WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
AGENCY_WEBHOOK_TIMEOUT_SECONDS = env.float("AGENCY_WEBHOOK_TIMEOUT_SECONDS", default=10.0)

# How long a supervisor's break-glass access to a restricted case lasts.
BREAK_GLASS_MINUTES = env.int("BREAK_GLASS_MINUTES", default=60)


def _fernet_keys(keys: list[str]) -> list[str]:
    keys = [key.strip() for key in keys if key.strip()]
    if not keys:
        raise ImproperlyConfigured(
            "Set FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys, the current one first "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 bytes, url-safe base64)."
            ) from None
    return keys


# Personal data at rest (helpline/crypto.py): the first key encrypts, every key decrypts. To
# rotate, put a new key first, deploy, run `manage.py rotate_keys`, then drop the old key.
FIELD_ENCRYPTION_KEYS = _fernet_keys(env.list("FIELD_ENCRYPTION_KEYS", default=[]))
# Key of the HMAC that lets us look identifiers (reporters' phone numbers) up without keeping
# them in clear; separate from the encryption keys. Changing it orphans the stored hashes.
IDENTIFIER_HASH_KEY = env("IDENTIFIER_HASH_KEY", default="")
if len(IDENTIFIER_HASH_KEY) < 32:
    raise ImproperlyConfigured("Set IDENTIFIER_HASH_KEY: a random secret of at least 32 characters.")

TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
# Outbound replies (channels_sms.outbound): Twilio's REST API base (tests point it at a local fake
# server), the HTTP timeout, and the retries with exponential backoff on timeouts, connection
# errors and Twilio 5xx/429. Without TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN replies go to the
# local outbox (`manage.py outbox`).
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="https://api.twilio.com").rstrip("/")
TWILIO_HTTP_TIMEOUT_SECONDS = env.float("TWILIO_HTTP_TIMEOUT_SECONDS", default=10.0)
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

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["helpline.api.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["helpline.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "helpline.api.pagination.Pagination",
    "DEFAULT_METADATA_CLASS": "helpline.api.metadata.Metadata",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "helpline.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Proxies in front of us (0: trust REMOTE_ADDR only), so X-Forwarded-For cannot dodge throttles.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "helpline.api.errors.ExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "ALLOWED_ERROR_STATUS_CODES": [
        *("400", "401", "403", "404", "405", "406", "413", "415", "429"),
        *("500", "503"),
    ],
    "ERROR_SCHEMAS": {
        "413": "helpline.api.schema.ErrorResponse413Serializer",
        "503": "helpline.api.schema.ErrorResponse503Serializer",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lifeline — child helpline case management API",
    "DESCRIPTION": (
        "Contacts, cases, referrals and audit for national child helplines. "
        "Every error answers one JSON shape: `{type, errors: [{code, detail, attr}]}`."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: helplines may run without outside internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "SignInErrorCode401Enum": "helpline.api.schema.SignInErrorCode401.choices",
        "SignInErrorCode429Enum": "helpline.api.schema.SignInErrorCode429.choices",
        # Two choice sets share the field name "channel": each keeps a stable name.
        "ChannelEnum": "cases.models.Channel.choices",
        "NumberChannelEnum": "channels_sms.models.NumberChannel.choices",
        # Fields named "state" and "outcome" in several components: cases, referrals, deliveries...
        "CaseStateEnum": "cases.workflow.CaseState.choices",
        "ReferralStateEnum": "referrals.workflow.ReferralState.choices",
        "DeliveryStateEnum": "referrals.models.DeliveryState.choices",
        "ReferralOutcomeEnum": "referrals.models.Outcome.choices",
        "AuditOutcomeEnum": "helpline.models.AuditOutcome.choices",
        "DeliveryAttemptOutcomeEnum": "referrals.models.AttemptOutcome.choices",
        "ErrorCode503Enum": "helpline.api.schema.ErrorCode503.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "helpline.api.schema.document_list_item_errors",
        "helpline.api.schema.document_empty_query_values",
        "helpline.api.schema.document_links",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step
