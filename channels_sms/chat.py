"""Web chat for children, anonymous: a session is a sender like an SMS number. Its first message
opens a case at intake with a `chat` contact; every later message goes into that same contact (one
contact per session). Messages are `Message` rows (channel "chat", body encrypted), so operators
read them with the case's conversation and reply through the same endpoint (channels_sms.outbound
marks a chat reply delivered at once; the child reads it by polling).

Processing is synchronous, in the request's transaction, under the same per-sender advisory lock
as SMS threading: chat is our own API, nobody retries it behind our back, and the child sees their
message stored when the POST answers. The secret is random, shown once, stored as its SHA-256; a
wrong or missing secret answers as an unknown session (404: channels_sms.selectors.chat_session_get,
with the session's other reads). Audit entries carry ids only."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound

from cases.models import Channel, Direction
from cases.services import case_create_from_inbound
from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import Helpline
from helpline.vocabulary import AuditAction

from . import stored_late
from .models import ChatSession, Message
from .selectors import chat_session_ended_reason
from .senders import lock_sender, session_secret_digest, session_sender_hash

CHAT = Channel.CHAT
DELIVERED = "delivered"


@dataclass(frozen=True)
class NewSession:
    session: ChatSession
    secret: str


def chat_session_create(*, helpline_code: str, language: str) -> NewSession:
    """Opens a session for an active helpline (unknown or inactive: 404). The secret is returned
    here once and never stored."""
    helpline = Helpline.objects.filter(code__iexact=helpline_code, is_active=True).first()
    if helpline is None:
        raise NotFound("No such helpline.")
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        session = ChatSession(
            helpline=helpline,
            language=language or helpline.default_language,
            secret_hash=session_secret_digest(secret),
            created_at=now,
            expires_at=now + timedelta(hours=settings.CHAT_SESSION_HOURS),
        )
        session.sender_hash = session_sender_hash(session.pk)
        session.save()
        audit_record(
            actor=None,
            action=AuditAction.CHAT_SESSION_CREATE,
            obj=session,
            helpline=helpline.pk,
            extra={"language": session.language},
        )
    return NewSession(session, secret)


def chat_message_receive(
    *, session: ChatSession, body: str, spooled_at: datetime | None = None, spool_id: str = ""
) -> tuple[Message, bool]:
    """Stores a child's message and threads it: the session's first message opens a case at
    intake with a chat contact; later ones join that contact. An ended session: 409. A message the
    spool kept while the database was away (`spooled_at`: when it arrived; `spool_id`: its id
    there, stored once) is judged by the session as it was then. Returns the message and whether
    this call stored it."""
    now = spooled_at or timezone.now()
    external_id = f"spool:{spool_id}" if spool_id else ""
    with transaction.atomic():
        lock_sender(session.helpline_id, session.sender_hash)
        session = (
            ChatSession.objects.select_for_update(of=("self",))
            .select_related("helpline", "contact__case")
            .get(pk=session.pk)
        )
        if external_id:
            stored = Message.objects.filter(channel=CHAT, external_id=external_id).first()
            if stored is not None:
                return stored, False
        reason = chat_session_ended_reason(session, at=now)
        if reason:
            raise Conflict(reason)
        contact = session.contact
        if contact is None:
            _case, contact = case_create_from_inbound(helpline=session.helpline, channel=CHAT, started_at=now)
            session.contact = contact
            session.save(update_fields=["contact"])
        message = Message.objects.create(
            helpline_id=session.helpline_id,
            case_id=contact.case_id,
            contact=contact,
            channel=CHAT,
            direction=Direction.INBOUND,
            sender_hash=session.sender_hash,
            body=body,
            external_id=external_id,
            at=now,
        )
        audit_record(
            actor=None,
            action=AuditAction.MESSAGE_RECEIVE,
            obj=message,
            case_id=contact.case_id,
            helpline=session.helpline_id,
            extra={
                "chat_session": str(session.pk),
                "contact_id": contact.pk,
                "channel": CHAT,
                **({"spooled": True} if spooled_at is not None else {}),
            },
        )
        if spooled_at is not None:
            stored_late.cases_raise({contact.case_id: [(spooled_at, f"message {message.pk}")]})
    return message, True


def chat_session_end(*, session: ChatSession) -> ChatSession:
    """The child ends the chat; ending it again changes nothing."""
    with transaction.atomic():
        session = ChatSession.objects.select_for_update().get(pk=session.pk)
        if session.ended_at is None:
            session.ended_at = timezone.now()
            session.save(update_fields=["ended_at"])
            audit_record(
                actor=None,
                action=AuditAction.CHAT_SESSION_END,
                obj=session,
                case_id=session.contact.case_id if session.contact_id else None,
                helpline=session.helpline_id,
            )
    return session
