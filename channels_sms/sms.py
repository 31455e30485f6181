"""SMS and WhatsApp inbound: the webhook stores the raw message (or an outbound message's status
callback) and answers; a task then threads it into a contact and a case, in batches under a burst.
Each write is one transaction with its audit entry, and no body, number or sender name ever goes
into a log line or an audit entry (ids only)."""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField
from django.db.models.constants import OnConflict
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery
from django.utils import timezone

from cases.models import Case, Contact
from cases.services import case_create_from_inbound, contact_create_inbound
from cases.workflow import CaseState
from helpline import audit, broker
from helpline.audit import ChainPosition, audit_record
from helpline.vocabulary import AuditAction

from . import contacters, texts
from .models import (
    ContacterFlagKind,
    Direction,
    EventKind,
    InboundEvent,
    Message,
    PhoneNumber,
)
from .senders import lock_senders, params_json, sender_hash, sender_lock_key, sender_phone
from .services import Receipt
from .stored_late import stored_late_escalate

logger = logging.getLogger(__name__)

MAX_MEDIA = 10  # Twilio sends at most 10 media items per message


def _idle_gap() -> timedelta:
    return timedelta(minutes=settings.CONVERSATION_IDLE_MINUTES)


def _media(params: Mapping[str, list[str]]) -> tuple[int, list[dict[str, str]]]:
    def first(name: str) -> str:
        return (params.get(name) or [""])[0]

    try:
        count = max(0, min(int(first("NumMedia") or 0), MAX_MEDIA))
    except ValueError:
        count = 0
    media = [
        {"url": first(f"MediaUrl{i}"), "content_type": first(f"MediaContentType{i}")}
        for i in range(count)
        if first(f"MediaUrl{i}")
    ]
    return len(media), media


def inbound_message_receive(
    *,
    number: PhoneNumber,
    params: Mapping[str, list[str]],
    spooled_at: datetime | None = None,
    spooled_reply: str = "",
) -> Receipt:
    """Stores an inbound SMS/WhatsApp message webhook (signature already checked) and decides the
    answer: an acknowledgement on the sender's first message of a conversation, else nothing.
    A retry of a stored MessageSid returns the stored event unchanged. Processing is dispatched
    once the transaction commits. A request the spool kept while the database was away
    (`spooled_at`: when it arrived) keeps its arrival time and the reply it was answered with."""
    external_id = params["MessageSid"][0]
    address = (params.get("From") or [""])[0]
    hashed = sender_hash(address) if address else ""
    num_media, media = _media(params)
    now = timezone.now()
    if spooled_at is not None:
        reply: str | RawSQL = spooled_reply
    else:
        reply = _acknowledgement_if_new_conversation(number, hashed, now) if hashed else ""
    with transaction.atomic():
        event = InboundEvent(
            helpline_id=number.helpline_id,
            channel=number.channel,
            kind=EventKind.MESSAGE,
            provider="twilio",
            external_id=external_id,
            sender=address,
            sender_hash=hashed,
            body=(params.get("Body") or [""])[0],
            num_media=num_media,
            media=json.dumps(media) if media else "",
            params=params_json(params),
            reply=reply,
            language=texts.number_language(number),
            received_at=spooled_at or now,
            dispatched_at=now,
            spooled=spooled_at is not None,
        )
        inserted, position = _event_insert(event, lock_sender=bool(hashed))
        if not inserted:
            # A retry (Twilio's, or a replay) of a stored MessageSid: found by its unique key when
            # inserting, not by a look-up before every webhook; nothing written.
            stored = InboundEvent.objects.get(
                provider="twilio", kind=EventKind.MESSAGE, external_id=external_id
            )
            return Receipt(stored, created=False)
        audit_record(
            actor=None,
            action=AuditAction.INBOUND_RECEIVE,
            obj=event,
            helpline=number.helpline_id,
            extra={
                "channel": event.channel,
                "external_id": external_id,
                "num_media": num_media,
                **({"spooled": True} if spooled_at is not None else {}),
            },
            position=position,
        )
        transaction.on_commit(lambda: dispatch(event.pk), robust=True)
    return Receipt(event, created=True)


