"""Outbound replies: an operator's reply to a case's SMS/WhatsApp sender, stored first and sent
after by a task, and Twilio's delivery status callbacks applied to it.

Never twice: the task locks the message row before calling Twilio, sends only while the row has no
Twilio sid, and stores the sid in the same transaction right after Twilio answers, so a redelivered
or retried task finds the sid and does nothing. The residual window: Twilio accepted the message
but the process died (or the database failed) before that commit; the retry would send again.
It is narrowed by the StatusCallback URL, which names our message id (`?m=<id>`): Twilio's first
status callback for the message adopts its sid onto a message that has none, and a later retry then
finds it. A read timeout is the same case (Twilio may have accepted): it is retried, and the same
adoption applies. Logs and audit entries carry ids only, never a body or a number.
"""

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from cases.models import Case, Direction
from helpline import broker, policy
from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from . import chat, sms
from .canned_replies import canned_reply_text
from .models import ChatSession, InboundEvent, Message, MessageKind, NumberChannel, PhoneNumber
from .selectors import OUTBOX, chat_session_for_reply
from .services import Receipt

logger = logging.getLogger(__name__)

QUEUED, FAILED = "queued", "failed"
MESSAGING_CHANNELS = (NumberChannel.SMS, NumberChannel.WHATSAPP)
STATUS_CALLBACK_PATH = "/webhooks/twilio/sms/status/"
TWILIO_API = "https://api.twilio.com"
# How far along a message is: a status callback only ever moves a message forward (Twilio's
# callbacks may arrive out of order). The final states share a rank, so none replaces another.
RANK = {
    QUEUED: 0,
    OUTBOX: 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    FAILED: 3,
    "canceled": 3,
    "read": 4,
}
ERROR_STATUSES = ("undelivered", FAILED)

# twilio's HTTP client logs requests and responses (a response echoes the body) at INFO: keep it
# to warnings.
_http_logger = logging.getLogger("channels_sms.twilio_http")
_http_logger.setLevel(logging.WARNING)


class RetryableSendError(Exception):
    """Twilio could not be reached, timed out, or answered 5xx/429: try again later."""


def twilio_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN)


# --- the reply ------------------------------------------------------------------------------------


def _reply_addresses(case: Case) -> tuple[Message, str, str]:
    """The conversation message to reply to, the sender's address and our number it wrote to."""
    last = (
        Message.objects.filter(case=case, direction=Direction.INBOUND, kind=MessageKind.MESSAGE)
        .filter(Q(channel__in=MESSAGING_CHANNELS, event__isnull=False) | Q(channel=chat.CHAT))
        .select_related("event")
        .order_by("-at", "-id")
        .first()
    )
    if last is not None and last.channel == chat.CHAT:
        # A web chat: the child reads the reply by polling; no number, no Twilio.
        if chat_session_for_reply(last.sender_hash) is None:
            raise Conflict(
                _("This case's web chat has ended: the child can no longer read replies."), code="chat_ended"
            )
        return last, "", ""
    if last is None or not last.event.sender:
        raise Conflict(_("This case has no SMS or WhatsApp sender to reply to."))
    try:
        ours = str(json.loads(last.event.params).get("To") or "")
    except ValueError:
        ours = ""
    numbers = PhoneNumber.objects.filter(helpline_id=case.helpline_id, channel=last.channel, is_active=True)
    number = numbers.filter(number=ours).first() or numbers.order_by("pk").first()
    if number is None:
        raise Conflict(_("The helpline has no active number on this channel to reply from."))
    return last, last.event.sender, number.number


def _conversation_language(case: Case, last: Message) -> str:
    """The language a reply to this conversation is written in: a web chat's, as the child chose
    it; else the child's language recorded on the case, else the helpline's default."""
    if last.channel == chat.CHAT:
        language = (
            ChatSession.objects.filter(sender_hash=last.sender_hash)
            .values_list("language", flat=True)
            .first()
        )
        if language:
            return language
    return case.child_language or case.helpline.default_language


