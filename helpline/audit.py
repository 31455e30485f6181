"""The one way to write to the audit log. Call it inside the transaction of the change it records,
so a change and its entry commit or roll back together.

Entries are hash-chained per helpline: appending takes the chain head's row lock, so the chain is
a strict sequence even under concurrent requests (the lock is held until the transaction ends)."""

import hashlib
import ipaddress
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, models, transaction
from django.db.models.sql import InsertQuery
from django.utils import timezone
from django.utils.translation import gettext as _

from . import context
from .models import AuditChainHead, AuditEntry, AuditOutcome, Helpline, User
from .vocabulary import AuditAction, RouteRefusal

REDACTED = "[redacted]"
GENESIS = "0" * 64


def chain_head_advance_sql(*, condition: str = "") -> str:
    """The statement that advances a chain head by %s entries (params: count, chain; `condition`,
    SQL AND-ed to the WHERE, for a writer's own statement), row-locking it until the transaction
    ends; it returns the last sequence number taken, the hash before the first and the transaction
    id. A writer may run it inside its own statement (a CTE) and pass the row to audit_record as
    `position` (channels_sms: the webhook's one statement)."""
    where = f"chain = %s AND ({condition})" if condition else "chain = %s"
    return (
        f"UPDATE helpline_auditchainhead SET last_seq = last_seq + %s WHERE {where} "  # nosec B608  # condition: callers' SQL constant
        "RETURNING last_seq, last_hash, txid_current()"
    )


ADVANCE_CHAIN_HEAD = chain_head_advance_sql()


@dataclass(frozen=True)
class ChainPosition:
    """The row chain_head_advance_sql returned for one entry of `chain`, advanced by the caller's
    own statement."""

    chain: int
    seq: int
    prev_hash: str
    txid: int