def _acknowledgement_if_new_conversation(number: PhoneNumber, hashed: str, now: datetime) -> RawSQL:
    """The reply, as the INSERT's own expression: the acknowledgement when this message opens a
    conversation (nothing from the sender on this number's channel within the idle gap), else "".
    Written as SQL: compiling the same as ORM expressions cost a webhook more than the round trip
    it saves (bench profile)."""
    table = InboundEvent._meta.db_table
    return RawSQL(  # nosec B611  # table name from the model; every value a parameter
        f"CASE WHEN EXISTS (SELECT 1 FROM {table} WHERE helpline_id = %s AND sender_hash = %s "  # nosec B608  # table from the model
        "AND received_at >= %s AND kind = %s AND channel = %s) THEN '' ELSE %s END",
        [
            number.helpline_id,
            hashed,
            now - _idle_gap(),
            EventKind.MESSAGE,
            number.channel,
            texts.acknowledgement(number),
        ],
        output_field=CharField(),
    )


def _event_insert(event: InboundEvent, *, lock_sender: bool) -> tuple[bool, ChainPosition | None]:
    """Inserts a webhook's event in one round trip (the webhook's hot path: each round trip is a
    wait for the database, bench docs/performance.md): the sender's "acknowledge" lock first (only
    the sender's other webhooks write what the reply's check reads; each statement reads what was
    committed when it started, so the check sees every webhook that held the lock before), then
    the INSERT Django's `save()` would send, and the advance of the helpline's audit chain for the
    webhook's entry. A MessageSid stored before is not inserted (`ON CONFLICT DO NOTHING`: no error,
    so no statement in PostgreSQL's log) and the chain is not advanced. Returns whether the event
    was inserted (then its id and reply are set) and the chain position (None when the chain has no
    head yet: audit_record then makes it)."""
    fields = [field for field in InboundEvent._meta.concrete_fields if not field.primary_key]
    # Its one unique key besides the id is (provider, kind, external_id).
    query = InsertQuery(InboundEvent, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [event])
    [(insert, params)] = query.get_compiler(connection=connection).as_sql()
    lock, lock_params = "", []
    if lock_sender:
        lock = "SELECT pg_advisory_xact_lock(%s); "
        lock_params = [sender_lock_key(event.helpline_id, event.sender_hash, "acknowledge")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"{lock}WITH event AS ({insert} RETURNING id, reply), "
            f"head AS ({audit.chain_head_advance_sql(condition='EXISTS (SELECT 1 FROM event)')}) "
            "SELECT event.id, event.reply, head.* FROM event LEFT JOIN head ON true",  # nosec B608  # Django-compiled INSERT
            [*lock_params, *params, 1, event.helpline_id],
        )
        row = cursor.fetchone()
    if row is None:
        return False, None
    event.pk, event.reply, *head = row
    event._state.adding = False
    event._state.db = connection.alias
    return True, (audit.ChainPosition(event.helpline_id, *head) if head[0] is not None else None)


def message_status_receive(
    *, number: PhoneNumber, params: Mapping[str, list[str]], spooled_at: datetime | None = None
) -> Receipt:
    """Stores a delivery status callback of an outbound message, once per MessageSid and status
    (not swept: channels_sms.outbound.status_callback_receive applies it to the message); one the
    spool kept keeps its arrival time (`spooled_at`)."""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or [""])[0]
    external_id = f"{params['MessageSid'][0]}:{status}"[:80]
    with transaction.atomic():
        event, created = InboundEvent.objects.get_or_create(
            provider="twilio",
            kind=EventKind.MESSAGE_STATUS,
            external_id=external_id,
            defaults={
                "helpline_id": number.helpline_id,
                "channel": number.channel,
                "params": params_json(params),
                "received_at": spooled_at or timezone.now(),
                "spooled": spooled_at is not None,
            },
        )
        if created:
            audit_record(
                actor=None,
                action=AuditAction.INBOUND_MESSAGE_STATUS,
                obj=event,
                helpline=number.helpline_id,
                extra={"external_id": external_id, "status": status},
            )
    return Receipt(event, created=created)


