"""Who wrote, as every channel sees it: the channel a Twilio address names, the sender's number, the
keyed hash a sender is known by (a phone number's, or a chat session's), the per-sender locks that
serialise everything done for one sender, and a webhook's parameters as stored. Nothing here reads
or writes a row."""

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping

from django.conf import settings
from django.db import connection

from helpline.crypto import normalise_phone

from .models import NumberChannel

WHATSAPP_PREFIX = "whatsapp:"


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


def session_sender_hash(session_id: uuid.UUID | str) -> str:
    """A web chat session as a sender: a keyed hash, like a phone number's."""
    value = f"chat:{session_id}"
    return hmac.new(settings.IDENTIFIER_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def session_secret_digest(secret: str) -> str:
    """A chat session's secret as stored (and compared): its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def sender_lock_key(helpline_id: int, hashed: str, purpose: str) -> int:
    """The advisory lock key of one sender of one helpline, for one purpose."""
    digest = hashlib.sha256(f"{purpose}:{helpline_id}:{hashed}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_sender(helpline_id: int, hashed: str, *, purpose: str = "inbound") -> None:
    """Serialises everything done for one sender of one helpline until the transaction ends: the
    threading of their messages into contacts and cases ("inbound"), or, separately, the webhooks'
    first-message-of-a-conversation check ("acknowledge"), which need not wait for threading."""
    lock_senders({(helpline_id, hashed)}, purpose=purpose)


def lock_senders(senders: set[tuple[int, str]], *, purpose: str = "inbound") -> None:
    """`lock_sender` for several senders at once, in one round trip and in one order (key order),
    so two transactions locking overlapping senders cannot deadlock."""
    keys = sorted(sender_lock_key(helpline_id, hashed, purpose) for helpline_id, hashed in senders)
    if not keys:
        return
    with connection.cursor() as cursor:
        # unnest yields the array in its order: the locks are taken in key order.
        cursor.execute("SELECT count(pg_advisory_xact_lock(key)) FROM unnest(%s::bigint[]) AS key", [keys])


def params_json(params: Mapping[str, list[str]]) -> str:
    """A webhook's POST parameters as stored on its event: a single value as itself, several as a list."""
    return json.dumps({name: values[0] if len(values) == 1 else values for name, values in params.items()})
