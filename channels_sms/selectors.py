"""Reads of the inbound channels: our numbers as webhooks name them, a case's conversation, the
callback queue, a web chat session and its messages, the local outbox."""

import hmac
import threading
import time
import uuid
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from cases.models import Case, Channel, Direction
from cases.selectors import case_get, case_queryset_for
from cases.workflow import CaseState
from helpline import policy
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from . import texts
from .models import Callback, CannedReply, ChatSession, InboundEvent, Message, MessageKind, PhoneNumber
from .senders import session_secret_digest

CHAT_PAGE = 100  # messages in one answer of a chat session's conversation
NOTICE_KINDS = ("greeting", "out_of_hours")  # what the child has from the session, not as messages
OUTBOX = "outbox"  # an outbound message's status when kept in the local outbox (Twilio not configured)

# Our numbers, as every webhook looks them up: {(address, channels): (found at, number)}.
_numbers: dict[tuple[str, tuple[str, ...]], tuple[float, PhoneNumber]] = {}
_numbers_lock = threading.Lock()


def phone_number_for(*, address: str, channels: tuple[str, ...]) -> PhoneNumber | None:
    """Our active number a webhook names (its `To`, or `From` for status callbacks), with its
    helpline. Each process keeps a number it found for PHONE_NUMBER_CACHE_SECONDS: every webhook
    asks, numbers change a few times a year, and the look-up was a quarter of a webhook's time in
    the bench. A change saved (to a number, a helpline or a voice route) clears this process's
    copies at once (phone_numbers_forget); other processes see it within the cache time (a number
    moved to another helpline still routes to the old one that long there). A number not found is
    never kept, so a new number answers at once everywhere."""
    key = (address.strip(), channels)
    kept = _numbers.get(key)
    if kept is not None and time.monotonic() - kept[0] < settings.PHONE_NUMBER_CACHE_SECONDS:
        return kept[1]
    # The voice route comes along (a reverse one-to-one: None when the number has none), so that a
    # call can be answered from memory while the database is away.
    number = (
        PhoneNumber.objects.select_related("helpline", "voice_route")
        .filter(number=key[0], channel__in=channels, is_active=True, helpline__is_active=True)
        .first()
    )
    with _numbers_lock:
        if number is None:
            _numbers.pop(key, None)
        else:
            _numbers[key] = (time.monotonic(), number)
    return number


def phone_numbers_warm() -> int:
    """Reads every active number (with its helpline and voice route) into this process's copies,
    so that a webhook for any of them can be answered from memory if the database goes away before
    this process served it. Returns how many."""
    numbers = list(
        PhoneNumber.objects.select_related("helpline", "voice_route").filter(
            is_active=True, helpline__is_active=True
        )
    )
    now = time.monotonic()
    with _numbers_lock:
        for number in numbers:
            _numbers[(number.number, (number.channel,))] = (now, number)
    return len(numbers)


def phone_number_known(*, address: str, channels: tuple[str, ...]) -> PhoneNumber | None:
    """The number as this process last found it, however long ago (None if never): what a webhook
    answers with while the database is away (the spool keeps the request; configuration held in
    memory answers it)."""
    kept = _numbers.get((address.strip(), channels))
    return kept[1] if kept is not None else None


def phone_numbers_forget(**_signal_arguments: object) -> None:
    """Drops this process's kept numbers (on any save or delete of a number or a helpline)."""
    with _numbers_lock:
        _numbers.clear()


def contacts_from_senders(hashes: set[str], helpline_id: int | None) -> Q:
    """A condition on cases.Contact: the contacts that a sender with one of these keyed hashes
    brought (messages and calls alike: each inbound event names its contact). The caller's scope
    is applied by the contacts list around it; the helpline keeps the look-up on its index."""
    events = InboundEvent.objects.filter(
        helpline_id=helpline_id, sender_hash__in=sorted(hashes), contact__isnull=False
    )
    return Q(id__in=events.values("contact_id"))


def case_message_list(*, user: User, case_id: int) -> QuerySet[Message]:
    """The conversation of a case the caller may see, both directions, in the order it happened
    (the case read is recorded as a message read; outside the caller's scope: 404)."""
    case = case_get(user=user, case_id=case_id, action=AuditAction.MESSAGE_LIST)
    return Message.objects.filter(case=case).order_by("at", "id")


# --- the callback queue -----------------------------------------------------------------------------


def callback_list(*, user: User, done: bool | None = None) -> QuerySet[Callback]:
    """Callbacks of the cases the user can see (cases.selectors.case_queryset_for: never a
    restricted case off the user's list, never another helpline's)."""
    if not policy.can(user, PolicyAction.CALLBACK_VIEW):
        return Callback.objects.none()
    callbacks = Callback.objects.filter(helpline_id=user.helpline_id, case__in=case_queryset_for(user))
    if done is not None:
        callbacks = callbacks.filter(done_at__isnull=not done)
    return callbacks.select_related("contact", "case", "done_by")


