"""Storing what this node's spool kept while the database was away (channels_sms.spool), once it
is back: in arrival order, each entry through the same service its webhook calls (one transaction
with its audit entry; the provider's id makes a second store of the same request a no-op), and its
file removed only after that committed. Run by a thread of each web process and by the beat's task
(one drainer at a time per node: `spool.drain_lock`), at start-up and every SPOOL_DRAIN_SECONDS,
and by hand (`manage.py spool drain`)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connections

from helpline.crypto import DecryptionError
from helpline.errors import DATABASE_UNAVAILABLE, Conflict

from . import chat, outbound, selectors, senders, services, sms, spool, voice
from .models import NumberChannel
from .spool import Entry, SpoolKind

logger = logging.getLogger(__name__)

_RECEIVERS = {
    SpoolKind.VOICE_CALL: voice.inbound_call_receive,
    SpoolKind.VOICE_GATHER: voice.call_gather_receive,
    SpoolKind.VOICE_STATUS: voice.call_status_receive,
}
_PATHS = {
    SpoolKind.SMS: "/webhooks/twilio/sms/",
    SpoolKind.SMS_STATUS: "/webhooks/twilio/sms/status/",
    SpoolKind.VOICE_CALL: "/webhooks/twilio/voice/",
    SpoolKind.VOICE_GATHER: "/webhooks/twilio/voice/gather/",
    SpoolKind.VOICE_STATUS: "/webhooks/twilio/voice/status/",
    SpoolKind.CHAT: "/api/v1/chat/sessions/messages/",
}


@dataclass
class DrainResult:
    stored: int = 0
    already_stored: int = 0  # a retry of the provider's reached the database first
    # Refused (no number of ours, an ended chat, a wrong chat secret): recorded, and held aside.
    refused: int = 0
    held: list[str] = field(default_factory=list)
    # The database went away again mid-drain: the rest waits for the next round.
    interrupted: bool = False
    seconds: float = 0.0


def _chat_store(entry: Entry) -> bool | None:
    """A spooled chat message: stored if its secret was the session's and the session was open
    when it arrived; else refused (recorded like a refused webhook)."""
    first = {name: values[0] for name, values in entry.params.items()}
    session = selectors.chat_session_for_spooled(
        session_id=first["session"], secret_digest=first["secret_digest"]
    )
    if session is None:
        services.webhook_reject(path="/api/v1/chat/sessions/messages/", reason="unknown_chat_session")
        return None
    try:
        _message, created = chat.chat_message_receive(
            session=session, body=first["body"], spooled_at=entry.received_at, spool_id=first["id"]
        )
    except Conflict:
        services.webhook_reject(path="/api/v1/chat/sessions/messages/", reason="chat_ended")
        return None
    return created


def _store(entry: Entry) -> bool | None:
    """Stores one entry; True if this stored it, False if it was stored before, None if refused."""
    if entry.kind == SpoolKind.CHAT:
        return _chat_store(entry)
    if entry.kind in (SpoolKind.SMS, SpoolKind.SMS_STATUS):
        channels: tuple[str, ...] = (senders.channel_of(entry.to),)
    else:
        channels = (NumberChannel.VOICE,)
    number = selectors.phone_number_for(address=entry.to, channels=channels)
    if number is None:
        services.webhook_reject(path=_PATHS[entry.kind], reason="unknown_number")
        return None
    if entry.kind == SpoolKind.SMS:
        receipt = sms.inbound_message_receive(
            number=number, params=entry.params, spooled_at=entry.received_at, spooled_reply=entry.reply
        )
    elif entry.kind == SpoolKind.SMS_STATUS:
        receipt = outbound.status_callback_receive(
            number=number,
            params=entry.params,
            message_ref=entry.query.get("m", ""),
            spooled_at=entry.received_at,
        )
    else:
        receipt = _RECEIVERS[entry.kind](number=number, params=entry.params, spooled_at=entry.received_at)
    return receipt.created


def _being_written(path: Path) -> bool:
    """A file under its temporary name younger than SPOOL_TEMPORARY_GRACE_SECONDS may still be
    being written by a live process, whole already or not: left alone, for a later round. Taken
    from under its writer, the writer's rename would fail and its webhook answer 503 for a request
    stored. Older, its writer was killed (docs/spool.md): drained, or held aside if torn."""
    if not path.name.startswith(spool.TEMPORARY_PREFIX):
        return False
    try:
        return time.time() - path.stat().st_mtime < settings.SPOOL_TEMPORARY_GRACE_SECONDS
    except FileNotFoundError:
        return True  # renamed into place meanwhile: read under its name next round


def spool_drain(*, limit: int | None = None) -> DrainResult | None:
    """Stores the spooled requests of this node, oldest first. None: another process is draining."""
    started = time.monotonic()
    with spool.drain_lock() as mine:
        if not mine:
            return None
        result = DrainResult()
        for path in spool.entry_paths():
            if limit is not None and result.stored + result.already_stored + result.refused >= limit:
                break
            if _being_written(path):
                continue
            try:
                entry = spool.read(path)
            except FileNotFoundError:
                continue
            except (ValueError, KeyError, DecryptionError) as exc:
                result.held.append(spool.hold(path, type(exc).__name__).name)
                continue
            try:
                stored = _store(entry)
            except DATABASE_UNAVAILABLE:
                result.interrupted = True
                break
            except Exception as exc:  # a request no service can take: kept aside, the rest goes on
                result.held.append(spool.hold(path, type(exc).__name__).name)
                continue
            if stored is None:
                # Refused (a number no longer ours, a chat that had ended, a wrong chat secret):
                # recorded, and held aside, never deleted: an operator decides (docs/spool.md).
                result.refused += 1
                result.held.append(spool.hold(path, "refused").name)
                continue
            spool.remove(path)
            if stored:
                result.stored += 1
            else:
                result.already_stored += 1
        result.seconds = time.monotonic() - started
    if result.stored or result.already_stored or result.refused or result.held:
        logger.warning(
            "Spool drained: %d stored, %d stored before, %d refused, %d held aside in %.1fs%s",
            result.stored,
            result.already_stored,
            result.refused,
            len(result.held),
            result.seconds,
            "; the database went away again" if result.interrupted else "",
        )
    return result


# --- the drainer thread of a web process --------------------------------------------------------------

_drainer: threading.Thread | None = None


def drain_round() -> DrainResult | None:
    """One round of the drainer thread: a drain when the spool directory holds any entry file.
    Any, not only the entries counted as pending: a file torn by a writer killed mid-write is not
    counted (its header cannot be read), and it is the drain that holds it aside once the grace
    period passed; triggered by the count, it stayed there as long as nothing else was spooled."""
    if not spool.entry_paths():
        return None
    close_old_connections()
    return spool_drain()


def _drain_forever() -> None:
    try:
        # Our numbers in memory first: calls and messages can then be answered from it if the
        # database goes away before this process served them.
        selectors.phone_numbers_warm()
    except Exception:
        logger.warning("Could not read our numbers at start-up; they are read as webhooks arrive")
    finally:
        connections.close_all()
    while True:
        try:
            drain_round()
        except DATABASE_UNAVAILABLE:
            pass  # still away: the next round tries again
        except Exception:
            logger.exception("Spool drainer round failed")
        finally:
            connections.close_all()
        time.sleep(settings.SPOOL_DRAIN_SECONDS)


def drainer_start() -> None:
    """Starts this process's drainer thread (once): it drains at once, then every
    SPOOL_DRAIN_SECONDS while the spool holds anything (gunicorn's post_fork, config/gunicorn.py)."""
    global _drainer
    if _drainer is not None and _drainer.is_alive():
        return
    _drainer = threading.Thread(target=_drain_forever, name="spool-drainer", daemon=True)
    _drainer.start()