def dispatch(event_id: int) -> None:
    from .tasks import process_inbound_event

    # The event is stored; if this fails the sweeper dispatches it again once the broker is back.
    broker.publish(process_inbound_event, (event_id,), what=f"inbound event {event_id}")


# --- processing ------------------------------------------------------------------------------------


def inbound_event_process(*, event_id: int) -> str:
    """Threads a stored message into a contact and a case, exactly once: the sender's open case in
    the helpline gets it (in the current conversation contact of that channel, or a new contact
    after CONVERSATION_IDLE_MINUTES of silence); without an open case a new case opens at intake.

    On its first attempt the message takes along up to INBOUND_BATCH_SIZE - 1 other messages queued
    and never tried (oldest first), all threaded in one transaction: under a burst one commit and
    one turn of the audit chain serve many messages. Their own tasks then find them processed. A
    message tried before is threaded alone, so a message that fails (or kills its worker) holds up
    no other; if a batch fails, the message is retried alone at once.
    Returns what was done to this message ("threaded", "already_processed", "missing", ...)."""
    # Most calls under a burst are for messages a batch took along: found so in one read.
    table = InboundEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT processed_at IS NOT NULL FROM {table} WHERE id = %s",  # nosec B608  # table from the model
            [event_id],
        )
        row = cursor.fetchone()
    if row is None:
        return "missing"
    if row[0]:
        return "already_processed"
    state, ids = _claim(event_id)
    if state != "unprocessed":
        return state
    if len(ids) > 1:
        try:
            return _thread_events(event_id, ids)
        except Exception as exc:
            # The error's type only: a database error's text can quote the values it refused.
            logger.warning(
                "Threading a batch of %d inbound events failed (%s); event %s alone",
                len(ids),
                type(exc).__name__,
                event_id,
            )
    return _thread_events(event_id, [event_id])


_NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO OFF; "


def _claim(event_id: int) -> tuple[str, list[int]]:
    """Counts a processing attempt of the message, and of the untried messages it takes along, in a
    transaction of its own committed before the work (so a message that kills its worker shows its
    attempts), in one round trip plus a commit that does not wait for the WAL flush: a count lost in
    a database crash is one retry more. Returns the message's state and the ids to thread (it first)."""
    table = InboundEvent._meta.db_table
    claim = (
        _NO_FLUSH_WAIT + f"WITH own AS (UPDATE {table} SET attempts = attempts + 1 "
        "  WHERE id = %(id)s AND processed_at IS NULL RETURNING id, attempts), "
        # Chosen once (MATERIALIZED): a LIMIT-ed sub-select in `IN (...)` may be run again by the
        # plan and, on tied times, pick other rows: a batch larger than INBOUND_BATCH_SIZE.
        f"chosen AS MATERIALIZED (SELECT id FROM {table} WHERE processed_at IS NULL "
        "  AND kind = %(kind)s AND attempts = 0 AND id <> %(id)s "
        "  AND EXISTS (SELECT 1 FROM own WHERE attempts = 1) "
        "  ORDER BY received_at, id LIMIT %(along)s FOR UPDATE SKIP LOCKED), "
        f"along AS (UPDATE {table} AS event SET attempts = event.attempts + 1 FROM chosen "
        "  WHERE event.id = chosen.id RETURNING event.id) "
        f"SELECT (SELECT processed_at IS NOT NULL FROM {table} WHERE id = %(id)s), "
        "(SELECT count(*) FROM own), (SELECT array_agg(id) FROM along)"  # nosec B608  # table from the model
    )
    params = {"id": event_id, "kind": EventKind.MESSAGE, "along": settings.INBOUND_BATCH_SIZE - 1}
    if connection.in_atomic_block:  # an eager task in its caller's transaction: count in it, as it is
        claim = claim.removeprefix(_NO_FLUSH_WAIT)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(claim, params)
        processed, own, along = cursor.fetchone()
    if processed is None:
        return "missing", []
    if not own:
        return "already_processed", []
    return "unprocessed", [event_id, *(along or [])]


