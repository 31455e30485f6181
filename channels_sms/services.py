"""What every inbound webhook shares, whatever its channel: the receipt of a stored event, and the
security record of a refused webhook. The channels' own writes live in their modules (sms, voice,
chat, outbound, contacters)."""

import logging
from dataclasses import dataclass

from django.db import transaction

from helpline.audit import audit_record
from helpline.models import AuditOutcome
from helpline.vocabulary import AuditAction

from . import webhook_refusals
from .models import InboundEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """A webhook's stored event, and whether this request stored it (False: a retry found it)."""

    event: InboundEvent
    created: bool


def webhook_reject(*, path: str, reason: str, helpline_id: int | None = None) -> None:
    """A security record of a refused webhook: where and why, never what it carried. Refusals of
    unsigned requests are recorded a few per address and minute (webhook_refusals)."""
    logger.warning("Twilio webhook refused: %s (%s)", reason, path)
    added = webhook_refusals.recording(reason)
    if added is None:
        return
    with transaction.atomic():
        audit_record(
            actor=None,
            action=AuditAction.WEBHOOK_REJECTED,
            object_type="webhook",
            object_id=path,
            helpline=helpline_id,
            outcome=AuditOutcome.DENIED,
            extra={"reason": reason, **added},
        )
