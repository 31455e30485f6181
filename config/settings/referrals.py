"""Referrals to partner agencies: the signed webhooks that notify them (referrals.notifications)."""

from .environment import env

# Signed webhooks to partner agencies (referrals.notifications): attempts before the delivery fails
# and the supervisors are alerted, the first retry's delay (doubling each time), the HTTP timeout.
AGENCY_WEBHOOK_MAX_ATTEMPTS = env.int("AGENCY_WEBHOOK_MAX_ATTEMPTS", default=8)
AGENCY_WEBHOOK_RETRY_BASE_SECONDS = env.float("AGENCY_WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
AGENCY_WEBHOOK_TIMEOUT_SECONDS = env.float("AGENCY_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