def callback_get(*, user: User, callback_id: int) -> Callback:
    callback = callback_list(user=user).filter(pk=callback_id).first()
    if callback is None:
        raise NotFound()
    return callback


# --- web chat ---------------------------------------------------------------------------------------


def chat_session_get(*, session_id: uuid.UUID, secret: str) -> ChatSession:
    """The session if the secret is its own; else 404, as if it did not exist."""
    try:
        session = ChatSession.objects.filter(pk=uuid.UUID(str(session_id))).first()
    except ValueError:
        session = None
    if (
        session is None
        or not secret
        or not hmac.compare_digest(session.secret_hash, session_secret_digest(secret))
    ):
        raise NotFound()
    return session


def chat_session_for_spooled(*, session_id: str, secret_digest: str) -> ChatSession | None:
    """The session a spooled chat message names, if the message came with its secret (the spool
    keeps the secret's digest, never the secret); None otherwise."""
    try:
        session = ChatSession.objects.filter(pk=uuid.UUID(session_id)).first()
    except ValueError:
        return None
    if session is None or not hmac.compare_digest(session.secret_hash, secret_digest):
        return None
    return session


def chat_session_ended_reason(session: ChatSession, *, at: datetime | None = None) -> str:
    """Why a child may no longer write in the session ("" while they may), now or `at`."""
    at = at or timezone.now()
    if session.expires_at <= at:
        return texts.CHAT_EXPIRED
    if session.ended_at is not None and session.ended_at <= at:
        return texts.CHAT_ENDED
    if session.contact_id and session.contact.case.state == CaseState.CLOSED:
        return texts.CHAT_ENDED
    return ""


def chat_message_list(*, session: ChatSession, after: int | None) -> QuerySet[Message]:
    """The session's conversation, both directions, oldest first, after the cursor (a message id).
    The greeting and out-of-hours notice are not among them: the child has them from the session
    (`chat_notices`), from before there was a conversation."""
    if session.contact_id is None:
        return Message.objects.none()
    messages = Message.objects.filter(contact_id=session.contact_id, channel=Channel.CHAT).exclude(
        kind__in=NOTICE_KINDS
    )
    if after is not None:
        messages = messages.filter(pk__gt=after)
    return messages.order_by("id")[:CHAT_PAGE]


def chat_notices(session: ChatSession) -> list[dict]:
    """What the child is shown first, from the helpline, in order: its greeting, and the
    out-of-hours notice if the chat opened outside the opening hours."""
    shown = [
        (MessageKind.GREETING, session.greeting),
        (MessageKind.OUT_OF_HOURS, session.out_of_hours_notice),
    ]
    return [{"kind": kind, "body": body, "at": session.created_at} for kind, body in shown if body]


def _chats_waiting(helpline_id: int, now: datetime) -> QuerySet[ChatSession]:
    """A helpline's web chats waiting for an operator: open, the child has written, and nobody
    has replied yet (and the case is not closed)."""
    return (
        ChatSession.objects.filter(
            helpline_id=helpline_id, ended_at__isnull=True, contact__isnull=False, expires_at__gt=now
        )
        .exclude(contact__case__state=CaseState.CLOSED)
        .exclude(
            Exists(
                Message.objects.filter(
                    contact_id=OuterRef("contact_id"), direction=Direction.OUTBOUND, kind=MessageKind.MESSAGE
                )
            )
        )
    )


# The order children wait in (chat_queue_position counts the same order).
WAITING_ORDER = ("contact__started_at", "created_at")
WAITING_SHOWN = 50  # rows of the console's page of waiting chats


def chat_waiting_list(*, user: User, now: datetime | None = None) -> list[dict]:
    """The web chats of the caller's helpline waiting for an operator, in the order the children
    wait (`position`: 1 is next, the number each child is shown), those whose case the caller may
    see: `{"position", "session", "case"}`. A chat whose case is hidden from the caller keeps its
    place (the numbers stay the children's own) but is left out."""
    if user.helpline_id is None or not policy.can(user, PolicyAction.CASE_LIST):
        return []
    now = now or timezone.now()
    places = list(
        _chats_waiting(user.helpline_id, now).order_by(*WAITING_ORDER).values_list("pk", "contact__case_id")
    )
    shown = policy.visible_case_ids(user, {case_id for _, case_id in places if case_id is not None})
    positions = {pk: place for place, (pk, case_id) in enumerate(places, start=1) if case_id in shown}
    chosen = sorted(positions, key=positions.__getitem__)[:WAITING_SHOWN]
    sessions = ChatSession.objects.filter(pk__in=chosen).select_related("contact__case")
    return sorted(
        ({"position": positions[s.pk], "session": s, "case": s.contact.case} for s in sessions),
        key=lambda row: row["position"],
    )


