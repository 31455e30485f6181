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
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header
from rest_framework.exceptions import NotFound

from cases.models import Channel, Direction
from cases.services import case_create_from_inbound
from helpline.audit import audit_record
from helpline.chat_settings import fill_placeholders, is_open, text_for
from helpline.errors import Conflict
from helpline.i18n import supported
from helpline.models import Helpline
from helpline.vocabulary import AuditAction

from . import stored_late, texts
from .models import ChatSession, Message, MessageKind
from .selectors import chat_session_ended_reason, chat_sessions_expired
from .senders import lock_sender, session_secret_digest, session_sender_hash

CHAT = Channel.CHAT
DELIVERED = "delivered"


@dataclass(frozen=True)
class NewSession:
    session: ChatSession
    secret: str


def chat_session_create(*, helpline_code: str, language: str, accept_language: str = "") -> NewSession:
    """Opens a session for an active helpline (unknown or inactive: 404). The secret is returned
    here once and never stored. The child is shown the helpline's greeting, and outside its
    opening hours its out-of-hours notice: both are kept on the session (and written into the
    conversation when the child's first message opens it, so the operator sees what they were
    told). Outside the hours the session opens all the same: what the child writes is kept for
    the next shift."""
    helpline = Helpline.objects.filter(code__iexact=helpline_code, is_active=True).first()
    if helpline is None:
        raise NotFound(_("No such helpline."))
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    language = chat_language(helpline, language, accept_language)
    with transaction.atomic():
        session = ChatSession(
            helpline=helpline,
            language=language,
            secret_hash=session_secret_digest(secret),
            created_at=now,
            expires_at=now + timedelta(hours=settings.CHAT_SESSION_HOURS),
            greeting=_helpline_text(helpline, helpline.chat_greeting, language, texts.DEFAULT_GREETING),
            out_of_hours_notice=""
            if is_open(helpline.opening_hours, helpline.timezone, now)
            else _helpline_text(
                helpline, helpline.out_of_hours_message, language, texts.DEFAULT_OUT_OF_HOURS
            ),
        )
        session.sender_hash = session_sender_hash(session.pk)
        session.save()
        audit_record(
            actor=None,
            action=AuditAction.CHAT_SESSION_CREATE,
            obj=session,
            helpline=helpline.pk,
            extra={"language": session.language, "out_of_hours": bool(session.out_of_hours_notice)},
        )
    return NewSession(session, secret)


def chat_language(helpline: Helpline, chosen: str, accept_language: str = "") -> str:
    """The chat's language: the child's choice when the helpline speaks it (`es-MX` as `es`), else
    the first language of their browser's `Accept-Language` it speaks (by quality), else the
    helpline's default. Never guessed from what they write."""
    spoken = helpline.children_languages
    browser = [code for code, quality in parse_accept_lang_header(accept_language or "") if quality > 0]
    for candidate in (chosen, *browser):
        code = (candidate or "").lower()
        for option in (code, code.split("-")[0]):
            if option in spoken:
                return option
    return helpline.default_language


def _helpline_text(helpline: Helpline, configured: dict[str, str], language: str, default: str) -> str:
    """The helpline's own text in the chat's language, else ours in it when we speak it, else the
    helpline's own in its default language, else ours in the request's language."""
    text = configured.get(language, "")
    if not text and supported(language):
        with translation.override(supported(language)):
            text = str(default)
    if not text:
        text = text_for(configured, language=language, default_language=helpline.default_language)
    if not text:
        text = str(default)
    return fill_placeholders(text, helpline_name=helpline.name)


def _write_notices(session: ChatSession) -> None:
    """What the child was shown when the chat opened, into the conversation the first message
    opened: the operator reads the thread as the child saw it."""
    for kind, body in (
        (MessageKind.GREETING, session.greeting),
        (MessageKind.OUT_OF_HOURS, session.out_of_hours_notice),
    ):
        if body:
            Message.objects.create(
                helpline_id=session.helpline_id,
                case_id=session.contact.case_id,
                contact=session.contact,
                channel=CHAT,
                direction=Direction.OUTBOUND,
                kind=kind,
                body=body,
                at=session.created_at,
                status=DELIVERED,
                sent_at=session.created_at,
                status_at=session.created_at,
            )


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
            _case, contact = case_create_from_inbound(
                helpline=session.helpline, channel=CHAT, started_at=now, language=session.language
            )
            session.contact = contact
            session.save(update_fields=["contact"])
            _write_notices(session)
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
    """The child ends the chat; ending it again changes nothing. The conversation gets a
    `session_ended` entry, so the operator sees the chat is over before trying to reply."""
    with transaction.atomic():
        session = (
            ChatSession.objects.select_for_update(of=("self",)).select_related("contact").get(pk=session.pk)
        )
        if session.ended_at is None:
            _end(session, at=timezone.now(), expired=False)
    return session


def chat_sessions_close_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat task: ends the sessions whose time ran out (at their expiry), each with its
    `session_ended` entry, so an operator sees an expired chat end as they see a closed one.
    Returns how many it ended."""
    now = now or timezone.now()
    ended = 0
    for session_id in chat_sessions_expired(now=now, limit=limit):
        with transaction.atomic():
            session = (
                ChatSession.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("contact")
                .filter(pk=session_id, ended_at__isnull=True)
                .first()
            )
            if session is not None:
                _end(session, at=session.expires_at, expired=True)
                ended += 1
    return ended


def _end(session: ChatSession, *, at: datetime, expired: bool) -> None:
    session.ended_at = at
    session.save(update_fields=["ended_at"])
    if session.contact_id:
        Message.objects.create(
            helpline_id=session.helpline_id,
            case_id=session.contact.case_id,
            contact=session.contact,
            channel=CHAT,
            direction=Direction.INBOUND,
            kind=MessageKind.SESSION_ENDED,
            at=at,
        )
    audit_record(
        actor=None,
        action=AuditAction.CHAT_SESSION_END,
        obj=session,
        case_id=session.contact.case_id if session.contact_id else None,
        helpline=session.helpline_id,
        extra={"expired": True} if expired else {},
    )
