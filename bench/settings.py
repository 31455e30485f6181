"""Bench-only settings: the test settings plus a bare view to measure the webhook against
(bench.urls), with database connections kept between requests as production keeps them."""

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405  (production's default)