def message_send(*, actor: User, case: Case, body: str = "", canned_reply: int | None = None) -> Message:
    """Stores an operator's reply to the case's latest SMS/WhatsApp sender, queued; a task sends
    it once the transaction commits. A web chat sender's reply is delivered at once (the child
    polls for it). The text is `body`, or a canned reply of the helpline in the conversation's
    language, as written (channels_sms.canned_replies). 409 when the case has no messaging sender,
    or its chat has ended (`chat_ended`)."""
    if not policy.can(actor, PolicyAction.MESSAGE_SEND, case):
        raise PermissionDenied(_("Your role may not reply to this case's sender."))
    last, recipient, ours = _reply_addresses(case)
    canned = None
    if canned_reply is not None:
        canned, body = canned_reply_text(
            reply_id=canned_reply, case=case, language=_conversation_language(case, last)
        )
    is_chat = last.channel == chat.CHAT
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            helpline_id=case.helpline_id,
            case=case,
            contact_id=last.contact_id,
            channel=last.channel,
            direction=Direction.OUTBOUND,
            body=body,
            at=now,
            author=actor,
            from_address=ours,
            to_address=recipient,
            status=chat.DELIVERED if is_chat else QUEUED,
            sent_at=now if is_chat else None,
            status_at=now if is_chat else None,
            canned_reply=canned,
        )
        audit_record(
            actor=actor,
            action=AuditAction.MESSAGE_SEND,
            obj=message,
            case_id=case.pk,
            extra={
                "channel": message.channel,
                "contact_id": message.contact_id,
                "length": len(body),
                **({"canned_reply": canned.pk} if canned is not None else {}),
            },
        )
        if not is_chat:
            transaction.on_commit(lambda: dispatch(message.pk), robust=True)
    return message


def dispatch(message_id: int) -> None:
    from .tasks import send_outbound_message

    broker.publish(send_outbound_message, (message_id,), what=f"outbound message {message_id}")


# --- sending --------------------------------------------------------------------------------------


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio's HTTP client, sending what it would send to https://api.twilio.com to another base
    URL (TWILIO_API_BASE_URL: a local fake Twilio in tests). No transport-level retries: a retry
    is the task's decision, after it checked that nothing was sent."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__(logger=_http_logger, timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and self.base_url != TWILIO_API and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client() -> Client:
    http = BaseUrlHttpClient(settings.TWILIO_API_BASE_URL, settings.TWILIO_HTTP_TIMEOUT_SECONDS)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)


def status_callback_url(message: Message) -> str:
    return f"{settings.PUBLIC_BASE_URL}{STATUS_CALLBACK_PATH}?m={message.pk}"


def _record(message: Message, action: AuditAction, **extra) -> None:
    audit_record(
        actor=None,
        action=action,
        obj=message,
        case_id=message.case_id,
        helpline=message.helpline_id,
        extra={"channel": message.channel, **extra},
    )


def message_deliver(*, message_id: int) -> str:
    """Sends one queued outbound message, at most once: Twilio when configured, else the local
    outbox. Returns what happened ("sent", "outbox", "failed", "already_sent", "not_queued",
    "missing"); raises RetryableSendError when it should be tried again."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .filter(pk=message_id, direction=Direction.OUTBOUND)
            .first()
        )
        if message is None:
            return "missing"
        if message.external_id:
            return "already_sent"
        if message.status != QUEUED:
            return "not_queued"
        message.attempts += 1
        now = timezone.now()
        if not twilio_configured():
            message.status, message.status_at = OUTBOX, now
            message.save(update_fields=["status", "status_at", "attempts"])
            _record(message, AuditAction.MESSAGE_OUTBOX)
            logger.warning(
                "Outbound message %s kept in the local outbox: Twilio is not configured "
                "(list it with `manage.py outbox`)",
                message.pk,
            )
            return "outbox"
        try:
            created = twilio_client().messages.create(
                to=message.to_address,
                from_=message.from_address,
                body=message.body,
                status_callback=status_callback_url(message),
            )
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                reason = f"http_{exc.status}"
            else:
                message.status, message.status_at = FAILED, now
                message.error_code = str(exc.code or exc.status)[:16]
                message.save(update_fields=["status", "status_at", "error_code", "attempts"])
                _record(message, AuditAction.MESSAGE_FAILED, error_code=message.error_code)
                logger.warning("Outbound message %s refused by Twilio (%s)", message.pk, message.error_code)
                return "failed"
        except requests.exceptions.Timeout:
            reason = "timeout"
        except requests.exceptions.ConnectionError:
            reason = "connection"
        else:
            message.external_id = created.sid
            status = created.status or QUEUED
            message.status = str(getattr(status, "value", status))
            message.sent_at = message.status_at = now
            message.error_code = ""
            message.save(
                update_fields=["external_id", "status", "sent_at", "status_at", "error_code", "attempts"]
            )
            _record(message, AuditAction.MESSAGE_DELIVER, sid=created.sid, attempts=message.attempts)
            return "sent"
        message.error_code = reason[:16]
        message.save(update_fields=["error_code", "attempts"])
    logger.warning("Outbound message %s not sent yet (%s); will retry", message_id, reason)
    raise RetryableSendError(reason)


def message_give_up(*, message_id: int, reason: str) -> None:
    """Retries exhausted: a message still without a sid is failed (a late status callback that
    names it can still adopt its sid and status)."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .filter(pk=message_id, direction=Direction.OUTBOUND, external_id="", status=QUEUED)
            .first()
        )
        if message is None:
            return
        message.status, message.status_at, message.error_code = FAILED, timezone.now(), reason[:16]
        message.save(update_fields=["status", "status_at", "error_code"])
        _record(message, AuditAction.MESSAGE_FAILED, error_code=message.error_code, gave_up=True)
    logger.error("Outbound message %s failed: retries exhausted (%s)", message_id, reason)


