"""The durable local spool: inbound webhooks the database could not take, kept on this node's disk
until it can (docs/spool.md has the format and how to inspect or drain it by hand).

One file per request, named so that sorting the names gives the arrival order and so that the
spool can be counted from the names alone
(`<received_at ns>-<kind>-<sender's keyed hash, 16>-<node>-<pid>-<seq>.spool`). Its first line is a
header in clear (format version, kind, received time, the sender's keyed hash and our number, no
personal data); the rest is a Fernet token (FIELD_ENCRYPTION_KEYS, as the encrypted columns
the request will become) of the signed parameters. A file is written under a temporary name,
fsync'ed, renamed into place and the directory fsync'ed before the webhook is answered: after a
SIGKILL or a power cut a request we answered is on disk, whole. The drain (`spool_drain`) stores
each entry the way the webhook would have, exactly once (the provider's id stays the idempotency
key), and only then removes its file.

This module knows files, not the database: nothing here imports a model.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import itertools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings

from helpline import crypto

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUFFIX = ".spool"
TEMPORARY_PREFIX = ".incoming-"
HELD = "held"  # entries the drain could not store (an operator looks at them: docs/spool.md)
LOCK_NAME = ".drain.lock"


class SpoolKind(StrEnum):
    """What a spooled request was: which webhook stores it when the database is back."""

    SMS = "sms"  # an inbound SMS/WhatsApp message
    SMS_STATUS = "sms_status"  # the delivery status of an outbound message
    VOICE_CALL = "voice_call"
    VOICE_GATHER = "voice_gather"
    VOICE_STATUS = "voice_status"
    CHAT = "chat"  # a child's web-chat message


class SpoolFull(Exception):
    """The spool refuses: a limit from the settings is reached (or the disk refused the write)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    path: Path
    kind: SpoolKind
    received_at: datetime
    sender_hash: str
    to: str
    params: dict[str, list[str]]
    # What the webhook answered (an SMS acknowledgement), or "".
    reply: str
    query: dict[str, str]


@dataclass
class Figures:
    """The spool as last counted (at most SPOOL_COUNT_SECONDS old, plus this process's appends)."""

    pending: int = 0
    size: int = 0
    oldest: datetime | None = None
    # Web-chat messages have a budget of their own within the limits (SPOOL_CHAT_SHARE): anyone can
    # post to a chat, so chat alone must not fill the spool that children's SMS need.
    chat_pending: int = 0
    chat_size: int = 0
    counted_at: float = 0.0
    # sender hash -> the latest received time of a spooled message of theirs (the reply decision).
    senders: dict[str, datetime] = field(default_factory=dict)


_figures = Figures()
_figures_lock = threading.Lock()
_sequence = itertools.count()


