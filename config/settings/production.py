"""The production profile (docker-compose.yml, the Dockerfile): the base settings over HTTPS only,
behind a proxy that terminates TLS and sets X-Forwarded-Proto. `manage.py check --deploy` finds
nothing to report with it (tests/test_production_settings_pass_check_deploy.py).

Like every profile it refuses to load without SECRET_KEY, FIELD_ENCRYPTION_KEYS, IDENTIFIER_HASH_KEY,
DATABASE_URL and REDIS_URL."""

from .base import *  # noqa: F403

# Never a debug page (settings, SQL, a child's message in a traceback), whatever DEBUG says.
DEBUG = False

# Plain HTTP is redirected to https, except the health endpoints: load balancers and
# docker-compose's healthcheck probe them over plain HTTP, and they answer nothing personal.
# The proxy says the original scheme in X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER, base).
SECURE_SSL_REDIRECT = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Browsers remember for a year to use https only, also on subdomains; preload lets the domain be
# submitted to the browsers' preload list (docs/decisions.md, "Production profile").
SECURE_HSTS_SECONDS = 365 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

# The session (admin site) and CSRF cookies travel over https only.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
