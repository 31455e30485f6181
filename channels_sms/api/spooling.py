"""What a webhook does when the database cannot take it: the request (signature, size and shape
already checked) goes to this node's durable spool and is answered as if stored, from what this
process holds in memory (the number's acknowledgement, the voice greeting and queue). A full spool
answers 503 in the one error shape and raises the alarm: never a silent drop."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from helpline.api.errors import service_unavailable

from .. import selectors, spool, texts, voice
from ..models import PhoneNumber
from ..senders import sender_hash, session_secret_digest
from ..spool import SpoolFull, SpoolKind

logger = logging.getLogger(__name__)

TWIML = "text/xml; charset=utf-8"


def queued_behind_spool() -> bool:
    """Earlier requests wait in this node's spool: a new one queues behind them (arrival order),
    read from the directory itself, so every process of the node answers alike. Not while the spool
    is at a limit: then the database, back or not, is tried first, as when nothing waits. Queued,
    the request would be refused with a 503 that Twilio does not retry, until the drain made room;
    stored out of turn, a message still reads in its place (by the time it arrived)."""
    if not spool.pending():
        return False
    try:
        return not spool.refusal(spool.counted())
    except OSError:
        return False


def database_unavailable(request: HttpRequest, exc: Exception) -> None:
    # The driver's first line, as helpline.middleware logs it: never a value it quotes.
    reason = (str(exc).strip().splitlines() or [""])[0][:200]
    logger.warning(
        "Database unavailable (%s: %s); %s %s goes to the spool",
        type(exc).__name__,
        reason,
        request.method,
        request.path,
    )


def _first(params: Mapping[str, list[str]], name: str) -> str:
    return (params.get(name) or [""])[0]


def _append(
    kind: SpoolKind,
    *,
    params: dict[str, list[str]],
    address: str,
    hashed: str,
    reply: str,
    query: dict,
    received_at: datetime | None = None,
) -> HttpResponse | None:
    """Spools the request; None when it is on disk, else the 503 to answer."""
    try:
        spool.append(
            kind,
            received_at=received_at or datetime.now(UTC),
            sender_hash=hashed,
            to=address,
            params=params,
            reply=reply,
            query=query,
        )
    except SpoolFull as full:
        logger.error(
            "SPOOL FULL (%s): a %s webhook answered 503 and is not stored; the database is away and "
            "this node's spool is at its limit (docs/spool.md)",
            full.reason,
            kind,
        )
        return service_unavailable()
    return None


def spool_message(
    request: HttpRequest,
    *,
    kind: SpoolKind,
    params: dict[str, list[str]],
    address: str,
    channels: tuple[str, ...],
    arrived: datetime,
) -> HttpResponse:
    """An SMS/WhatsApp message or a delivery status, spooled; answered with the acknowledgement a
    stored message would get: on a sender's first message of a conversation, as far as this node's
    spool knows (a sender with a message spooled within the idle gap gets none)."""
    reply = ""
    hashed = ""
    if kind == SpoolKind.SMS and _first(params, "From"):
        hashed = sender_hash(_first(params, "From"))
        last = spool.last_spooled_from(hashed)
        gap = timedelta(minutes=settings.CONVERSATION_IDLE_MINUTES)
        if last is None or arrived - last >= gap:
            number = selectors.phone_number_known(address=address, channels=channels)
            reply = texts.acknowledgement(number)
    query = {"m": request.GET.get("m", "")} if kind == SpoolKind.SMS_STATUS else {}
    refused = _append(
        kind, params=params, address=address, hashed=hashed, reply=reply, query=query, received_at=arrived
    )
    if refused is not None:
        return refused
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type=TWIML)


def spool_chat_message(*, session_id: str, secret: str, body: str, arrived: datetime) -> dict | None:
    """A child's chat message, spooled with its session id and the digest of the secret it came
    with (checked by the drain against the session); None when the spool refuses (503)."""
    received_at = arrived
    params = {
        "session": [session_id],
        "secret_digest": [session_secret_digest(secret)],
        "body": [body],
        "id": [uuid.uuid4().hex],
    }
    refused = _append(
        SpoolKind.CHAT,
        params=params,
        address="",
        hashed=spool.keyed(f"chat:{session_id}"),
        reply="",
        query={},
        received_at=received_at,
    )
    if refused is not None:
        return None
    return {"status": "queued", "received_at": received_at}


def _voice_answer(kind: SpoolKind, number: PhoneNumber | None) -> str:
    if kind == SpoolKind.VOICE_STATUS:
        return str(VoiceResponse())
    if number is None:
        # Never seen by this process: the default greeting, then the queue named for our number
        # (docs/spool.md: a node that starts during an outage knows no helpline yet).
        return voice.outage_twiml()
    if kind == SpoolKind.VOICE_CALL:
        return voice.answer_twiml(number)
    return voice.connect_twiml(number)


def spool_call(
    request: HttpRequest, *, kind: SpoolKind, params: dict[str, list[str]], address: str, arrived: datetime
) -> HttpResponse:
    """A voice webhook, spooled; the caller still hears the greeting, the emergency digit and the
    queue, from the number's configuration as this process last read it."""
    from ..models import NumberChannel

    number = selectors.phone_number_known(address=address, channels=(NumberChannel.VOICE,))
    refused = _append(
        kind, params=params, address=address, hashed="", reply="", query={}, received_at=arrived
    )
    if refused is not None:
        return refused
    return HttpResponse(_voice_answer(kind, number), content_type=TWIML)
