"""Referrals to partner agencies: the signed webhooks that notify them (referrals.notifications)."""

from .environment import env

# Signed webhooks to partner agencies (referrals.notifications): attempts before the delivery fails
# and the supervisors are alerted, the first retry's delay (doubling each time), the HTTP timeout.
AGENCY_WEBHOOK_MAX_ATTEMPTS = env.int("AGENCY_WEBHOOK_MAX_ATTEMPTS", default=8)
AGENCY_WEBHOOK_RETRY_BASE_SECONDS = env.float("AGENCY_WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
AGENCY_WEBHOOK_TIMEOUT_SECONDS = env.float("AGENCY_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Agencies' webhook URLs are https on public addresses only (referrals.endpoints: no server-side
# request forgery). For local development with an endpoint on this machine: plain http, and
# loopback or private addresses. Never in production.
AGENCY_WEBHOOK_ALLOW_HTTP = env.bool("AGENCY_WEBHOOK_ALLOW_HTTP", default=False)
AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = env.bool("AGENCY_WEBHOOK_ALLOW_NON_PUBLIC", default=False)
