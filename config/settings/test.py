"""Test settings: the same real PostgreSQL and Redis as production, faster hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
# Fixed, public test keys: tests need no set-up, and nothing real is ever encrypted with them.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "Q7gHWuyU1Cga8pcUuUJypnzB4HkexOjaMJApUanxYDs=")
os.environ.setdefault("IDENTIFIER_HASH_KEY", "test-only-identifier-hash-key-not-for-production")

from .base import *  # noqa: F403

# No broker back-off between tests (helpline.broker): a test of a broken broker must not make the
# next test skip its publish. Process tests set it in the environment of what they start.
BROKER_BACKOFF_SECONDS = int(os.environ.get("BROKER_BACKOFF_SECONDS", "0"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Quiet unless asked (LOG_LEVEL): tests that read what the processes print raise it.
LOGGING["root"]["level"] = os.environ.get("LOG_LEVEL", "WARNING")  # noqa: F405
# One test database per test run, so runs side by side (developers, helpers, CI) never collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_lifeline_{os.getpid()}"}  # noqa: F405
# A live notification stream (notifications.stream) ends after 2 s in tests, so a test (or a schema
# check) that reads one to its end does not wait 25 s; and none is refused for another left open.
NOTIFICATION_STREAM_SECONDS = int(os.environ.get("NOTIFICATION_STREAM_SECONDS", "2"))
NOTIFICATION_STREAM_LIMIT = int(os.environ.get("NOTIFICATION_STREAM_LIMIT", "100"))
