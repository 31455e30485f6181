"""Test settings: the same real PostgreSQL and Redis as production, faster hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# One test database per test run, so runs side by side (developers, helpers, CI) never collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_lifeline_{os.getpid()}"}  # noqa: F405