def _thread_events(event_id: int, ids: list[int]) -> str:
    """Threads the given messages in one transaction; returns what was done to `event_id`."""
    with transaction.atomic(), audit.deferred():
        # of=self: locking the joined helpline rows too would serialise every sender of a helpline.
        events = list(
            InboundEvent.objects.select_for_update(of=("self",))
            .select_related("helpline")
            .filter(pk__in=ids)
            .order_by("received_at", "id")
        )
        own = next((event for event in events if event.pk == event_id), None)
        if own is None:
            return "missing"
        # Helpline by helpline (each sender's messages stay in arrival order): a new case takes its
        # helpline's reference counter row until commit, so two batches take those rows in one
        # order and cannot deadlock.
        pending = sorted(
            (event for event in events if event.processed_at is None and event.kind == EventKind.MESSAGE),
            key=lambda event: (event.helpline_id, event.received_at, event.pk),
        )
        if pending:
            # Everything done for one sender waits for that sender's other threading; taken in
            # one order, so two batches cannot deadlock.
            lock_senders({(event.helpline_id, event.sender_hash) for event in pending if event.sender_hash})
            conversations = _Conversations(pending)
            messages = [conversations.thread(event) for event in pending]
            Message.objects.bulk_create(messages)
            InboundEvent.objects.bulk_update(pending, ["processed_at", "contact"])
            for event, message in zip(pending, messages, strict=True):
                audit_record(
                    actor=None,
                    action=AuditAction.MESSAGE_RECEIVE,
                    obj=message,
                    case_id=message.case_id,
                    helpline=event.helpline_id,
                    extra={"event_id": event.pk, "contact_id": message.contact_id, "channel": event.channel},
                )
            stored_late_escalate(pending, messages)
    if own.kind != EventKind.MESSAGE:
        return "not_a_message"
    return "threaded" if own in pending else "already_processed"


@dataclass
class _LastMessage:
    at: datetime
    contact_id: int
    case_id: int | None  # the contact's case


class _Conversations:
    """What a batch needs to know of its senders (live flags, newest open case, last message in it
    per channel), read in three queries for the whole batch and kept up to date as it threads, so
    each message is threaded exactly as it would be alone, after the ones before it."""

    def __init__(self, events: list[InboundEvent]) -> None:
        senders = {(event.helpline_id, event.sender_hash) for event in events if event.sender_hash}
        self.flags = contacters.active_flags(
            senders=senders, since=min(event.received_at for event in events)
        )
        self.cases = _open_cases(senders)
        self.last = _last_messages(
            {
                (case.pk, event.channel, event.sender_hash)
                for event in events
                if (case := self.cases.get((event.helpline_id, event.sender_hash))) is not None
            }
        )

    def thread(self, event: InboundEvent) -> Message:
        """The message of a locked, unprocessed event, its contact (and case) made if new; marks the
        event processed. The message and event are saved by the caller."""
        # Repeat contacters: a *blocked* sender's message is kept as a contact in no case (nothing
        # lost, call type left for an operator) and joins no conversation; an *abusive* sender's is
        # threaded as usual and its contact marked (channels_sms.contacters).
        flag = None
        if event.sender_hash:
            flag = contacters.flag_at(
                self.flags.get((event.helpline_id, event.sender_hash), []), event.received_at
            )
        if flag is not None and flag.flag == ContacterFlagKind.BLOCKED:
            contact = contacters.blocked_contact_create(
                helpline_id=event.helpline_id, channel=event.channel, started_at=event.received_at, flag=flag
            )
            contact_id, case_id = contact.pk, None
        else:
            contact_id, case_id = self._conversation(event)
        if flag is not None and flag.flag == ContacterFlagKind.ABUSIVE:
            contacters.contact_mark(contact=Contact.objects.get(pk=contact_id), flag=flag)
        event.processed_at = timezone.now()
        event.contact_id = contact_id
        return Message(
            helpline_id=event.helpline_id,
            case_id=case_id,
            contact_id=contact_id,
            channel=event.channel,
            direction=Direction.INBOUND,
            sender_hash=event.sender_hash,
            body=event.body,
            media=event.media,
            external_id=event.external_id,
            event=event,
            at=event.received_at,
        )

    def _conversation(self, event: InboundEvent) -> tuple[int, int]:
        """(contact id, case id) of the message: the conversation it continues, a new contact in the
        sender's open case, or a new case at intake when the sender has none open."""
        sender = (event.helpline_id, event.sender_hash)
        case = self.cases.get(sender) if event.sender_hash else None
        if case is None:
            case, contact = case_create_from_inbound(
                helpline=event.helpline,
                channel=event.channel,
                started_at=event.received_at,
                reporter_phone=sender_phone(event.sender),
                language=event.language,
            )
            contact_id = contact.pk
            # Found again by the sender's next message only if the case is theirs by phone number
            # (a sender id that is no phone number opens a case per message, as alone).
            if event.sender_hash and case.reporter_phone_hash == event.sender_hash:
                self.cases[sender] = case
        else:
            last = self.last.get((case.pk, event.channel, event.sender_hash))
            if last is not None and last.case_id == case.pk and event.received_at - last.at <= _idle_gap():
                contact_id = last.contact_id
            else:
                contact_id = contact_create_inbound(
                    case=case, channel=event.channel, started_at=event.received_at, language=event.language
                ).pk
        key = (case.pk, event.channel, event.sender_hash)
        last = self.last.get(key)
        # The newest message stays the last one: a later message may have been threaded before
        # this one (it went alone, or in another batch), as the one-by-one look-up would find.
        if event.sender_hash and (last is None or event.received_at >= last.at):
            self.last[key] = _LastMessage(event.received_at, contact_id, case.pk)
        return contact_id, case.pk


