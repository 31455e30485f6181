"""The ceiling: the writes of one SMS ingest as raw SQL, with nothing of Django, HTTP, Redis or
Celery in the way. Each ingest is one transaction of psycopg2 prepared statements (PREPARE once per
connection, EXECUTE after), from `concurrency` threads with a connection each:

  advisory lock on the sender (as both the webhook and the worker take it);
  INSERT the inbound event, and its audit entry;
  look up the sender's open case; when there is none INSERT a case and its first contact, each
  with its audit entry; else find the contact of the sender's last message;
  INSERT the message, UPDATE the event as processed, and the message's audit entry.

Every audit entry is appended as helpline.audit does it: advance the chain head (its row lock held
to the end of the transaction) returning the position, previous hash and txid; insert the entry
hashed over the previous one; store its hash in the head. The case and contact row-history
triggers fire as they do for the application. What the application does on top (the idle-gap check
for the acknowledgement, `full_clean`, JSON of the changes) is not here."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bench.load import SENDERS, Result
from helpline.vocabulary import AuditAction
from tests.processes import db_connect

STATEMENTS = {
    "lock": ("bigint", "SELECT pg_advisory_xact_lock($1)"),
    "event": (
        "bigint, text, text, text, text",
        "INSERT INTO channels_sms_inboundevent (helpline_id, channel, kind, provider, external_id, "
        "sender, sender_hash, body, num_media, media, params, reply, received_at, dispatched_at, "
        "attempts, language) VALUES ($1, 'sms', 'message', 'twilio', $2, $3, $4, $5, 0, '', '{}', '', "
        "now(), now(), 0, 'en') RETURNING id",
    ),
    "head_upsert": (
        "bigint",
        "INSERT INTO helpline_auditchainhead (chain, last_seq, last_hash) VALUES ($1, 0, '') "
        "ON CONFLICT (chain) DO NOTHING",
    ),
    "head_advance": (
        "bigint",
        "UPDATE helpline_auditchainhead SET last_seq = last_seq + 1 WHERE chain = $1 "
        "RETURNING last_seq, last_hash, txid_current()",
    ),
    "audit": (
        "bigint, bigint, text, text, timestamptz, text, text, text, bigint, jsonb, jsonb, bigint",
        "INSERT INTO helpline_auditentry (chain, chain_seq, prev_hash, hash, at, actor_username, "
        "actor_role, action, object_type, object_id, case_id, changes, outcome, request_id, "
        "client_ip, user_agent, extra, actor_id, helpline_id, txid) VALUES ($1, $2, $3, $4, $5, '', "
        "'system', $6, $7, $8, $9, $10, 'allowed', '', NULL, '', $11, NULL, $1, $12)",
    ),
    "head_hash": (
        "bigint, text",
        "UPDATE helpline_auditchainhead SET last_hash = $2 WHERE chain = $1",
    ),
    "open_case": (
        "bigint, text",
        "SELECT id FROM cases_case WHERE helpline_id = $1 AND reporter_phone_hash = $2 "
        "AND state <> 'closed' ORDER BY created_at DESC, id DESC LIMIT 1",
    ),
    "last_contact": (
        "bigint, text",
        "SELECT contact_id FROM channels_sms_message WHERE case_id = $1 AND channel = 'sms' "
        "AND sender_hash = $2 ORDER BY at DESC, id DESC LIMIT 1",
    ),
    "case": (
        "bigint, text, text, text",
        "INSERT INTO cases_case (helpline_id, reference, state, risk_level, categories, "
        "child_age_range, child_gender, child_location, child_language, child_details_note, "
        "vulnerability_flags, reporter_relation, state_changed_at, next_action_due_at, restricted, "
        "closure_reason, created_at, updated_at, reporter_phone, reporter_phone_hash, child_area, "
        "child_first_name, reporter_name, safe_contact) VALUES ($1, $2, 'intake', 'unassessed', '{}', "
        "'', '', '', '', '', '{}', '', now(), now() + interval '15 minutes', false, '', now(), now(), "
        "$3, $4, '', '', '', '') RETURNING id",
    ),
    "contact": (
        "bigint, bigint",
        "INSERT INTO cases_contact (helpline_id, case_id, channel, direction, call_type, summary, "
        "started_at, created_at, language) VALUES ($1, $2, 'sms', 'inbound', '', '', now(), now(), 'en') "
        "RETURNING id",
    ),
    "message": (
        "bigint, bigint, bigint, text, text, text, bigint",
        "INSERT INTO channels_sms_message (helpline_id, case_id, contact_id, channel, direction, "
        "sender_hash, body, media, external_id, at, created_at, event_id, attempts, error_code, "
        "from_address, status, to_address) VALUES ($1, $2, $3, 'sms', 'inbound', $4, $5, '', $6, "
        "now(), now(), $7, 0, '', '', '', '') RETURNING id",
    ),
    "processed": (
        "bigint, bigint",
        "UPDATE channels_sms_inboundevent SET processed_at = now(), contact_id = $2, "
        "attempts = attempts + 1 WHERE id = $1",
    ),
}


def _prepare(cursor: Any) -> None:
    for name, (types, sql) in STATEMENTS.items():
        cursor.execute(f"PREPARE bench_{name} ({types}) AS {sql}")


def _audit(
    cursor: Any,
    helpline_id: int,
    action: AuditAction,
    object_type: str,
    object_id: int,
    case_id: int | None,
    changes: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    cursor.execute("EXECUTE bench_head_advance (%s)", [helpline_id])
    row = cursor.fetchone()
    if row is None:  # the chain's first entry
        cursor.execute("EXECUTE bench_head_upsert (%s)", [helpline_id])
        cursor.execute("EXECUTE bench_head_advance (%s)", [helpline_id])
        row = cursor.fetchone()
    seq, last_hash, txid = row
    at = datetime.now(UTC)
    prev = last_hash or "0" * 64
    # helpline.audit.canonical's document for a system entry, so verify_audit checks this chain too.
    document = {
        "chain": helpline_id,
        "seq": seq,
        "txid": txid,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": None,
        "actor_username": "",
        "actor_role": "system",
        "helpline": helpline_id,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "case": case_id,
        "changes": changes,
        "outcome": "allowed",
        "request_id": "",
        "client_ip": None,
        "user_agent": "",
        "extra": extra,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.sha256(prev.encode() + canonical).hexdigest()
    cursor.execute(
        "EXECUTE bench_audit (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            helpline_id,
            seq,
            prev,
            digest,
            at,
            action,
            object_type,
            str(object_id),
            case_id,
            json.dumps(changes),
            json.dumps(extra),
            txid,
        ],
    )
    cursor.execute("EXECUTE bench_head_hash (%s, %s)", [helpline_id, digest])


def ingest_once(cursor: Any, helpline_id: int, prefix: str, n: int) -> None:
    """One SMS ingest: the webhook's writes and the worker's, in one transaction (the caller's
    connection is not in autocommit; this commits)."""
    sender = f"+2547{n % SENDERS:08d}"
    # The run's prefix in the hash: a run on a database used before finds no open case of an earlier one.
    hashed = hashlib.sha256(f"bench:{prefix}:{sender}".encode()).hexdigest()
    external_id = f"SM{prefix}{n:0{32 - len(prefix)}d}"
    key = int.from_bytes(
        hashlib.sha256(f"inbound:{helpline_id}:{hashed}".encode()).digest()[:8], "big", signed=True
    )
    cursor.execute("EXECUTE bench_lock (%s)", [key])
    cursor.execute(
        "EXECUTE bench_event (%s, %s, %s, %s, %s)", [helpline_id, external_id, sender, hashed, f"message {n}"]
    )
    event_id = cursor.fetchone()[0]
    _audit(
        cursor,
        helpline_id,
        AuditAction.INBOUND_RECEIVE,
        "channels_sms.inboundevent",
        event_id,
        None,
        {},
        {"channel": "sms"},
    )
    cursor.execute("EXECUTE bench_open_case (%s, %s)", [helpline_id, hashed])
    row = cursor.fetchone()
    contact_id = None
    if row is not None:
        case_id = row[0]
        cursor.execute("EXECUTE bench_last_contact (%s, %s)", [case_id, hashed])
        found = cursor.fetchone()
        contact_id = found[0] if found else None
    else:
        cursor.execute("EXECUTE bench_case (%s, %s, %s, %s)", [helpline_id, f"{prefix}-{n}", sender, hashed])
        case_id = cursor.fetchone()[0]
        _audit(
            cursor,
            helpline_id,
            AuditAction.CASE_CREATE,
            "cases.case",
            case_id,
            case_id,
            {"state": "intake"},
            {"channel": "sms"},
        )
    if contact_id is None:
        cursor.execute("EXECUTE bench_contact (%s, %s)", [helpline_id, case_id])
        contact_id = cursor.fetchone()[0]
        _audit(
            cursor,
            helpline_id,
            AuditAction.CONTACT_CREATE,
            "cases.contact",
            contact_id,
            case_id,
            {"channel": "sms"},
            {},
        )
    cursor.execute(
        "EXECUTE bench_message (%s, %s, %s, %s, %s, %s, %s)",
        [helpline_id, case_id, contact_id, hashed, f"message {n}", external_id, event_id],
    )
    message_id = cursor.fetchone()[0]
    cursor.execute("EXECUTE bench_processed (%s, %s)", [event_id, contact_id])
    _audit(
        cursor,
        helpline_id,
        AuditAction.MESSAGE_RECEIVE,
        "channels_sms.message",
        message_id,
        case_id,
        {},
        {"event_id": event_id, "contact_id": contact_id},
    )
    cursor.connection.commit()


def measure(
    settings_dict: Mapping[str, Any], helpline_id: int, *, concurrency: int, seconds: float, prefix: str = "C"
) -> Result:
    """Transactions per second of `ingest_once` from `concurrency` threads for `seconds`."""
    lock = threading.Lock()
    counter = iter(range(10**9))
    result = Result("ceiling")
    connections = [db_connect(settings_dict, autocommit=False) for _ in range(concurrency)]
    for conn in connections:
        with conn.cursor() as cursor:
            _prepare(cursor)
        conn.commit()
    start = time.monotonic()
    deadline = start + seconds

    def work(conn: Any) -> None:
        latencies: list[float] = []
        errors, sample = 0, ""
        with conn.cursor() as cursor:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter)
                began = time.monotonic()
                try:
                    ingest_once(cursor, helpline_id, prefix, n)
                    latencies.append(time.monotonic() - began)
                except Exception as exc:  # counted and shown, so a broken statement is not a slow one
                    conn.rollback()
                    errors += 1
                    sample = sample or f"{type(exc).__name__}: {exc}"
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors
            result.error_sample = result.error_sample or sample

    threads = [threading.Thread(target=work, args=(conn,), daemon=True) for conn in connections]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        result.seconds = time.monotonic() - start
    finally:
        for conn in connections:
            conn.close()
    return result
