"""Bench-only settings: the test settings plus a bare view to measure the webhook against
(bench.urls), with database connections kept between requests as production keeps them, and the
`bench` app for its commands (`manage.py seed_scale`, `manage.py bench_audit`)."""

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405  (production's default)
# The bench's own commands (seed_scale, bench_audit) live outside the application: only here.
INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405
