"""Changes of an agency's webhook endpoint: no one person alone can redirect referrals.

Whoever controls an agency's webhook URL and secret receives its referral packets (the child's
name and location, the reporter's number). So an administrator's change of either is only a
proposal (`WebhookChange`, pending): notifications keep going to the endpoint in use (none, if none
was ever approved) until a supervisor of the agency's helpline, not the proposer, approves it
(`webhook_change_approve`) and the new endpoint answers a signed verification challenge. Removing
the endpoint takes effect at once: it sends nothing anywhere. Every proposal, approval, activation
and removal is flagged for review in the audit log (`extra.review` true) and listed to the agency's
own users on their agency (`AgencyOutput.webhook_changes`)."""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from helpline import policy
from helpline.audit import REDACTED, audit_record
from helpline.errors import Conflict
from helpline.models import AuditOutcome, User
from helpline.transitions import refusal_code
from helpline.vocabulary import AuditAction, PolicyAction

from . import endpoints
from .models import Agency, WebhookChange, WebhookChangeState
from .notifications import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

logger = logging.getLogger(__name__)

VERIFICATION_EVENT = "webhook.verification"
VERIFIED = "verified"
WRONG_ANSWER = "wrong answer: the challenge was not echoed"
WAITING = (WebhookChangeState.PENDING, WebhookChangeState.APPROVED)
# Marks the audit entries a person should review (the endpoint that receives referral packets).
REVIEW = {"review": True}


def waiting_change(agency: Agency) -> WebhookChange | None:
    return agency.webhook_changes.filter(state__in=WAITING).first()


def webhook_target(agency: Agency) -> tuple[str, str]:
    """The URL and secret a partial change starts from: the change waiting, else the one in use."""
    waiting = waiting_change(agency)
    if waiting is not None:
        return waiting.url, waiting.secret
    return agency.webhook_url, agency.webhook_secret


def webhook_change_propose(*, actor: User, agency: Agency, fields: dict[str, str]) -> WebhookChange | None:
    """Records an administrator's change of `webhook_url`/`webhook_secret` (call inside the
    agency's write, its row locked). An empty URL removes the endpoint at once; anything else
    waits for approval and verification. Returns the new waiting change, if any."""
    url, secret = webhook_target(agency)
    url = fields.get("webhook_url", url)
    secret = fields.get("webhook_secret", secret)
    waiting = waiting_change(agency)
    if waiting is not None and (waiting.url, waiting.secret) != (url, secret):
        waiting.state = WebhookChangeState.SUPERSEDED
        waiting.save(update_fields=["state"])
    if not url:
        removed = bool(agency.webhook_url)
        agency.webhook_url, agency.webhook_secret = "", ""
        agency.save(update_fields=["webhook_url", "webhook_secret"])
        if removed or waiting is not None:
            audit_record(
                actor=actor,
                action=AuditAction.AGENCY_WEBHOOK_REMOVE,
                obj=agency,
                helpline=agency.helpline_id,
                extra={**REVIEW, "superseded_change_id": waiting.pk if waiting else None},
            )
        return None
    if waiting is not None and (waiting.url, waiting.secret) == (url, secret):
        return waiting  # proposed again as it is: nothing new to approve
    if (agency.webhook_url, agency.webhook_secret) == (url, secret):
        if waiting is not None:  # back to the endpoint in use: the waiting change is dropped
            audit_record(
                actor=actor,
                action=AuditAction.AGENCY_WEBHOOK_WITHDRAW,
                obj=agency,
                helpline=agency.helpline_id,
                extra={**REVIEW, "change_id": waiting.pk},
            )
        return None
    change = WebhookChange.objects.create(agency=agency, url=url, secret=secret, proposed_by=actor)
    audit_record(
        actor=actor,
        action=AuditAction.AGENCY_WEBHOOK_PROPOSE,
        obj=agency,
        helpline=agency.helpline_id,
        # The proposed change, as an edit records its fields (the secret never in clear); it takes
        # effect on the agency only once approved and verified.
        changes={
            **(
                {"webhook_url": {"before": agency.webhook_url, "after": url}}
                if url != agency.webhook_url
                else {}
            ),
            **(
                {"webhook_secret": {"before": REDACTED, "after": REDACTED}}
                if secret != agency.webhook_secret
                else {}
            ),
        },
        extra={
            **REVIEW,
            "change_id": change.pk,
            "url": url,
            "url_changed": url != agency.webhook_url,
            "secret_changed": secret != agency.webhook_secret,
            "superseded_change_id": waiting.pk if waiting else None,
        },
    )
    return change


