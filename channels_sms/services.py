"""Every write of the inbound channels. The webhook stores the raw event and answers; a task then
threads it into a contact and a case. Each write is one transaction with its audit entry, and no
body, number or sender name ever goes into a log line or an audit entry (ids only)."""

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cases.models import Case, Contact
from cases.services import case_create_from_inbound, contact_create_inbound
from cases.workflow import CaseState
from helpline import broker
from helpline.audit import audit_record
from helpline.crypto import normalise_phone
from helpline.models import AuditOutcome

from . import contacters
from .models import (
    ContacterFlagKind,
    Direction,
    EventKind,
    InboundEvent,
    Message,
    NumberChannel,
    PhoneNumber,
)

logger = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
MAX_MEDIA = 10  # Twilio sends at most 10 media items per message


def channel_of(address: str) -> str:
    """sms or whatsapp, from a Twilio address (`whatsapp:+...` or a plain number)."""
    return NumberChannel.WHATSAPP if address.startswith(WHATSAPP_PREFIX) else NumberChannel.SMS


def sender_phone(address: str) -> str:
    """The sender's number in E.164, or "" when the address is not a phone number (a short code,
    an alphanumeric sender id)."""
    raw = address.removeprefix(WHATSAPP_PREFIX)
    try:
        return normalise_phone(raw)
    except ValueError:
        return ""