# --- status callbacks -----------------------------------------------------------------------------


def status_callback_receive(
    *,
    number: PhoneNumber,
    params: Mapping[str, list[str]],
    message_ref: str = "",
    spooled_at: datetime | None = None,
) -> Receipt:
    """Stores a delivery status callback (once per MessageSid and status) and moves the outbound
    message it is about forward, never back. The message is found by Twilio's sid, or by our id in
    the callback URL for a message whose sid was lost (then the sid is adopted). A callback for no
    message of ours is stored and otherwise ignored."""
    with transaction.atomic():
        receipt = sms.message_status_receive(number=number, params=params, spooled_at=spooled_at)
        if receipt.created:
            _status_apply(receipt.event, number, params, message_ref)
    return receipt


def _status_apply(
    event: InboundEvent, number: PhoneNumber, params: Mapping[str, list[str]], message_ref: str
) -> None:
    def first(name: str) -> str:
        return (params.get(name) or [""])[0]

    sid, status = first("MessageSid"), first("MessageStatus") or first("SmsStatus")
    outbound = Message.objects.select_for_update(of=("self",)).filter(
        helpline_id=number.helpline_id, direction=Direction.OUTBOUND
    )
    message = outbound.filter(external_id=sid).first()
    adopted = False
    if message is None and message_ref.isdigit():
        message = outbound.filter(pk=int(message_ref), external_id="").first()
        adopted = message is not None
    if message is None:
        logger.info("Status callback %s names no outbound message of ours; stored only", event.pk)
        return
    previous = message.status
    fields = []
    if adopted:
        message.external_id = sid
        message.sent_at = message.sent_at or timezone.now()
        fields += ["external_id", "sent_at"]
    if status in RANK and (adopted or RANK[status] > RANK.get(previous, -1)):
        message.status, message.status_at = status, timezone.now()
        message.error_code = first("ErrorCode")[:16] if status in ERROR_STATUSES else ""
        fields += ["status", "status_at", "error_code"]
    if fields:
        message.save(update_fields=fields)
    event.processed_at = timezone.now()
    event.save(update_fields=["processed_at"])
    if "status" in fields:
        _record(
            message,
            AuditAction.MESSAGE_STATUS,
            status=status,
            previous=previous,
            adopted_sid=adopted,
            event_id=event.pk,
        )


def unsent_messages_redispatch(*, now=None, limit: int = 500) -> list[int]:
    """Dispatches again the replies still queued and never tried OUTBOUND_SWEEP_AFTER_SECONDS
    after they were written (their dispatch was lost). A duplicate dispatch sends nothing twice:
    the task locks the row and checks it first."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOUND_SWEEP_AFTER_SECONDS)
    ids = list(
        Message.objects.filter(
            direction=Direction.OUTBOUND, status=QUEUED, external_id="", attempts=0, at__lt=cutoff
        )
        .order_by("at")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in ids:
        dispatch(message_id)
    if ids:
        logger.warning("Re-dispatched %d unsent outbound messages", len(ids))
    return ids