def webhook_change_approve(*, actor: User, agency: Agency, change_id: int) -> WebhookChange:
    """A supervisor approves the waiting change `change_id` (named, so what is approved is what the
    supervisor saw), then the new endpoint is challenged; it takes effect once it answers. Asked
    again for an approved change whose endpoint did not answer, the challenge is sent again."""
    if not policy.can(actor, PolicyAction.AGENCY_APPROVE_WEBHOOK, agency):
        raise PermissionDenied(_("Only a supervisor of the agency's helpline approves webhook changes."))
    with transaction.atomic():
        change = (
            WebhookChange.objects.select_for_update(of=("self",)).filter(pk=change_id, agency=agency).first()
        )
        if change is None:
            raise ValidationError({"change": _("No such webhook change of this agency.")})
        refusal: Exception | None = None
        if change.proposed_by_id == actor.pk:
            refusal = PermissionDenied(_("The person who proposed a webhook change cannot approve it."))
        elif change.state not in WAITING:
            refusal = Conflict(
                # Translators: %(state)s is the change's state code (active, superseded, ...).
                _("This webhook change is %(state)s, not waiting for approval.") % {"state": change.state},
                code="webhook_change_not_waiting",
            )
        if refusal is not None:
            audit_record(
                actor=actor,
                action=AuditAction.AGENCY_APPROVE_WEBHOOK,
                obj=agency,
                helpline=agency.helpline_id,
                outcome=AuditOutcome.DENIED,
                extra={**REVIEW, "change_id": change.pk, "refusal": refusal_code(refusal)},
            )
        elif change.state == WebhookChangeState.PENDING:
            change.state = WebhookChangeState.APPROVED
            change.approved_by = actor
            change.approved_at = timezone.now()
            change.save(update_fields=["state", "approved_by", "approved_at"])
            audit_record(
                actor=actor,
                action=AuditAction.AGENCY_APPROVE_WEBHOOK,
                obj=agency,
                helpline=agency.helpline_id,
                extra={
                    **REVIEW,
                    "change_id": change.pk,
                    "url": change.url,
                    "proposed_by": change.proposed_by_id,
                },
            )
    if refusal is not None:
        raise refusal
    # No transaction open while the endpoint answers.
    outcome = challenge(url=change.url, secret=change.secret)
    return _verification_record(actor=actor, change_id=change.pk, outcome=outcome)


def challenge(*, url: str, secret: str) -> str:
    """POSTs a signed verification event to `url` (the delivery's signature scheme, with `secret`);
    the endpoint must answer 2xx with the JSON `{"challenge": <the challenge>}`. Returns VERIFIED or
    the generic reason it failed."""
    nonce = secrets.token_urlsafe(24)
    delivery_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "event": VERIFICATION_EVENT,
            "delivery_id": delivery_id,
            "challenge": nonce,
            "occurred_at": timezone.now().isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Lifeline-Referrals/1",
        EVENT_HEADER: VERIFICATION_EVENT,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
    try:
        answer = endpoints.post(
            url, body=body, headers=headers, timeout=settings.AGENCY_WEBHOOK_TIMEOUT_SECONDS, read_limit=4096
        )
    except endpoints.SendFailed as failed:
        logger.warning("Webhook verification got no answer (%s: %s)", failed.outcome.value, failed.reason)
        return failed.outcome.value
    if not 200 <= answer.status < 300:
        return f"HTTP {answer.status}"
    try:
        echoed = json.loads(answer.body)
    except ValueError:
        return WRONG_ANSWER
    if not isinstance(echoed, dict) or not secrets.compare_digest(str(echoed.get("challenge", "")), nonce):
        return WRONG_ANSWER
    return VERIFIED


def _verification_record(*, actor: User, change_id: int, outcome: str) -> WebhookChange:
    agency_id = WebhookChange.objects.filter(pk=change_id).values_list("agency_id", flat=True).get()
    with transaction.atomic():
        # The agency first, then the change: the order an administrator's proposal takes them in.
        agency = Agency.objects.select_for_update().get(pk=agency_id)
        change = WebhookChange.objects.select_for_update().get(pk=change_id)
        if change.state != WebhookChangeState.APPROVED:
            return change  # superseded (or activated by a concurrent approval) meanwhile
        change.verification = outcome
        if outcome != VERIFIED:
            change.save(update_fields=["verification"])
            audit_record(
                actor=actor,
                action=AuditAction.AGENCY_WEBHOOK_VERIFY,
                obj=agency,
                helpline=agency.helpline_id,
                extra={**REVIEW, "change_id": change.pk, "verified": False, "outcome": outcome},
            )
            return change
        WebhookChange.objects.filter(agency=agency, state=WebhookChangeState.ACTIVE).update(
            state=WebhookChangeState.SUPERSEDED
        )
        change.state = WebhookChangeState.ACTIVE
        change.verified_at = timezone.now()
        change.save(update_fields=["state", "verification", "verified_at"])
        agency.webhook_url, agency.webhook_secret = change.url, change.secret
        agency.save(update_fields=["webhook_url", "webhook_secret"])
        audit_record(
            actor=actor,
            action=AuditAction.AGENCY_WEBHOOK_ACTIVATE,
            obj=agency,
            helpline=agency.helpline_id,
            extra={**REVIEW, "change_id": change.pk, "url": change.url, "verified": True},
        )
    return change