def sender_hash(address: str) -> str:
    """Keyed hash of a sender. Phone numbers hash as their E.164 form (the same value as
    helpline.crypto.identifier_hash, so a case whose reporter phone is that number is found, and
    a child writing by SMS and by WhatsApp from one phone is one sender); other ids as written."""
    value = sender_phone(address) or address.strip()
    return hmac.new(settings.IDENTIFIER_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def _lock_sender(helpline_id: int, hashed: str, *, purpose: str = "inbound") -> None:
    """Serialises everything done for one sender of one helpline until the transaction ends: the
    threading of their messages into contacts and cases ("inbound"), or, separately, the webhooks'
    first-message-of-a-conversation check ("acknowledge"), which need not wait for threading."""
    digest = hashlib.sha256(f"{purpose}:{helpline_id}:{hashed}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _idle_gap() -> timedelta:
    return timedelta(minutes=settings.CONVERSATION_IDLE_MINUTES)


def _params_json(params: Mapping[str, list[str]]) -> str:
    return json.dumps({name: values[0] if len(values) == 1 else values for name, values in params.items()})


def _media(params: Mapping[str, list[str]]) -> tuple[int, list[dict[str, str]]]:
    def first(name: str) -> str:
        return (params.get(name) or [""])[0]

    try:
        count = max(0, min(int(first("NumMedia") or 0), MAX_MEDIA))
    except ValueError:
        count = 0
    media = [
        {"url": first(f"MediaUrl{i}"), "content_type": first(f"MediaContentType{i}")}
        for i in range(count)
        if first(f"MediaUrl{i}")
    ]
    return len(media), media


@dataclass(frozen=True)
class Receipt:
    event: InboundEvent
    created: bool


def inbound_message_receive(*, number: PhoneNumber, params: Mapping[str, list[str]]) -> Receipt:
    """Stores an inbound SMS/WhatsApp message webhook (signature already checked) and decides the
    answer: an acknowledgement on the sender's first message of a conversation, else nothing.
    A retry of a stored MessageSid returns the stored event unchanged. Processing is dispatched
    once the transaction commits."""
    external_id = params["MessageSid"][0]
    existing = InboundEvent.objects.filter(
        provider="twilio", kind=EventKind.MESSAGE, external_id=external_id
    ).first()
    if existing is not None:
        return Receipt(existing, created=False)
    address = (params.get("From") or [""])[0]
    hashed = sender_hash(address) if address else ""
    num_media, media = _media(params)
    now = timezone.now()
    try:
        with transaction.atomic():
            if hashed:
                # Only the sender's other webhooks write what the check below reads.
                _lock_sender(number.helpline_id, hashed, purpose="acknowledge")
            # The first message of a conversation: nothing from this sender within the idle gap.
            recent = InboundEvent.objects.filter(
                helpline_id=number.helpline_id,
                kind=EventKind.MESSAGE,
                channel=number.channel,
                sender_hash=hashed,
                received_at__gte=now - _idle_gap(),
            ).exists()
            reply = (
                "" if recent or not hashed else (number.acknowledgement or settings.INBOUND_ACKNOWLEDGEMENT)
            )
            event = InboundEvent.objects.create(
                helpline_id=number.helpline_id,
                channel=number.channel,
                kind=EventKind.MESSAGE,
                provider="twilio",
                external_id=external_id,
                sender=address,
                sender_hash=hashed,
                body=(params.get("Body") or [""])[0],
                num_media=num_media,
                media=json.dumps(media) if media else "",
                params=_params_json(params),
                reply=reply,
                received_at=now,
                dispatched_at=now,
            )
            audit_record(
                actor=None,
                action="inbound.receive",
                obj=event,
                helpline=number.helpline_id,
                extra={"channel": event.channel, "external_id": external_id, "num_media": num_media},
            )
            transaction.on_commit(lambda: dispatch(event.pk), robust=True)
    except IntegrityError:
        # The same MessageSid committed by a concurrent retry between our look-up and insert.
        event = InboundEvent.objects.get(provider="twilio", kind=EventKind.MESSAGE, external_id=external_id)
        return Receipt(event, created=False)
    return Receipt(event, created=True)


def message_status_receive(*, number: PhoneNumber, params: Mapping[str, list[str]]) -> Receipt:
    """Stores a delivery status callback of an outbound message, once per MessageSid and status
    (not swept: channels_sms.outbound.status_callback_receive applies it to the message)."""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or [""])[0]
    external_id = f"{params['MessageSid'][0]}:{status}"[:80]
    with transaction.atomic():
        event, created = InboundEvent.objects.get_or_create(
            provider="twilio",
            kind=EventKind.MESSAGE_STATUS,
            external_id=external_id,
            defaults={
                "helpline_id": number.helpline_id,
                "channel": number.channel,
                "params": _params_json(params),
                "received_at": timezone.now(),
            },
        )
        if created:
            audit_record(
                actor=None,
                action="inbound.message_status",
                obj=event,
                helpline=number.helpline_id,
                extra={"external_id": external_id, "status": status},
            )
    return Receipt(event, created=created)


def webhook_reject(*, path: str, reason: str, helpline_id: int | None = None) -> None:
    """A security record of a refused webhook: where and why, never what it carried."""
    logger.warning("Twilio webhook refused: %s (%s)", reason, path)
    with transaction.atomic():
        audit_record(
            actor=None,
            action="webhook.rejected",
            object_type="webhook",
            object_id=path,
            helpline=helpline_id,
            outcome=AuditOutcome.DENIED,
            extra={"reason": reason},
        )


def dispatch(event_id: int) -> None:
    from .tasks import process_inbound_event

    # The event is stored; if this fails the sweeper dispatches it again once the broker is back.
    broker.publish(process_inbound_event, (event_id,), what=f"inbound event {event_id}")


# --- processing ------------------------------------------------------------------------------------


def inbound_event_process(*, event_id: int) -> str:
    """Threads a stored message into a contact and a case, exactly once: the sender's open case in
    the helpline gets it (in the current conversation contact of that channel, or a new contact
    after CONVERSATION_IDLE_MINUTES of silence); without an open case a new case opens at intake.
    Returns what was done ("threaded", "already_processed", "missing")."""
    _count_attempt(event_id)
    with transaction.atomic():
        # of=self: locking the joined helpline row too would serialise every sender of a helpline.
        event = (
            InboundEvent.objects.select_for_update(of=("self",))
            .select_related("helpline")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return "missing"
        if event.processed_at is not None:
            return "already_processed"
        if event.kind != EventKind.MESSAGE:
            return "not_a_message"
        helpline = event.helpline
        if event.sender_hash:
            _lock_sender(helpline.pk, event.sender_hash)
        # Repeat contacters: a *blocked* sender's message is kept as a contact in no case (nothing
        # lost, call type left for an operator) and joins no conversation; an *abusive* sender's is
        # threaded as usual and its contact marked (channels_sms.contacters).
        flag = contacters.active_flag(
            helpline_id=helpline.pk, identifier_hash=event.sender_hash, at=event.received_at
        )
        if flag is not None and flag.flag == ContacterFlagKind.BLOCKED:
            contact = contacters.blocked_contact_create(
                helpline_id=helpline.pk, channel=event.channel, started_at=event.received_at, flag=flag
            )
        else:
            contact = _conversation_contact(event)
        if contact is None:
            phone = sender_phone(event.sender)
            _case, contact = case_create_from_inbound(
                helpline=helpline, channel=event.channel, started_at=event.received_at, reporter_phone=phone
            )
        message = Message.objects.create(
            helpline=helpline,
            case_id=contact.case_id,
            contact=contact,
            channel=event.channel,
            direction=Direction.INBOUND,
            sender_hash=event.sender_hash,
            body=event.body,
            media=event.media,
            external_id=event.external_id,
            event=event,
            at=event.received_at,
        )
        if flag is not None and flag.flag == ContacterFlagKind.ABUSIVE:
            contacters.contact_mark(contact=contact, flag=flag)
        event.processed_at = timezone.now()
        event.contact = contact
        event.save(update_fields=["processed_at", "contact"])
        audit_record(
            actor=None,
            action="message.receive",
            obj=message,
            case_id=contact.case_id,
            helpline=helpline.pk,
            extra={"event_id": event.pk, "contact_id": contact.pk, "channel": event.channel},
        )
    return "threaded"


def _count_attempt(event_id: int) -> None:
    """Counts a processing attempt in a transaction of its own, committed before the work, so a
    message that kills its worker still shows its attempts; in one round trip and without waiting
    for the WAL flush (the threading's own commit waits for it): a count lost in a database crash
    is one retry more."""
    count = (
        f"UPDATE {InboundEvent._meta.db_table} SET attempts = attempts + 1 "
        "WHERE id = %s AND processed_at IS NULL"  # nosec B608  # table name from the model
    )
    with connection.cursor() as cursor:
        if connection.in_atomic_block:  # an eager task in its caller's transaction: count in it
            cursor.execute(count, [event_id])
        else:
            cursor.execute(f"BEGIN; SET LOCAL synchronous_commit TO OFF; {count}; COMMIT", [event_id])


def _conversation_contact(event: InboundEvent) -> Contact | None:
    """The contact this message continues, a new contact in the sender's open case, or None when
    the sender has no open case in the helpline."""
    if not event.sender_hash:
        return None
    case = (
        Case.objects.filter(helpline_id=event.helpline_id, reporter_phone_hash=event.sender_hash)
        .exclude(state=CaseState.CLOSED)
        .order_by("-created_at", "-id")
        .first()
    )
    if case is None:
        return None
    last = (
        Message.objects.filter(case=case, channel=event.channel, sender_hash=event.sender_hash)
        .select_related("contact")
        .order_by("-at", "-id")
        .first()
    )
    if last is not None and last.contact.case_id == case.pk and event.received_at - last.at <= _idle_gap():
        return last.contact
    return contact_create_inbound(case=case, channel=event.channel, started_at=event.received_at)


def unprocessed_events_redispatch(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Dispatches again the messages still unprocessed INBOUND_SWEEP_AFTER_SECONDS after they were
    last dispatched (the broker was down, or a process died between commit and publish)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS)
    with transaction.atomic():
        ids = list(
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(kind=EventKind.MESSAGE, processed_at__isnull=True, dispatched_at__lt=cutoff)
            .order_by("received_at")
            .values_list("pk", flat=True)[:limit]
        )
        InboundEvent.objects.filter(pk__in=ids).update(dispatched_at=now)
    for event_id in ids:
        dispatch(event_id)
    if ids:
        logger.warning("Re-dispatched %d unprocessed inbound events", len(ids))
    return ids
