"""The durable local spool: inbound webhooks the database could not take, kept on this node's disk
until it can (docs/spool.md has the format and how to inspect or drain it by hand).

One file per request, named so that sorting the names gives the arrival order
(`<received_at ns>-<pid>-<seq>.spool`). Its first line is a header in clear (format version, kind,
received time, the sender's keyed hash and our number: what ordering, limits and the reply decision
need, no personal data); the rest is a Fernet token (FIELD_ENCRYPTION_KEYS, as the encrypted columns
the request will become) of the signed parameters. A file is written under a temporary name,
fsync'ed, renamed into place and the directory fsync'ed before the webhook is answered: after a
SIGKILL or a power cut a request we answered is on disk, whole. The drain (`spool_drain`) stores
each entry the way the webhook would have, exactly once (the provider's id stays the idempotency
key), and only then removes its file.

This module knows files, not the database: nothing here imports a model.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
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
    counted_at: float = 0.0
    # sender hash -> the latest received time of a spooled message of theirs (the reply decision).
    senders: dict[str, datetime] = field(default_factory=dict)


_figures = Figures()
_figures_lock = threading.Lock()
_sequence = itertools.count()


def directory() -> Path:
    path = Path(settings.SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _name(received_at: datetime) -> str:
    ns = int(received_at.timestamp() * 1_000_000) * 1000
    return f"{ns:020d}-{os.getpid()}-{next(_sequence):09d}{SUFFIX}"


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
    refused = refusal(counted())
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
    folder = directory()
    name = _name(received_at)
    temporary = folder / (TEMPORARY_PREFIX + name)
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        final = folder / name
        os.rename(temporary, final)
        _fsync_directory(folder)
    except OSError as exc:
        logger.error("Spool: the disk refused an entry (%s); answered 503", type(exc).__name__)
        temporary.unlink(missing_ok=True)
        raise SpoolFull("disk") from exc
    with _figures_lock:
        _figures.pending += 1
        _figures.size += len(data)
        _figures.oldest = min(_figures.oldest or received_at, received_at)
        if sender_hash:
            _figures.senders[sender_hash] = max(_figures.senders.get(sender_hash, received_at), received_at)
    return final


def header_of(path: Path) -> dict[str, Any]:
    with open(path, "rb") as spooled:
        return json.loads(spooled.readline())


def entry_paths() -> list[Path]:
    """The spooled requests in arrival order, including whole files a killed process left under
    their temporary name (it may have been killed after writing, before answering: the drain takes
    them too, the provider's id keeps a retried one from counting twice)."""
    folder = directory()
    names = [
        name
        for name in os.listdir(folder)
        if name.endswith(SUFFIX) and (not name.startswith(".") or name.startswith(TEMPORARY_PREFIX))
    ]
    return [folder / name for name in sorted(names, key=lambda n: n.removeprefix(TEMPORARY_PREFIX))]


def counted(*, fresh: bool = False) -> Figures:
    """The spool's figures, counted again at most every SPOOL_COUNT_SECONDS per process (each
    webhook asks while spooling; reading every header each time would not scale)."""
    with _figures_lock:
        if not fresh and time.monotonic() - _figures.counted_at < settings.SPOOL_COUNT_SECONDS:
            return _figures
    figures = Figures(counted_at=time.monotonic())
    for path in entry_paths():
        try:
            size = path.stat().st_size
            header = header_of(path)
            received_at = datetime.fromisoformat(header["received_at"])
        except (OSError, ValueError, KeyError):
            continue  # drained meanwhile, or torn: the drain holds it aside
        figures.pending += 1
        figures.size += size
        figures.oldest = min(figures.oldest or received_at, received_at)
        if header.get("sender"):
            sender = header["sender"]
            figures.senders[sender] = max(figures.senders.get(sender, received_at), received_at)
    with _figures_lock:
        _figures.__dict__.update(figures.__dict__)
        return _figures


def refusal(figures: Figures) -> str:
    """Which limit the spool is at ("messages", "bytes" or "age"), or "" while it takes more."""
    if figures.pending >= settings.SPOOL_MAX_MESSAGES:
        return "messages"
    if figures.size >= settings.SPOOL_MAX_BYTES:
        return "bytes"
    if oldest_seconds(figures) > settings.SPOOL_MAX_AGE_HOURS * 3600:
        return "age"
    return ""


def oldest_seconds(figures: Figures) -> float:
    """How long the oldest spooled request has waited (0 with none)."""
    if figures.oldest is None:
        return 0.0
    return max(0.0, (datetime.now(UTC) - figures.oldest).total_seconds())


def pending() -> bool:
    """Whether this node's spool holds requests not yet stored (then new ones queue behind them)."""
    return counted().pending > 0


def last_spooled_from(sender_hash: str) -> datetime | None:
    return counted().senders.get(sender_hash)


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
    held.mkdir(exist_ok=True)
    target = held / path.name.removeprefix(TEMPORARY_PREFIX)
    os.rename(path, target)
    _fsync_directory(held)
    logger.error("Spool: entry %s held aside (%s): docs/spool.md says what to do", target.name, reason)
    _forget(path)
    return target


def _forget(path: Path) -> None:
    with _figures_lock:
        _figures.pending = max(0, _figures.pending - 1)
        _figures.counted_at = 0.0  # count again at the next question


def held_paths() -> list[Path]:
    held = directory() / HELD
    return sorted(held.glob(f"*{SUFFIX}")) if held.is_dir() else []


@contextmanager
def drain_lock() -> Iterator[bool]:
    """One drainer per node at a time (several web processes and a worker share the directory):
    yields whether this process holds the lock."""
    with open(directory() / LOCK_NAME, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