def _open_cases(senders: set[tuple[int, str]]) -> dict[tuple[int, str], Case]:
    """Each sender's newest open case in their helpline (the case their messages join)."""
    if not senders:
        return {}
    # By hash alone (a handful of cases each): with the helpline ids too the planner AND-ed in all
    # of a helpline's cases (41 ms on the bench's million, 0.2 ms without). Other helplines' cases
    # of the same numbers are dropped below.
    cases = (
        Case.objects.filter(reporter_phone_hash__in={hashed for _, hashed in senders})
        .exclude(state=CaseState.CLOSED)
        .order_by("helpline_id", "reporter_phone_hash", "-created_at", "-id")
        .distinct("helpline_id", "reporter_phone_hash")
        .only("id", "helpline_id", "reporter_phone_hash", "created_at")
    )
    found = {(case.helpline_id, case.reporter_phone_hash): case for case in cases}
    return {sender: case for sender, case in found.items() if sender in senders}


def _last_messages(keys: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], _LastMessage]:
    """The last message of each (case id, channel, sender hash), with its contact's case."""
    if not keys:
        return {}
    case_ids, channels, hashes = zip(*sorted(keys), strict=True)
    message, contact = Message._meta.db_table, Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.case_id, k.channel, k.sender_hash, m.at, m.contact_id, c.case_id "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS k(case_id, channel, sender_hash) "
            f"CROSS JOIN LATERAL (SELECT at, contact_id FROM {message} WHERE case_id = k.case_id "
            "AND channel = k.channel AND sender_hash = k.sender_hash ORDER BY at DESC, id DESC LIMIT 1) AS m "
            f"JOIN {contact} AS c ON c.id = m.contact_id",  # nosec B608  # table names from the models
            [list(case_ids), list(channels), list(hashes)],
        )
        return {(row[0], row[1], row[2]): _LastMessage(row[3], row[4], row[5]) for row in cursor.fetchall()}


def unprocessed_events_redispatch(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Dispatches again the messages still unprocessed INBOUND_SWEEP_AFTER_SECONDS after they were
    last dispatched (the broker was down, or a process died between commit and publish)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS)
    with transaction.atomic():
        ids = list(
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(kind=EventKind.MESSAGE, processed_at__isnull=True, dispatched_at__lt=cutoff)
            .order_by("received_at")
            .values_list("pk", flat=True)[:limit]
        )
        InboundEvent.objects.filter(pk__in=ids).update(dispatched_at=now)
    for event_id in ids:
        dispatch(event_id)
    if ids:
        logger.warning("Re-dispatched %d unprocessed inbound events", len(ids))
    return ids