# The entries audit_record holds back inside `deferred()`, in the order they were recorded.
_held: ContextVar[list[AuditEntry] | None] = ContextVar("audit_held_entries", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Within it, audit_record holds its entries back and appends them when the block ends, each
    chain's in one turn of its head (two statements, chains in order). For a writer that records
    many entries in one transaction (the inbound worker's batches): the chain head's lock, which
    every other writer of the helpline waits for, is then held from the end of the block to the
    commit, not for the whole batch. Use it inside the transaction it records; if the block raises,
    nothing is appended (the transaction rolls back anyway). Inside it, do not catch the failure of
    a savepoint that recorded entries: the held entries of a rolled-back savepoint would still be
    appended."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.deferred() must be used inside the transaction it records.")
    if _held.get() is not None:  # nested: the outer block appends
        yield
        return
    held: list[AuditEntry] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    _append_held(held)


def audit_record(
    *,
    actor: User | None,
    action: AuditAction | RouteRefusal,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    case_id: int | None = None,
    helpline: Helpline | int | None = None,
    changes: Mapping[str, Any] | None = None,
    outcome: str = AuditOutcome.ALLOWED,
    extra: Mapping[str, Any] | None = None,
    position: ChainPosition | None = None,
) -> AuditEntry:
    """Records one entry in the helpline's chain (chain 0 without a helpline), in the caller's
    transaction. `position`: the chain head the caller already advanced by one in this transaction
    (chain_head_advance_sql, in its own statement), saving the round trip. `action` must be an
    AuditAction member (or the error handler's RouteRefusal): a plain string, misspelt or not, is
    refused, so nothing writes an action outside the vocabulary."""
    if not isinstance(action, AuditAction | RouteRefusal):
        raise TypeError(f"audit_record: action must be an AuditAction member, not {action!r}.")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    if helpline is None and actor is not None:
        helpline = actor.helpline_id
    helpline_id = helpline.pk if isinstance(helpline, Helpline) else helpline
    ctx = context.current()
    if ctx.client_request_id:
        extra = {**(extra or {}), "client_request_id": ctx.client_request_id}
    entry = AuditEntry(
        chain=helpline_id or 0,
        at=timezone.now(),
        actor=actor,
        actor_username=actor.username if actor else "",
        actor_role=actor.role if actor else "system",
        helpline_id=helpline_id,
        action=action,
        object_type=object_type,
        object_id=_storable(str(object_id or "")),
        case_id=case_id,
        # Round-tripped through JSON now so the hash covers exactly what the database returns.
        changes=_storable(json.loads(json.dumps(dict(changes or {}), default=str))),
        outcome=outcome,
        request_id=ctx.request_id,
        # The form PostgreSQL's inet gives back, so the hash survives the round trip.
        client_ip=ipaddress.ip_address(ctx.client_ip).compressed if ctx.client_ip else None,
        user_agent=_storable(ctx.user_agent),
        extra=_storable(json.loads(json.dumps(dict(extra or {}), default=str))),
    )
    held = _held.get()
    if position is not None:
        if position.chain != entry.chain:
            raise ValueError(f"A position in chain {position.chain} for an entry of chain {entry.chain}.")
        with transaction.atomic(savepoint=False):
            _append([entry], position=position)
    elif held is not None:
        held.append(entry)  # appended, with its position and hash, when `deferred()` ends
    else:
        # No savepoint: an audit entry that cannot be written must undo the write it records, so
        # any failure here aborts the caller's whole transaction anyway (and savepoints cost two
        # round trips).
        with transaction.atomic(savepoint=False):
            _append([entry])
    if outcome == AuditOutcome.DENIED:
        context.note_refusal_recorded()
    return entry


def _storable(value: Any) -> Any:
    """The value with every NUL replaced by U+FFFD: PostgreSQL stores no NUL in text or jsonb, and a
    refused request naming one (in a path id, a query parameter) must still be recorded, not 500."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _append_held(entries: list[AuditEntry]) -> None:
    by_chain: dict[int, list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        by_chain[entry.chain].append(entry)
    # Chains in one order, so two writers appending to the same two chains cannot deadlock.
    for chain in sorted(by_chain):
        _append(by_chain[chain])


def _append(entries: list[AuditEntry], *, position: ChainPosition | None = None) -> None:
    """Appends entries of one chain, in order: positions, links and hashes, then one INSERT."""
    if position is not None:
        seq, prev_hash, txid = position.seq, position.prev_hash, position.txid
    else:
        seq, prev_hash, txid = _advance_chain_head(entries[0].chain, by=len(entries))
    seq -= len(entries)
    prev_hash = prev_hash or GENESIS
    for entry in entries:
        seq += 1
        entry.chain_seq, entry.prev_hash, entry.txid = seq, prev_hash, txid
        entry.hash = prev_hash = entry_hash(entry)
    _insert_and_advance_head_hash(entries)


def _advance_chain_head(chain: int, *, by: int = 1) -> tuple[int, str, int]:
    """Takes the next `by` sequence numbers of the chain, row-locking its head until the transaction
    ends (so entries of one chain are written one after another), in one round trip. Returns the
    last sequence number taken, the hash of the entry before the first one and the transaction id."""
    with connection.cursor() as cursor:
        cursor.execute(ADVANCE_CHAIN_HEAD, [by, chain])
        row = cursor.fetchone()
        if row is None:  # the chain's first entry
            cursor.execute(
                "INSERT INTO helpline_auditchainhead (chain, last_seq, last_hash) VALUES (%s, 0, '') "
                "ON CONFLICT (chain) DO NOTHING",
                [chain],
            )
            cursor.execute(ADVANCE_CHAIN_HEAD, [by, chain])
            row = cursor.fetchone()
    return row[0], row[1], row[2]


def _insert_and_advance_head_hash(entries: list[AuditEntry]) -> None:
    """Inserts the entries of one chain and stores the last one's hash in the chain head in one
    statement: the head's row lock is held from `_advance_chain_head` to the commit, so every round
    trip in between is time all other writers of the helpline wait (the bench's profiles show them
    queueing there). The INSERT is the one Django's `bulk_create()` would send, as a CTE."""
    fields = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(AuditEntry)
    query.insert_values(fields, entries)
    [(insert, params)] = query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH entry AS ({insert} RETURNING id, chain_seq) UPDATE helpline_auditchainhead "
            "SET last_hash = %s WHERE chain = %s "
            "RETURNING (SELECT array_agg(id ORDER BY chain_seq) FROM entry)",  # nosec B608  # Django-compiled INSERT
            [*params, entries[-1].hash, entries[0].chain],
        )
        ids = cursor.fetchone()[0]
    for entry, pk in zip(entries, ids, strict=True):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = connection.alias