def chat_queue_position(session: ChatSession, *, now: datetime | None = None) -> int | None:
    """Where the child's chat is among the helpline's chats waiting for an operator (1: next),
    ordered by when each child first wrote. None when not waiting: before the first message (no
    conversation yet), once an operator has replied, or when the chat is over."""
    now = now or timezone.now()
    if session.contact_id is None or chat_session_ended_reason(session, at=now):
        return None
    waiting = _chats_waiting(session.helpline_id, now)
    mine = waiting.filter(pk=session.pk).values_list("contact__started_at", flat=True).first()
    if mine is None:
        return None  # an operator has replied
    ahead = waiting.filter(
        Q(contact__started_at__lt=mine) | Q(contact__started_at=mine, created_at__lt=session.created_at)
    ).count()
    return ahead + 1


def chat_sessions_expired(*, now: datetime, limit: int) -> list:
    """Ids of sessions whose time ran out that nothing has ended yet (the oldest first); only those
    with a conversation, the ones an operator could be waiting on."""
    return list(
        ChatSession.objects.filter(ended_at__isnull=True, contact__isnull=False, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )


def chat_session_for_reply(sender_hash: str) -> ChatSession | None:
    """The chat session a case's chat sender is (for an operator's reply), if it is still open."""
    session = ChatSession.objects.filter(sender_hash=sender_hash).select_related("contact__case").first()
    if session is None or chat_session_ended_reason(session):
        return None
    return session


# --- canned replies ---------------------------------------------------------------------------------


def canned_reply_list(
    *, user: User, language: str | None = None, retired: bool | None = False
) -> QuerySet[CannedReply]:
    """The canned replies of the caller's helpline (every helpline's for a platform administrator),
    in one language if given; only the usable ones unless `retired` says otherwise (None: all)."""
    if not policy.can(user, PolicyAction.CANNED_REPLY_VIEW):
        return CannedReply.objects.none()
    replies = CannedReply.objects.all()
    if user.helpline_id is not None:
        replies = replies.filter(helpline_id=user.helpline_id)
    if language:
        replies = replies.filter(language=language)
    if retired is not None:
        replies = replies.filter(is_active=not retired)
    return replies.order_by("language", "title", "id")


def canned_reply_get(*, user: User, reply_id: int) -> CannedReply:
    reply = canned_reply_list(user=user, retired=None).filter(pk=reply_id).first()
    if reply is None:
        raise NotFound()
    return reply


# --- the local outbox -------------------------------------------------------------------------------


def outbox_list() -> QuerySet[Message]:
    """Replies kept in the local outbox (Twilio not configured), oldest first (`manage.py outbox`)."""
    return (
        Message.objects.filter(direction=Direction.OUTBOUND, status=OUTBOX)
        .select_related("case")
        .order_by("at", "id")
    )


# --- our numbers at Twilio --------------------------------------------------------------------------


def phone_numbers_active() -> QuerySet[PhoneNumber]:
    """Every number webhooks can reach (active, of an active helpline), all helplines: the numbers
    `manage.py twilio_webhooks` configures at Twilio."""
    return PhoneNumber.objects.filter(is_active=True, helpline__is_active=True).order_by("number", "channel")


def unthreaded_inbound(*, helpline_id: int | None) -> tuple[int, float]:
    """How many of the helpline's stored inbound messages and calls no worker has threaded yet, and
    the oldest one's age in seconds (the workers' health as the floor sees it; one partial index)."""
    from django.db.models import Count, Min
    from django.utils import timezone

    if helpline_id is None:
        return 0, 0.0
    found = InboundEvent.objects.filter(helpline_id=helpline_id, processed_at__isnull=True).aggregate(
        count=Count("id"), oldest=Min("received_at")
    )
    oldest = found["oldest"]
    return found["count"], (timezone.now() - oldest).total_seconds() if oldest else 0.0


def case_message_refresh(*, user: User, case_id: int) -> list[Message]:
    """The conversation again, for a page that shows it already and asks for news every few seconds
    (the console's workspace): the case fetched in the caller's scope (404 outside it, the refusal
    recorded); the read itself is recorded by the caller when the messages it shows change, not
    on every refresh."""
    case = case_get(user=user, case_id=case_id, action=AuditAction.MESSAGE_LIST, for_write=True)
    return list(Message.objects.filter(case=case).order_by("at", "id"))


def case_messages(*, case: Case) -> list[Message]:
    """The conversation of a case the caller already fetched in their scope, its read on record
    (the console's case page: one read of the case shows its conversation with it)."""
    return list(Message.objects.filter(case=case).order_by("at", "id"))
