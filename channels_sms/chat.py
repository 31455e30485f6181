"""Web chat for children, anonymous: a session is a sender like an SMS number. Its first message
opens a case at intake with a `chat` contact; every later message goes into that same contact (one
contact per session). Messages are `Message` rows (channel "chat", body encrypted), so operators
read them with the case's conversation and reply through the same endpoint (channels_sms.outbound
marks a chat reply delivered at once; the child reads it by polling).

Processing is synchronous, in the request's transaction, under the same per-sender advisory lock
as SMS threading: chat is our own API, nobody retries it behind our back, and the child sees their
message stored when the POST answers. The secret is random, shown once, stored as its SHA-256; a
wrong or missing secret answers as an unknown session (404). Audit entries carry ids only."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from cases.models import Channel, Direction
from cases.services import case_create_from_inbound
from cases.workflow import CaseState
from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import Helpline

from .models import ChatSession, Message
from .services import _lock_sender

CHAT = Channel.CHAT
DELIVERED = "delivered"
PAGE = 100


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def session_sender_hash(session_id: uuid.UUID | str) -> str:
    """The session as a sender: a keyed hash, like a phone number's."""
    value = f"chat:{session_id}"
    return hmac.new(settings.IDENTIFIER_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


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
            secret_hash=_digest(secret),
            created_at=now,
            expires_at=now + timedelta(hours=settings.CHAT_SESSION_HOURS),
        )
        session.sender_hash = session_sender_hash(session.pk)
        session.save()
        audit_record(
            actor=None,
            action="chat.session.create",
            obj=session,
            helpline=helpline.pk,
            extra={"language": session.language},
        )
    return NewSession(session, secret)


def chat_session_get(*, session_id: uuid.UUID, secret: str) -> ChatSession:
    """The session if the secret is its own; else 404, as if it did not exist."""
    try:
        session = ChatSession.objects.filter(pk=uuid.UUID(str(session_id))).first()
    except ValueError:
        session = None
    if session is None or not secret or not hmac.compare_digest(session.secret_hash, _digest(secret)):
        raise NotFound()
    return session


def _ended_reason(session: ChatSession) -> str:
    if session.ended_at is not None:
        return "This chat has ended."
    if session.expires_at <= timezone.now():
        return "This chat has expired."
    if session.contact_id and session.contact.case.state == CaseState.CLOSED:
        return "This chat has ended."
    return ""


def chat_message_receive(*, session: ChatSession, body: str) -> Message:
    """Stores a child's message and threads it: the session's first message opens a case at
    intake with a chat contact; later ones join that contact. An ended session: 409."""
    now = timezone.now()
    with transaction.atomic():
        _lock_sender(session.helpline_id, session.sender_hash)
        session = (
            ChatSession.objects.select_for_update(of=("self",))
            .select_related("helpline", "contact__case")
            .get(pk=session.pk)
        )
        reason = _ended_reason(session)
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
            at=now,
        )
        audit_record(
            actor=None,
            action="message.receive",
            obj=message,
            case_id=contact.case_id,
            helpline=session.helpline_id,
            extra={"chat_session": str(session.pk), "contact_id": contact.pk, "channel": CHAT},
        )
    return message


def chat_session_end(*, session: ChatSession) -> ChatSession:
    """The child ends the chat; ending it again changes nothing."""
    with transaction.atomic():
        session = ChatSession.objects.select_for_update().get(pk=session.pk)
        if session.ended_at is None:
            session.ended_at = timezone.now()
            session.save(update_fields=["ended_at"])
            audit_record(
                actor=None,
                action="chat.session.end",
                obj=session,
                case_id=session.contact.case_id if session.contact_id else None,
                helpline=session.helpline_id,
            )
    return session


def chat_message_list(*, session: ChatSession, after: int | None) -> QuerySet[Message]:
    """The session's conversation, both directions, oldest first, after the cursor (a message id)."""
    if session.contact_id is None:
        return Message.objects.none()
    messages = Message.objects.filter(contact_id=session.contact_id, channel=CHAT)
    if after is not None:
        messages = messages.filter(pk__gt=after)
    return messages.order_by("id")[:PAGE]


def session_for_reply(sender_hash: str) -> ChatSession | None:
    """The chat session a case's chat sender is (for an operator's reply), if it is still open."""
    session = ChatSession.objects.filter(sender_hash=sender_hash).select_related("contact__case").first()
    if session is None or _ended_reason(session):
        return None
    return session