def canonical(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: every recorded field, in a fixed JSON form."""
    at = entry.at.astimezone(UTC)
    document = {
        "chain": entry.chain,
        "seq": entry.chain_seq,
        "txid": entry.txid,
        "at": at.isoformat(timespec="microseconds"),
        "actor": entry.actor_id,
        "actor_username": entry.actor_username,
        "actor_role": entry.actor_role,
        "helpline": entry.helpline_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "case": entry.case_id,
        "changes": entry.changes,
        "outcome": entry.outcome,
        "request_id": entry.request_id,
        "client_ip": entry.client_ip,
        "user_agent": entry.user_agent,
        "extra": entry.extra,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.prev_hash.encode() + canonical(entry)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    chain: int
    entries: int
    first_broken: AuditEntry | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken is None and not self.problem


def verify_chain(chain: int, *, batch_size: int = 5000) -> ChainReport:
    """Re-computes one chain from its start; reports the first entry whose hash, link or position
    does not match."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for entry in _iterate(chain, batch_size):
        count += 1
        problem = ""
        if entry.chain_seq != expected_seq:
            problem = _("position %(seq)s, expected %(expected)s (an entry is missing or out of order)") % {
                "seq": entry.chain_seq,
                "expected": expected_seq,
            }
        elif entry.prev_hash != expected_prev:
            problem = _("link to the previous entry does not match")
        elif entry.hash != entry_hash(entry):
            problem = _("content does not match its hash (the entry was altered)")
        if problem:
            return ChainReport(chain, count, entry, problem)
        expected_prev, expected_seq = entry.hash, expected_seq + 1
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head is not None and head.last_seq != expected_seq - 1:
        problem = _("chain head says %(recorded)s entries, found %(count)s") % {
            "recorded": head.last_seq,
            "count": count,
        }
        return ChainReport(chain, count, None, problem)
    return ChainReport(chain, count, None)


def _iterate(chain: int, batch_size: int) -> Iterator[AuditEntry]:
    last = 0
    while True:
        batch = list(
            AuditEntry.objects.filter(chain=chain, chain_seq__gt=last).order_by("chain_seq")[:batch_size]
        )
        yield from batch
        if len(batch) < batch_size:
            return
        last = batch[-1].chain_seq


def chains(helpline: Helpline | None = None) -> list[int]:
    if helpline is not None:
        return [helpline.pk]
    return sorted(set(AuditChainHead.objects.values_list("chain", flat=True)))


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], *, personal: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Changed fields as {field: {"before": ..., "after": ...}}; personal data is never copied into
    the log, only the fact that it changed."""
    personal = set(personal)
    changed = {}
    for field, new in after.items():
        old = before.get(field)
        if old != new:
            if field in personal:
                changed[field] = {"before": REDACTED, "after": REDACTED}
            else:
                changed[field] = {"before": _jsonable(old), "after": _jsonable(new)}
    return changed


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, models.Model):
        return value.pk
    return str(value)


def audited_update(
    *,
    actor: User | None,
    instance: models.Model,
    fields: Mapping[str, Any],
    tracked: Iterable[str],
    action: AuditAction,
    helpline: Helpline | int | None = None,
    personal: Iterable[str] = (),
) -> models.Model:
    """The plain "change some fields" write: lock the row, apply, validate, save and record the
    before/after of the tracked fields, in one transaction. Returns the saved row. A field written
    is recorded even if `tracked` forgot it: an edit never leaves `changes` empty."""
    tracked = tuple(dict.fromkeys((*tracked, *fields)))

    def snapshot(row: models.Model) -> dict[str, Any]:
        return {name: getattr(row, row._meta.get_field(name).attname) for name in tracked}

    with transaction.atomic():
        locked = type(instance).objects.select_for_update().get(pk=instance.pk)
        before = snapshot(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean()
        locked.save()
        audit_record(
            actor=actor,
            action=action,
            obj=locked,
            helpline=helpline,
            changes=diff(before, snapshot(locked), personal=personal),
        )
    return locked