# This node in file names: containers sharing a volume can have the same process ids.
_NODE = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def directory() -> Path:
    path = Path(settings.SPOOL_DIR)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def keyed(value: str) -> str:
    """A keyed hash (HMAC-SHA256 under IDENTIFIER_HASH_KEY) of a value that must not be on disk in
    clear, such as a chat session's id."""
    return hmac.new(settings.IDENTIFIER_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def _name(received_at: datetime, kind: SpoolKind, sender_hash: str) -> str:
    ns = int(received_at.timestamp() * 1_000_000) * 1000
    sender = sender_hash[:16] or "0"
    return f"{ns:020d}-{kind}-{sender}-{_NODE}-{os.getpid()}-{next(_sequence):09d}{SUFFIX}"


@dataclass(frozen=True)
class _Named:
    """What a spool file's name says: when, what, from whom (the first 16 of the keyed hash)."""

    received_at: datetime
    kind: str
    sender: str


def _parse(name: str) -> _Named | None:
    parts = name.removeprefix(TEMPORARY_PREFIX).removesuffix(SUFFIX).split("-")
    if len(parts) != 6 or not parts[0].isdigit():
        return None
    received_at = datetime.fromtimestamp(int(parts[0]) / 1e9, tz=UTC)
    return _Named(received_at, parts[1], "" if parts[2] == "0" else parts[2])


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append(
    kind: SpoolKind,
    *,
    received_at: datetime,
    sender_hash: str,
    to: str,
    params: dict[str, list[str]],
    reply: str = "",
    query: dict[str, str] | None = None,
) -> Path:
    """Writes one request durably (on disk and fsync'ed when this returns). Raises SpoolFull when
    a limit is reached or the disk refuses: the webhook then answers 503, never a silent drop."""
    try:
        figures = counted()
    except OSError as exc:
        logger.error("Spool: the directory cannot be read (%s); answered 503", type(exc).__name__)
        raise SpoolFull("disk") from exc
    refused = refusal(figures, kind=kind)
    if refused:
        raise SpoolFull(refused)
    header = {
        "v": FORMAT_VERSION,
        "kind": str(kind),
        "received_at": received_at.isoformat(),
        "sender": sender_hash,
        "to": to,
    }
    body = crypto.encrypt(json.dumps({"params": params, "reply": reply, "query": query or {}}))
    data = (json.dumps(header, sort_keys=True) + "\n" + body + "\n").encode()
    name = _name(received_at, kind, sender_hash)
    try:
        folder = directory()
        temporary = folder / (TEMPORARY_PREFIX + name)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:  # a nearly full disk can take part of a write without an error
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError("the disk took nothing")
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        final = folder / name
        os.rename(temporary, final)
        _fsync_directory(folder)
    except OSError as exc:
        logger.error("Spool: the disk refused an entry (%s); answered 503", type(exc).__name__)
        (Path(settings.SPOOL_DIR) / (TEMPORARY_PREFIX + name)).unlink(missing_ok=True)
        raise SpoolFull("disk") from exc
    with _figures_lock:
        _figures.pending += 1
        _figures.size += len(data)
        if kind == SpoolKind.CHAT:
            _figures.chat_pending += 1
            _figures.chat_size += len(data)
        _figures.oldest = min(_figures.oldest or received_at, received_at)
        if sender_hash:
            key = sender_hash[:16]
            _figures.senders[key] = max(_figures.senders.get(key, received_at), received_at)
    return final


def header_of(path: Path) -> dict[str, Any]:
    with open(path, "rb") as spooled:
        return json.loads(spooled.readline())


def _entry_names(folder: Path) -> list[str]:
    with os.scandir(folder) as found:
        return [
            entry.name
            for entry in found
            if entry.name.endswith(SUFFIX)
            and (not entry.name.startswith(".") or entry.name.startswith(TEMPORARY_PREFIX))
        ]


def entry_paths() -> list[Path]:
    """The spooled requests in arrival order, including whole files a killed process left under
    their temporary name (it may have been killed after writing, before answering: the drain takes
    them too, the provider's id keeps a retried one from counting twice)."""
    folder = directory()
    names = _entry_names(folder)
    return [folder / name for name in sorted(names, key=lambda n: n.removeprefix(TEMPORARY_PREFIX))]


def pending() -> bool:
    """Whether this node's spool holds anything not yet stored (then new requests queue behind it):
    asked by every webhook, so it reads the directory until the first entry and no further. A
    directory that cannot be read counts as empty (logged): the database is tried as usual."""
    try:
        with os.scandir(directory()) as found:
            return any(
                entry.name.endswith(SUFFIX)
                and (not entry.name.startswith(".") or entry.name.startswith(TEMPORARY_PREFIX))
                for entry in found
            )
    except OSError as exc:
        logger.error("Spool: the directory cannot be read (%s)", type(exc).__name__)
        return False


def counted(*, fresh: bool = False) -> Figures:
    """The spool's figures from the file names and sizes (no file is opened), counted again at
    most every SPOOL_COUNT_SECONDS per process after the last count ended; this process's appends
    are added as they happen. Raises OSError if the directory cannot be read."""
    with _figures_lock:
        if not fresh and time.monotonic() - _figures.counted_at < settings.SPOOL_COUNT_SECONDS:
            return _figures
    figures = Figures()
    folder = directory()
    for name in _entry_names(folder):
        named = _parse(name)
        if named is None:
            continue  # not ours: the drain holds it aside
        try:
            size = (folder / name).stat().st_size
        except FileNotFoundError:
            continue  # drained meanwhile
        figures.pending += 1
        figures.size += size
        if named.kind == SpoolKind.CHAT:
            figures.chat_pending += 1
            figures.chat_size += size
        figures.oldest = min(figures.oldest or named.received_at, named.received_at)
        if named.sender:
            previous = figures.senders.get(named.sender, named.received_at)
            figures.senders[named.sender] = max(previous, named.received_at)
    figures.counted_at = time.monotonic()
    with _figures_lock:
        _figures.__dict__.update(figures.__dict__)
        return _figures


def refusal(figures: Figures, *, kind: SpoolKind | None = None) -> str:
    """Which limit the spool is at ("messages", "bytes" or "age"; "chat" for a chat message past
    chat's share), or "" while it takes more."""
    if figures.pending >= settings.SPOOL_MAX_MESSAGES:
        return "messages"
    if figures.size >= settings.SPOOL_MAX_BYTES:
        return "bytes"
    if oldest_seconds(figures) > settings.SPOOL_MAX_AGE_HOURS * 3600:
        return "age"
    if kind == SpoolKind.CHAT and (
        figures.chat_pending >= settings.SPOOL_MAX_MESSAGES * settings.SPOOL_CHAT_SHARE
        or figures.chat_size >= settings.SPOOL_MAX_BYTES * settings.SPOOL_CHAT_SHARE
    ):
        return "chat"
    return ""


def oldest_seconds(figures: Figures) -> float:
    """How long the oldest spooled request has waited (0 with none)."""
    if figures.oldest is None:
        return 0.0
    return max(0.0, (datetime.now(UTC) - figures.oldest).total_seconds())


def last_spooled_from(sender_hash: str) -> datetime | None:
    return counted().senders.get(sender_hash[:16])


def read(path: Path) -> Entry:
    """One spooled request, decrypted. Raises ValueError for a file that is not a whole entry."""
    with open(path, "rb") as spooled:
        lines = spooled.read().decode().split("\n")
    if len(lines) < 2 or not lines[1]:
        raise ValueError("not a whole entry")
    header = json.loads(lines[0])
    if header.get("v") != FORMAT_VERSION:
        raise ValueError(f"format version {header.get('v')!r}")
    body = json.loads(crypto.decrypt(lines[1], what="spooled request"))
    return Entry(
        path=path,
        kind=SpoolKind(header["kind"]),
        received_at=datetime.fromisoformat(header["received_at"]),
        sender_hash=header.get("sender", ""),
        to=header.get("to", ""),
        params={name: list(values) for name, values in body["params"].items()},
        reply=body.get("reply", ""),
        query=dict(body.get("query") or {}),
    )


def remove(path: Path) -> None:
    """An entry stored in the database (its transaction committed) leaves the spool."""
    path.unlink(missing_ok=True)
    _forget(path)


def hold(path: Path, reason: str) -> Path:
    """Moves an entry the drain cannot store aside (`held/`), for an operator: never deleted."""
    held = directory() / HELD
    held.mkdir(mode=0o700, exist_ok=True)
    target = held / path.name.removeprefix(TEMPORARY_PREFIX)
    os.rename(path, target)
    _fsync_directory(held)
    logger.error("Spool: entry %s held aside (%s): docs/spool.md says what to do", target.name, reason)
    _forget(path)
    return target


def _forget(path: Path) -> None:
    # The next count (at most SPOOL_COUNT_SECONDS away) has the exact figures; until then, one less.
    with _figures_lock:
        _figures.pending = max(0, _figures.pending - 1)


def held_paths() -> list[Path]:
    held = directory() / HELD
    return sorted(held.glob(f"*{SUFFIX}")) if held.is_dir() else []


@contextmanager
def drain_lock() -> Iterator[bool]:
    """One drainer per node at a time (several web processes and a worker share the directory):
    yields whether this process holds the lock."""
    fd = os.open(directory() / LOCK_NAME, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
