"""Scale data: several helplines with years of synthetic cases, contacts, messages, referrals and a
valid audit chain, loaded with PostgreSQL COPY so a million cases take minutes, not days.

    manage.py seed_scale --cases 1000000 --contacts-per-case 10

What it writes (all synthetic; see the module constants for the distributions):

* Reference data, through the ORM (a few hundred rows): --helplines helplines in different
  countries and timezones with the default category list, three teams each, operators,
  supervisors and an administrator per helpline, one agency of every sector (with service types)
  and one agency user each, and the helpline's SMS/WhatsApp/voice numbers. Every user gets the
  same password (--password), hashed once. Supervisors and administrators have no authenticator:
  they enrol their own at their first sign-in (POST /api/v1/auth/totp/, then .../totp/confirm/).
* N cases over ten years (volume growing with time), ids and creation times in the same order.
  A case's state follows its age: new cases are mostly open, cases older than a year mostly
  closed, with a stale backlog (at the default size: 1,500-3,400 cases in intake and 7,000-19,000
  open per helpline, most of them past their due date, as a neglected backlog would be). The
  newest 5 x helplines cases take every state in every helpline, so even a tiny seed has each.
  Closed cases older than the retention (7 years) are anonymised, as the retention job would.
* About K contacts per case (the first at the case's creation, the rest within its life), and
  messages for SMS, WhatsApp and chat contacts: 1 to 5 each, about 1 message per contact
  overall. Inbound SMS/WhatsApp messages of the last year have their raw InboundEvent.
* Referrals for cases in referral and some cases in follow-up or closed, in states consistent
  with the case (an open referral case has an active referral; a closed case none), each with
  the consent row it relies on (a few emergency referrals rely on the child's vital interests
  and have none). Escalations for open cases past their due date.
* Audit entries, one hash chain per helpline: `case.create` for every case, `case.transition.*`
  for each transition of the open cases, `case.anonymise` for anonymised cases, in time order,
  hashed with helpline.audit.entry_hash exactly as audit_record does (txid: the seeding
  transaction's; no request id, client address or user agent; extra carries "seeded": true).
  Other seeded rows (contacts, closures of closed cases, referrals...) have no audit entry.
  The chain heads and the case reference counters are set to match.

Choices a reader must know:

* Encrypted columns reuse a small pool of Fernet tokens made once per run (encrypting every value
  would dominate the run): equal tokens repeat across rows, which real data never does. The
  tokens are real, so every value decrypts. Phone hashes come from the same small pool.
* Everything is written in one transaction with `session_replication_role = replica`
  (superuser): the row-history triggers (helpline.history) would write one event row per
  inserted row, doubling the load, and the foreign-key triggers would check every reference,
  which the generator guarantees by construction. So seeded rows have no row history. Unique
  and check constraints still apply. A failure rolls everything back.
* Ids are written explicitly (from max(id) + 1) and every sequence is advanced past them, so
  the application's own inserts continue after the seed. ANALYZE runs at the end.
* The seeded tables' secondary indexes (those behind no constraint) are dropped before the load
  and built once after it, in the same transaction (--keep-indexes keeps them instead).
  Rows are generated in a second thread while the main thread COPYs the previous batch.
* Measured (2 cores shared with other work, load average ~3.5): 100,000 cases x 10 = 2.4M rows
  in 81 s; the default 1,000,000 x 10 = 24M rows in 8.5 min (47,000 rows/s), a 9.9 GB database.
* The database must hold no case (CommandError otherwise; there is no --append: references,
  chains and counters would have to be merged with live data). Reference data already present
  under the seed's helpline codes is refused too.
* Not seeded: notes, referral updates, agency deliveries, case access grants, callbacks, chat
  sessions, contacter flags.
"""

import contextlib
import heapq
import io
import json
import math
import queue
import random
import threading
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from cases.models import Case, CaseReferenceCounter, Category
from cases.services import category_defaults_install
from cases.workflow import DEFAULT_DUE_MINUTES
from channels_sms.models import PhoneNumber
from helpline.audit import GENESIS, entry_hash
from helpline.crypto import encrypt, identifier_hash
from helpline.models import AuditChainHead, Helpline, Role, Team, User
from referrals.models import DEFAULT_RESPONSE_HOURS, Agency, AgencySector

# Password of the synthetic users of a benchmark database; --password sets another.
DEFAULT_PASSWORD = "Lifeline-scale-2026"  # nosec B105
YEAR = 365.25 * 86400
DAY = 86400.0
SPAN_YEARS = 10
RETENTION_YEARS = 7

# code, name, country, timezone, language, phone prefix, digits after it, share of the cases
HELPLINES = [
    ("KE116", "Childline Kenya 116", "KE", "Africa/Nairobi", "en", "+2547", 8, 45),
    ("BR100", "Disque 100 Criancas", "BR", "America/Sao_Paulo", "pt", "+55119", 8, 35),
    ("MN108", "Child Helpline 108 Mongolia", "MN", "Asia/Ulaanbaatar", "mn", "+9769", 7, 20),
    ("PH163", "Bantay Bata 163", "PH", "Asia/Manila", "fil", "+639", 9, 25),
    ("DE116111", "Nummer gegen Kummer", "DE", "Europe/Berlin", "de", "+49151", 8, 30),
]
TEAMS = ["Day shift", "Night shift", "Weekend"]
OPERATORS_PER_TEAM = 8
SECTOR_SERVICES = {
    AgencySector.POLICE: ["investigation", "rescue"],
    AgencySector.HEALTH: ["medical_care", "forensic_exam", "mental_health_care"],
    AgencySector.SOCIAL_SERVICES: ["child_protection", "alternative_care", "family_support"],
    AgencySector.LEGAL_AID: ["legal_representation", "legal_advice"],
    AgencySector.SHELTER: ["emergency_shelter"],
    AgencySector.EDUCATION: ["school_reintegration"],
    AgencySector.ONLINE_ABUSE_HOTLINE: ["content_removal"],
    AgencySector.OTHER: ["psychosocial_support"],
}
OPEN_STATES = ("intake", "assessment", "referral", "follow_up")
STATES = (*OPEN_STATES, "closed")
# State shares by the case's age: (max age in days, weights for intake..closed). The tail keeps a
# stale backlog open, as every helpline has.
STATE_BY_AGE = [
    (2, (45, 25, 0, 0, 30)),
    (30, (8, 20, 15, 15, 42)),
    (365, (1.5, 3, 3, 5, 87.5)),
    (math.inf, (0.4, 0.3, 0.25, 0.4, 98.65)),
]
RISKS = (("low", 35), ("medium", 35), ("high", 22), ("critical", 8))
AGE_RANGES = (("0-4", 3), ("5-9", 12), ("10-13", 30), ("14-17", 40), ("18+", 5), ("unknown", 10))
GENDERS = (("girl", 52), ("boy", 38), ("non_binary", 2), ("unknown", 8))
RELATIONS = (
    ("child_self", 55),
    ("parent_or_caregiver", 18),
    ("other_family", 8),
    ("friend_or_peer", 6),
    ("professional", 7),
    ("other_adult", 4),
    ("unknown", 2),
)
CHANNELS = (
    ("voice", 50),
    ("sms", 15),
    ("whatsapp", 12),
    ("chat", 8),
    ("walk_in", 6),
    ("email", 5),
    ("other", 4),
)
MESSAGING = frozenset({"sms", "whatsapp", "chat"})
NON_CASE_CALL_TYPES = ("silent", "hang_up", "prank", "wrong_number", "abusive", "information")
# Of closed cases, the share dismissed at intake (a silent call, a prank...): one contact each.
DISMISSED_SHARE = 0.25
FLAGS = (
    "child_on_the_move",
    "disability",
    "out_of_school",
    "street_connected",
    "in_alternative_care",
    "child_headed_household",
    "orphan",
    "pregnant",
    "lgbtqi",
)
CLOSED_REFERRAL_STATES = (("completed", 60), ("rejected", 15), ("withdrawn", 13), ("expired", 12))
OUTCOMES = ("service_provided", "child_safe", "investigation_opened", "unable_to_locate", "other")
AREAS = ["Central district", "North district", "East district", "West district", "Lakeside", "Old town"]
CLOSURE_REASONS = [
    "Child supported; no further action needed.",
    "Referred agency confirmed the child is safe.",
    "Information given; the caller will call back if needed.",
    "Lost contact after several attempts.",
]
DISMISS_REASON = "Not a child protection case."

# Plain texts behind the pooled tokens.
FIRST_NAMES = ["Amani", "Baraka", "Chloe", "Dalia", "Enkh", "Femi", "Gabriela", "Hana", "Ivan", "Joy"]
NOTES = [
    "Lives with grandmother; attends school irregularly.",
    "Older sibling is the main carer.",
    "Disclosed problems at home during the second call.",
    "Prefers to be called after school hours.",
]
SUMMARIES = [
    "Child called about bullying at school.",
    "Caller worried about a neighbour's child.",
    "Follow-up call; child feels safer.",
    "Child asked about counselling services.",
    "Silent call, then the child spoke briefly.",
]
BODIES = ["hi", "can I talk to someone", "I need help", "thank you", "ok", "are you there?"]
REPLIES = ["Hello, you are talking to the helpline. How can we help?", "Are you safe right now?"]


def _weighted(pairs: tuple[tuple[Any, float], ...]) -> tuple[list[Any], list[float]]:
    values = [v for v, _ in pairs]
    total, acc, cumulative = sum(w for _, w in pairs), 0.0, []
    for _, w in pairs:
        acc += w
        cumulative.append(acc / total)
    return values, cumulative


def _pick(rng: random.Random, table: tuple[list[Any], list[float]]) -> Any:
    values, cumulative = table
    x = rng.random()
    for value, edge in zip(values, cumulative, strict=True):
        if x < edge:
            return value
    return values[-1]


def _esc(text: str) -> str:
    """A value in COPY's text format (free text and JSON may hold backslashes or newlines)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


_DAYS: dict[int, str] = {}


def _ts(seconds: float) -> str:
    """A UTC timestamp for COPY, about twice as fast as datetime.isoformat (millions are written)."""
    micros = int(seconds * 1_000_000 + 0.5)
    day, rest = divmod(micros, 86_400_000_000)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d ")
    return "%s%02d:%02d:%02d.%06d+00" % (  # noqa: UP031 - %-formatting is the fastest here
        prefix,
        rest // 3_600_000_000,
        rest // 60_000_000 % 60,
        rest // 1_000_000 % 60,
        rest % 1_000_000,
    )


def _array(values: list[str]) -> str:
    return "{" + ",".join(values) + "}"


N = "\\N"


class _Entry:
    """The fields helpline.audit.canonical reads, without building a model instance."""

    __slots__ = (
        "action",
        "actor_id",
        "actor_role",
        "actor_username",
        "at",
        "case_id",
        "chain",
        "chain_seq",
        "changes",
        "client_ip",
        "extra",
        "hash",
        "helpline_id",
        "object_id",
        "object_type",
        "outcome",
        "prev_hash",
        "request_id",
        "txid",
        "user_agent",
    )


@dataclass
class _HelplineData:
    id: int
    code: str
    tz: zoneinfo.ZoneInfo
    numbers: dict[str, str]
    teams: list[int]
    operators: dict[int, list[int]]  # team id -> operator ids
    supervisors: dict[int, int]  # team id -> supervisor id
    agencies: list[tuple[int, int, list[str], str]]  # id, agency user id, service types, sector
    categories: list[str]
    phones: list[tuple[str, str]]  # (token, hash)
    seq: int = 0
    last_hash: str = GENESIS
    counters: dict[int, int] = field(default_factory=lambda: defaultdict(int))


# COPY column lists, in the order the generator writes values.
COLUMNS = {
    "cases_case": (
        "id, helpline_id, reference, state, risk_level, categories, child_first_name, child_age, "
        "child_age_range, child_gender, child_area, child_location, child_language, child_details_note, "
        "vulnerability_flags, safe_contact, reporter_relation, reporter_name, reporter_phone, "
        "reporter_phone_hash, assigned_to_id, team_id, state_changed_at, next_action_due_at, "
        "overdue_since, restricted, closure_reason, closed_at, anonymised_at, created_by_id, created_at, "
        "updated_at"
    ),
    "cases_contact": (
        "id, helpline_id, case_id, channel, direction, call_type, summary, started_at, ended_at, "
        "created_by_id, created_at"
    ),
    "channels_sms_inboundevent": (
        "id, helpline_id, channel, kind, provider, external_id, sender, sender_hash, body, num_media, "
        "media, params, reply, received_at, dispatched_at, processed_at, attempts, contact_id"
    ),
    "channels_sms_message": (
        "id, helpline_id, case_id, contact_id, channel, direction, sender_hash, body, media, "
        "external_id, event_id, at, created_at, author_id, from_address, to_address, status, "
        "error_code, attempts, sent_at, status_at"
    ),
    "referrals_consent": "id, case_id, given_by, given_at, scope, recorded_by_id, recorded_at, withdrawn_at",
    "referrals_referral": (
        "id, helpline_id, case_id, agency_id, state, service_type, urgency, reason, summary, "
        "reported_urls, platform, consent_basis, consent_id, override_reason, packet_json, "
        "resent_from_id, created_by_id, created_at, approved_by_id, sent_at, respond_by, responded_at, "
        "responded_by_id, closed_at, closed_by_id, rejection_reason, withdrawal_reason, outcome, "
        "outcome_note"
    ),
    "cases_escalation": (
        "id, case_id, kind, referral_id, detail, helpline_id, team_id, due_at, state, risk_level, "
        "created_at, acknowledged_by_id, acknowledged_at"
    ),
    "helpline_auditentry": (
        "id, chain, chain_seq, prev_hash, hash, txid, at, actor_id, actor_username, actor_role, "
        "helpline_id, action, object_type, object_id, case_id, changes, outcome, request_id, client_ip, "
        "user_agent, extra"
    ),
}
TABLES = tuple(COLUMNS)

Batch = dict[str, tuple[str, int]]  # table -> (COPY text, rows)


class _Generator:
    """Builds the rows batch by batch (COPY text per table), in case-creation order. Pure Python:
    it runs in its own thread while the main thread feeds the previous batch to PostgreSQL."""

    def __init__(
        self,
        *,
        cases: int,
        contacts_per_case: float,
        batch_size: int,
        seed: int,
        now: float,
        txid: int,
        helplines: list[_HelplineData],
        weights: list[float],
        users: dict[int, tuple[str, str]],
        start_ids: dict[str, int],
        pools: dict[str, list[str]],
    ) -> None:
        self.n = cases
        self.k = contacts_per_case
        self.batch_size = batch_size
        self.rng = random.Random(seed)  # nosec B311  # reproducible synthetic data, not secrets
        self.now = now
        self.start = now - SPAN_YEARS * YEAR
        self.txid = txid
        self.helplines = helplines
        self.helpline_cumulative = _weighted(tuple(zip(range(len(helplines)), weights, strict=True)))
        self.users = users
        self.ids = dict(start_ids)
        self.pools = pools
        self.pending: list[tuple[float, int, int, tuple]] = []  # audit entries due later (heap)
        self.tie = 0
        self.buffers: dict[str, list[str]] = {t: [] for t in TABLES}
        # A non-dismissed case's mean contact count, so the overall mean is K.
        closed_share = 0.95
        dismissed = closed_share * DISMISSED_SHARE
        self.other_mean = max(1.0, (contacts_per_case - dismissed) / (1 - dismissed))
        self.tables = {
            name: _weighted(pairs)
            for name, pairs in {
                "risk": RISKS,
                "age": AGE_RANGES,
                "gender": GENDERS,
                "relation": RELATIONS,
                "channel": CHANNELS,
                "closed_referral": CLOSED_REFERRAL_STATES,
            }.items()
        }
        self.state_tables = [
            (age * DAY, _weighted(tuple(zip(STATES, w, strict=True)))) for age, w in STATE_BY_AGE
        ]

    # --- plumbing ---------------------------------------------------------------------------------

    def _next_id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _row(self, table: str, values: list[str]) -> None:
        self.buffers[table].append("\t".join(values))

    def _flush(self) -> Batch:
        batch = {}
        for table, lines in self.buffers.items():
            if lines:
                batch[table] = ("\n".join(lines) + "\n", len(lines))
                lines.clear()
        return batch

    def batches(self) -> Iterator[tuple[int, Batch]]:
        for i in range(self.n):
            self._case(i)
            if (i + 1) % self.batch_size == 0:
                yield i + 1, self._flush()
        while self.pending:
            self._emit_pending(math.inf)
        yield self.n, self._flush()

    # --- audit ------------------------------------------------------------------------------------

    def _audit_later(self, at: float, helpline: int, args: tuple) -> None:
        self.tie += 1
        heapq.heappush(self.pending, (at, self.tie, helpline, args))

    def _emit_pending(self, until: float) -> None:
        while self.pending and self.pending[0][0] <= until:
            at, _, helpline, args = heapq.heappop(self.pending)
            self._audit(helpline, at, *args)

    def _audit(
        self,
        helpline_index: int,
        at: float,
        actor: int | None,
        action: str,
        case_id: int,
        changes: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        h = self.helplines[helpline_index]
        e = _Entry()
        e.chain = h.id
        h.seq += 1
        e.chain_seq = h.seq
        e.txid = self.txid
        e.at = datetime.fromtimestamp(at, UTC)
        e.actor_id = actor
        e.actor_username, e.actor_role = self.users[actor] if actor else ("", "system")
        e.helpline_id = h.id
        e.action = action
        e.object_type = "cases.case"
        e.object_id = str(case_id)
        e.case_id = case_id
        e.changes = changes
        e.outcome = "allowed"
        e.request_id = ""
        e.client_ip = None
        e.user_agent = ""
        e.extra = {**extra, "seeded": True}
        e.prev_hash = h.last_hash
        e.hash = entry_hash(e)  # the same function verify_chain re-computes
        h.last_hash = e.hash
        self._row(
            "helpline_auditentry",
            [
                str(self._next_id("helpline_auditentry")),
                str(h.id),
                str(e.chain_seq),
                e.prev_hash,
                e.hash,
                str(self.txid),
                e.at.isoformat(),
                str(actor) if actor else N,
                e.actor_username,
                e.actor_role,
                str(h.id),
                action,
                e.object_type,
                e.object_id,
                e.object_id,
                _esc(json.dumps(changes)),
                "allowed",
                "",
                N,
                "",
                _esc(json.dumps(e.extra)),
            ],
        )

    # --- cases ------------------------------------------------------------------------------------

    def _state_for(self, age: float) -> str:
        for max_age, table in self.state_tables:
            if age < max_age:
                return _pick(self.rng, table)
        raise AssertionError("unreachable")

    def _case(self, i: int) -> None:
        rng, now = self.rng, self.now
        span = now - self.start
        # Volume grows linearly with time: the creation time of the i-th case is a square root.
        created = self.start + span * math.sqrt((i + rng.random()) / self.n)
        created = min(created, now - 1.0)
        newest = self.n - 1 - i
        if newest < len(STATES) * len(self.helplines):
            # The newest cases take every state in every helpline, so even a tiny seed has each.
            hi, state = newest % len(self.helplines), STATES[newest // len(self.helplines)]
        else:
            hi = _pick(rng, self.helpline_cumulative)
            state = self._state_for(now - created)
        self._emit_pending(created)
        h = self.helplines[hi]
        case_id = self._next_id("cases_case")
        team = rng.choice(h.teams)
        operators = h.operators[team]
        dismissed = state == "closed" and rng.random() < DISMISSED_SHARE
        first_channel = _pick(rng, self.tables["channel"])
        # Messages from a new sender open the case themselves (no operator); the rest an operator.
        by_system = first_channel in MESSAGING and rng.random() < 0.8
        creator = None if by_system else rng.choice(operators)
        risk = "unassessed" if (state == "intake" and rng.random() < 0.7) else _pick(rng, self.tables["risk"])
        if dismissed:
            risk = "unassessed" if rng.random() < 0.8 else risk
        categories = [] if dismissed else rng.sample(h.categories, 1 + (rng.random() < 0.35))

        # Life of the case: transitions for open ones, closure for closed ones.
        life = now - created
        transitions: list[tuple[float, str, str, str]] = []  # at, name, before, after
        closed_at = anonymised_at = None
        if state == "closed":
            duration = rng.uniform(60, 1800) if dismissed else rng.expovariate(1 / (20 * DAY))
            closed_at = created + min(duration, life * rng.random())
            state_changed = closed_at
            if closed_at < now - RETENTION_YEARS * YEAR:
                anonymised_at = closed_at + RETENTION_YEARS * YEAR + rng.uniform(0, 2 * DAY)
                anonymised_at = min(anonymised_at, now - 1)
        else:
            path = {
                "intake": [],
                "assessment": [("start_assessment", "intake", "assessment")],
                "referral": [
                    ("start_assessment", "intake", "assessment"),
                    ("refer", "assessment", "referral"),
                ],
                "follow_up": [("start_assessment", "intake", "assessment")]
                + ([("refer", "assessment", "referral")] if rng.random() < 0.5 else [])
                + [("start_follow_up", "assessment", "follow_up")],
            }[state]
            moments = sorted(created + rng.random() * min(life, 60 * DAY) for _ in path)
            previous = None
            for at, (name, before, after) in zip(moments, path, strict=True):
                transitions.append((at, name, previous or before, after))
                previous = after
            state_changed = moments[-1] if moments else created
        referred = state == "referral" or any(t[1] == "refer" for t in transitions)
        if state == "closed" and not dismissed and rng.random() < 0.25:
            referred = True

        due = overdue = None
        if state in ("intake", "assessment", "referral"):
            due = state_changed + DEFAULT_DUE_MINUTES[state][risk] * 60
        elif state == "follow_up":
            due = state_changed + rng.uniform(1, 14) * DAY
        if due is not None and due < now:
            overdue = due + rng.uniform(30, 300)  # when the sweep noticed
            overdue = min(overdue, now - 1)
        assignee = None
        if state == "intake":
            assignee = rng.choice(operators) if rng.random() < 0.2 else None
        elif state != "closed" or rng.random() < 0.7:
            assignee = creator or rng.choice(operators)

        # Personal data (pooled tokens); erased on anonymised cases.
        p = self.pools
        relation = _pick(rng, self.tables["relation"])
        phone_token, phone_hash = rng.choice(h.phones) if rng.random() < 0.6 else ("", "")
        personal = anonymised_at is None and not dismissed
        age_range = _pick(rng, self.tables["age"])
        child_age = ""
        if personal and age_range not in ("unknown", "18+") and rng.random() < 0.6:
            low, high = {"0-4": (0, 4), "5-9": (5, 9), "10-13": (10, 13), "14-17": (14, 17)}[age_range]
            child_age = str(rng.randint(low, high))
        flags = rng.sample(FLAGS, 1) if rng.random() < 0.15 else []
        updated = max(state_changed, anonymised_at or 0)
        year = datetime.fromtimestamp(created, h.tz).year
        h.counters[year] += 1
        reference = f"{h.code}-{year}-{h.counters[year]:06d}"
        self._row(
            "cases_case",
            [
                str(case_id),
                str(h.id),
                reference,
                state,
                risk,
                _array(categories),
                rng.choice(p["first_name"]) if personal and rng.random() < 0.6 else "",
                child_age or N,
                age_range,
                _pick(rng, self.tables["gender"]),
                rng.choice(AREAS) if rng.random() < 0.5 else "",
                rng.choice(p["location"]) if personal and rng.random() < 0.3 else "",
                "",
                rng.choice(p["note"]) if personal and rng.random() < 0.3 else "",
                _array(flags),
                rng.choice(p["safe_contact"]) if personal and rng.random() < 0.2 else "",
                relation,
                rng.choice(p["reporter_name"])
                if personal and relation != "child_self" and rng.random() < 0.4
                else "",
                phone_token if personal else "",
                phone_hash if personal else "",
                str(assignee) if assignee else N,
                str(team),
                _ts(state_changed),
                _ts(due) if due is not None else N,
                _ts(overdue) if overdue is not None else N,
                "f",
                (DISMISS_REASON if dismissed else rng.choice(CLOSURE_REASONS)) if closed_at else "",
                _ts(closed_at) if closed_at else N,
                _ts(anonymised_at) if anonymised_at else N,
                str(creator) if creator else N,
                _ts(created),
                _ts(updated),
            ],
        )
        self._audit(
            hi,
            created,
            creator,
            "case.create",
            case_id,
            {
                "state": {"before": None, "after": "intake"},
                "risk_level": {"before": None, "after": risk},
                "categories": {"before": None, "after": categories},
                "team": {"before": None, "after": team},
            },
            {"reference": reference},
        )
        for at, name, before, after in transitions:
            actor = assignee or rng.choice(operators)
            self._audit_later(
                at,
                hi,
                (
                    actor,
                    f"case.transition.{name}",
                    case_id,
                    {"state": {"before": before, "after": after}},
                    {"transition": name},
                ),
            )
        if anonymised_at:
            self._audit_later(
                anonymised_at,
                hi,
                (None, "case.anonymise", case_id, {"anonymised": {"before": None, "after": True}}, {}),
            )

        end = closed_at or now
        self._contacts(h, case_id, created, end, first_channel, creator, operators, dismissed, personal)
        if referred:
            self._referrals(
                h, case_id, state, created, state_changed, closed_at, transitions, operators, personal
            )
        if overdue is not None:
            supervisor = h.supervisors[team]
            acknowledged = rng.random() < 0.5
            self._row(
                "cases_escalation",
                [
                    str(self._next_id("cases_escalation")),
                    str(case_id),
                    "overdue",
                    N,
                    "",
                    str(h.id),
                    str(team),
                    _ts(due),
                    state,
                    risk,
                    _ts(overdue),
                    str(supervisor) if acknowledged else N,
                    _ts(min(overdue + 3600, now)) if acknowledged else N,
                ],
            )

    # --- contacts, messages, inbound events ---------------------------------------------------------

    def _contacts(
        self,
        h: _HelplineData,
        case_id: int,
        created: float,
        end: float,
        first_channel: str,
        creator: int | None,
        operators: list[int],
        dismissed: bool,
        personal: bool,
    ) -> None:
        # The hot loop (about K rows per case): locals and index picks instead of rng.choice.
        rng = self.rng
        rand = rng.random
        summaries = self.pools["summary"]
        channels = self.tables["channel"]
        out = self.buffers["cases_contact"].append
        count = 1 if dismissed else 1 + int(rand() * 2 * (self.other_mean - 1) + 0.5)
        helpline_text, case_text = str(h.id), str(case_id)
        for n in range(count):
            contact_id = self._next_id("cases_contact")
            if n == 0:
                channel, started, by, direction = first_channel, created, creator, "inbound"
            else:
                channel = _pick(rng, channels)
                started = created + rand() * (end - created)
                direction = "outbound" if channel == "voice" and rand() < 0.3 else "inbound"
                by = operators[int(rand() * len(operators))]
            if dismissed:
                call_type = NON_CASE_CALL_TYPES[int(rand() * len(NON_CASE_CALL_TYPES))]
            elif n == 0 and by is None and rand() < 0.1:
                call_type = ""  # not classified yet
            else:
                call_type = "child" if rand() < 0.7 else "caller_about_child"
            if channel in MESSAGING:
                ended = self._messages(h, case_id, contact_id, channel, started, end, operators)
                if n != 0 and channel != "chat":
                    by = None  # threaded in by the system from an inbound message
            else:
                ended = min(started + 60 + rand() * 2340, max(end, started))
            ended_text = _ts(ended)
            summary = summaries[int(rand() * len(summaries))] if personal and rand() < 0.6 else ""
            out(
                "\t".join(
                    (
                        str(contact_id),
                        helpline_text,
                        case_text,
                        channel,
                        direction,
                        call_type,
                        summary,
                        _ts(started),
                        ended_text,
                        str(by) if by else N,
                        ended_text,
                    )
                )
            )

    def _messages(
        self,
        h: _HelplineData,
        case_id: int,
        contact_id: int,
        channel: str,
        started: float,
        end: float,
        operators: list[int],
    ) -> float:
        rng, p = self.rng, self.pools
        rand = rng.random
        bodies, params = p["body"], p["params"]
        out = self.buffers["channels_sms_message"].append
        count = 1 + int(rand() * 5)
        at = started
        sender_token, sender_hash = h.phones[int(rand() * len(h.phones))]
        operator = str(operators[int(rand() * len(operators))])
        recent = started > self.now - YEAR and channel != "chat"
        head = (str(h.id), str(case_id), str(contact_id), channel)
        for n in range(count):
            if n:
                at = min(at + 20 + rand() * 580, max(end, at))
            message_id = self._next_id("channels_sms_message")
            external = f"SM{message_id:032x}" if channel != "chat" else ""
            body = bodies[int(rand() * len(bodies))]
            at_text = _ts(at)
            if n % 2 == 0:  # inbound: the child writes first
                event_id = N
                if recent:
                    event_id = str(self._next_id("channels_sms_inboundevent"))
                    self.buffers["channels_sms_inboundevent"].append(
                        "\t".join(
                            (
                                event_id,
                                head[0],
                                channel,
                                "message",
                                "twilio",
                                external,
                                sender_token,
                                sender_hash,
                                body,
                                "0",
                                "",
                                params[int(rand() * len(params))],
                                "",
                                at_text,
                                _ts(at + 0.05),
                                _ts(at + 0.4),
                                "1",
                                head[2],
                            )
                        )
                    )
                values = ("inbound", sender_hash, body, "", external, event_id, at_text, at_text)
                values += (N, "", "", "", "", "0", N, N)
            else:
                values = ("outbound", "", body, "", external, N, at_text, at_text, operator)
                values += (h.numbers[channel], sender_token, "delivered", "", "1", at_text, at_text)
            out("\t".join((str(message_id), *head, *values)))
        return at

    # --- referrals and consent ------------------------------------------------------------------

    def _referrals(
        self,
        h: _HelplineData,
        case_id: int,
        state: str,
        created: float,
        state_changed: float,
        closed_at: float | None,
        transitions: list[tuple[float, str, str, str]],
        operators: list[int],
        personal: bool,
    ) -> None:
        rng, p, now = self.rng, self.pools, self.now
        refer_at = next((t[0] for t in transitions if t[1] == "refer"), None)
        if refer_at is None:
            last = closed_at or now
            refer_at = created + (last - created) * rng.uniform(0.05, 0.5)
        operator = rng.choice(operators)
        consent_id = self._next_id("referrals_consent")
        given = refer_at - rng.uniform(60, 3600)
        self._row(
            "referrals_consent",
            [
                str(consent_id),
                str(case_id),
                "child" if rng.random() < 0.6 else "caregiver",
                _ts(given),
                "{information_sharing,referral}",
                str(operator),
                _ts(given + 30),
                N,
            ],
        )
        count = 1 if rng.random() < 0.8 else 2
        for n in range(count):
            if state == "referral" and n == 0:
                if state_changed > now - 3 * DAY:
                    ref_state = "sent"
                else:
                    ref_state = "awaiting_approval" if rng.random() < 0.1 else "accepted"
            elif state == "follow_up":
                ref_state = "completed" if rng.random() < 0.6 else "accepted"
            else:
                ref_state = _pick(rng, self.tables["closed_referral"])
            agency_id, agency_user, services, sector = rng.choice(h.agencies)
            urgency = "emergency" if rng.random() < 0.05 else ("urgent" if rng.random() < 0.4 else "routine")
            hours = DEFAULT_RESPONSE_HOURS[urgency] * 3600
            emergency = urgency == "emergency" and rng.random() < 0.5
            sent = None if ref_state == "awaiting_approval" else refer_at
            respond_by = sent + hours if sent is not None else None
            latest = min(closed_at or now, now)
            responded = responded_by = closed = closed_by = None
            if ref_state in ("accepted", "completed", "rejected"):
                responded = min(sent + hours * rng.uniform(0.05, 0.9), latest)
                responded_by = agency_user
            if ref_state == "completed":
                closed = responded + (latest - responded) * rng.uniform(0.2, 0.9)
                closed_by = agency_user
            elif ref_state == "rejected":
                closed, closed_by = responded, agency_user
            elif ref_state == "withdrawn":
                closed = refer_at + (latest - refer_at) * rng.uniform(0.1, 0.5)
                closed_by = operator
            elif ref_state == "expired":
                closed = min(respond_by + rng.uniform(60, 900), latest)
            keep = personal
            hotline = sector == AgencySector.ONLINE_ABUSE_HOTLINE
            self._row(
                "referrals_referral",
                [
                    str(self._next_id("referrals_referral")),
                    str(h.id),
                    str(case_id),
                    str(agency_id),
                    ref_state,
                    rng.choice(services),
                    urgency,
                    rng.choice(p["reason"]) if keep else "",
                    rng.choice(p["referral_summary"]) if keep else "",
                    "{https://social.example/post/1}" if hotline and keep else "{}",
                    "Example social network" if hotline and keep else "",
                    "vital_interests" if emergency else "consent",
                    N if emergency else str(consent_id),
                    "",
                    rng.choice(p["packet"]) if keep and sent is not None else "",
                    N,
                    str(operator),
                    _ts(refer_at),
                    N,
                    _ts(sent) if sent is not None else N,
                    _ts(respond_by) if respond_by is not None else N,
                    _ts(responded) if responded is not None else N,
                    str(responded_by) if responded_by else N,
                    _ts(closed) if closed is not None else N,
                    str(closed_by) if closed_by else N,
                    "The service is not available in the child's area." if ref_state == "rejected" else "",
                    "Referred elsewhere." if ref_state == "withdrawn" else "",
                    rng.choice(OUTCOMES) if ref_state == "completed" else "",
                    "",
                ],
            )


@dataclass
class _Stats:
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    index_seconds: float = 0.0


def _drop_secondary_indexes(cursor: Any) -> list[str]:
    """Drops the seeded tables' indexes that back no constraint; returns their definitions."""
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        [list(TABLES)],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in found]


class Command(BaseCommand):
    help = (
        "Fill an empty database with synthetic scale data (helplines, cases, contacts, messages, "
        "referrals, a valid audit chain) using COPY. See the module docstring for what is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=1_000_000)
        parser.add_argument("--contacts-per-case", type=float, default=10.0, help="Mean contacts per case.")
        parser.add_argument("--helplines", type=int, default=3, choices=range(1, len(HELPLINES) + 1))
        parser.add_argument("--batch-size", type=int, default=2000, help="Cases per COPY batch.")
        parser.add_argument("--seed", type=int, default=116, help="Random seed (same seed, same data).")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password of every seeded user.")
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="Maintain the secondary indexes row by row during the load instead of dropping them "
            "first and building them once at the end (slower; for comparison).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        n, k = options["cases"], options["contacts_per_case"]
        chosen = HELPLINES[: options["helplines"]]
        if n < len(STATES) * len(chosen) or k < 1:
            raise CommandError(
                f"--cases must be at least {len(STATES) * len(chosen)} (every state in every helpline) "
                "and --contacts-per-case at least 1."
            )
        if Case.objects.exists():
            raise CommandError(
                "The database already holds cases: seed_scale fills an empty database only "
                "(drop and re-create it, then migrate)."
            )
        if Helpline.objects.filter(code__in=[c[0] for c in chosen]).exists():
            raise CommandError("Helplines with the seed's codes exist already: seed an empty database.")
        started = time.monotonic()
        now = timezone.now().timestamp()
        stats = _Stats()
        with transaction.atomic():
            helplines, users = self._reference_data(chosen, options["password"])
            reference_seconds = time.monotonic() - started
            self.stdout.write(
                f"Reference data: {len(helplines)} helplines, {len(users)} users "
                f"({reference_seconds:.1f} s). Encrypting the token pools..."
            )
            pools = self._pools(helplines, chosen)
            with connection.cursor() as cursor:
                # Superuser: no row-history or foreign-key triggers for the rest of this transaction.
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute("SELECT txid_current()")
                (txid,) = cursor.fetchone()
                start_ids = {}
                for table in TABLES:
                    cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # nosec B608  # TABLES
                    start_ids[table] = cursor.fetchone()[0]
            generator = _Generator(
                cases=n,
                contacts_per_case=k,
                batch_size=options["batch_size"],
                seed=options["seed"],
                now=now,
                txid=txid,
                helplines=helplines,
                weights=[c[7] for c in chosen],
                users=users,
                start_ids=start_ids,
                pools=pools,
            )
            with connection.cursor() as cursor:
                # Building an index once from sorted data beats updating it for every row; indexes
                # behind constraints (primary keys, unique constraints) stay and check the load.
                dropped = [] if options["keep_indexes"] else _drop_secondary_indexes(cursor)
            self._load(generator, stats, started)
            if dropped:
                self.stdout.write(f"Building {len(dropped)} secondary indexes...")
                t0 = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
                    for definition in dropped:
                        cursor.execute(definition)
                stats.index_seconds = time.monotonic() - t0
            self._finish(generator, helplines)
        commit_done = time.monotonic()
        with connection.cursor() as cursor:
            for table in (*TABLES, "cases_casereferencecounter", "helpline_auditchainhead"):
                cursor.execute(f"ANALYZE {table}")
        analyzed = time.monotonic()
        self._report(stats, started, commit_done, analyzed)

    # --- reference data (ORM, a few hundred rows) ------------------------------------------------

    def _reference_data(
        self, chosen: list[tuple], password: str
    ) -> tuple[list[_HelplineData], dict[int, tuple[str, str]]]:
        password_hash = make_password(password)  # hashed once, shared by every seeded user
        result, users = [], {}
        for code, name, country, tz, language, prefix, digits, _ in chosen:
            helpline = Helpline.objects.create(
                code=code, name=name, country=country, timezone=tz, default_language=language
            )
            category_defaults_install(helpline=helpline)
            leaves = list(
                Category.objects.filter(helpline=helpline)
                .exclude(parent_code="")
                .values_list("code", flat=True)
            )
            teams = Team.objects.bulk_create([Team(helpline=helpline, name=t) for t in TEAMS])
            slug = code.lower()
            staff = []
            for t_index, team in enumerate(teams):
                for j in range(OPERATORS_PER_TEAM):
                    number = t_index * OPERATORS_PER_TEAM + j + 1
                    staff.append(
                        User(
                            username=f"{slug}-op{number:02d}",
                            role=Role.OPERATOR,
                            team=team,
                            first_name=f"Operator {number}",
                            last_name=code,
                        )
                    )
                staff.append(
                    User(
                        username=f"{slug}-sup{t_index + 1}",
                        role=Role.SUPERVISOR,
                        team=team,
                        first_name=f"Supervisor {t_index + 1}",
                        last_name=code,
                    )
                )
            staff.append(User(username=f"{slug}-admin", role=Role.ADMIN, first_name="Admin", last_name=code))
            agencies = Agency.objects.bulk_create(
                [
                    Agency(
                        helpline=helpline,
                        code=str(sector).replace("_", "-"),
                        name=f"{sector.label} ({code})",
                        sector=sector,
                        country=country,
                        service_types=services,
                        areas_served=AREAS[:3],
                        notify_email=f"{sector}@{slug}.agency.example",
                    )
                    for sector, services in SECTOR_SERVICES.items()
                ]
            )
            for agency in agencies:
                staff.append(
                    User(
                        username=f"{slug}-{agency.code}",
                        role=Role.AGENCY,
                        agency=agency,
                        first_name=agency.name,
                    )
                )
            for user in staff:
                user.helpline, user.password, user.email = (
                    helpline,
                    password_hash,
                    f"{user.username}@example.org",
                )
            staff = User.objects.bulk_create(staff)
            users.update({u.pk: (u.username, u.role) for u in staff})
            agency_users = {u.agency_id: u.pk for u in staff if u.role == Role.AGENCY}
            numbers = {
                "sms": f"{prefix}{'1' * digits}",
                "voice": f"{prefix}{'1' * digits}",
                "whatsapp": f"whatsapp:{prefix}{'2' * digits}",
            }
            PhoneNumber.objects.bulk_create(
                [PhoneNumber(helpline=helpline, channel=ch, number=num) for ch, num in numbers.items()]
            )
            numbers["chat"] = ""
            result.append(
                _HelplineData(
                    id=helpline.pk,
                    code=helpline.code,
                    tz=zoneinfo.ZoneInfo(tz),
                    numbers=numbers,
                    teams=[t.pk for t in teams],
                    operators={
                        t.pk: [u.pk for u in staff if u.role == Role.OPERATOR and u.team_id == t.pk]
                        for t in teams
                    },
                    supervisors={u.team_id: u.pk for u in staff if u.role == Role.SUPERVISOR},
                    agencies=[(a.pk, agency_users[a.pk], a.service_types, a.sector) for a in agencies],
                    categories=leaves,
                    phones=[],
                )
            )
            # Phone numbers of reporters and senders: tokens and keyed hashes, a small pool.
            rng = random.Random(len(result))  # nosec B311  # synthetic phone numbers, reproducible
            for _ in range(100):
                phone = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
                result[-1].phones.append((encrypt(phone), identifier_hash(phone, region=country)))
        return result, users

    def _pools(self, helplines: list[_HelplineData], chosen: list[tuple]) -> dict[str, list[str]]:
        """Fernet tokens reused across rows (see the module docstring): ~1,000 encryptions."""

        def tokens(texts: list[str], copies: int) -> list[str]:
            return [encrypt(text) for text in texts for _ in range(copies)]

        return {
            "first_name": tokens(FIRST_NAMES, 10),
            "location": tokens([f"House {n}, {a}" for n in range(1, 6) for a in AREAS], 2),
            "note": tokens(NOTES, 15),
            "safe_contact": tokens(["Call after 4 pm; the child answers.", "Through the school nurse."], 20),
            "reporter_name": tokens(["Mary", "John", "Teacher Grace", "Uncle Sam"], 15),
            "summary": tokens(SUMMARIES, 40),
            "body": tokens(BODIES + REPLIES, 25),
            "params": tokens([json.dumps({"Body": b, "NumMedia": "0"}) for b in BODIES], 10),
            "reason": tokens(["Disclosure of abuse at home.", "Needs medical care.", "Unsafe at home."], 15),
            "referral_summary": tokens(["Child needs protection and support.", "Please assess at home."], 20),
            "packet": tokens(
                [json.dumps({"case": "synthetic", "urgency": u}) for u in DEFAULT_RESPONSE_HOURS], 15
            ),
        }

    # --- loading ----------------------------------------------------------------------------------

    def _load(self, generator: _Generator, stats: _Stats, started: float) -> None:
        """The generator thread builds batch i+1 while this thread COPYs batch i."""
        batches: queue.Queue = queue.Queue(maxsize=3)
        stop = threading.Event()
        failure: list[BaseException] = []

        def produce() -> None:
            try:
                for item in generator.batches():
                    while not stop.is_set():
                        try:
                            batches.put(item, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            except BaseException as error:  # handed to the main thread, which re-raises it
                failure.append(error)
            finally:
                batches.put(None)

        producer = threading.Thread(target=produce, name="seed_scale-generator", daemon=True)
        producer.start()
        last_report = time.monotonic()
        try:
            with connection.cursor() as cursor:
                raw = cursor.cursor  # psycopg2's own cursor: copy_expert
                while True:
                    item = batches.get()
                    if item is None:
                        break
                    done, batch = item
                    for table, (text, rows) in batch.items():
                        t0 = time.monotonic()
                        raw.copy_expert(
                            f"COPY {table} ({COLUMNS[table]}) FROM STDIN", io.StringIO(text), size=1 << 20
                        )
                        stats.seconds[table] += time.monotonic() - t0
                        stats.rows[table] += rows
                    if time.monotonic() - last_report > 5 or done == generator.n:
                        last_report = time.monotonic()
                        elapsed = last_report - started
                        total = sum(stats.rows.values())
                        eta = elapsed / done * (generator.n - done) if done else 0
                        self.stdout.write(
                            f"  {done:,}/{generator.n:,} cases, {total:,} rows, "
                            f"{total / elapsed:,.0f} rows/s, {elapsed:.0f} s elapsed, ~{eta:.0f} s to go"
                        )
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    batches.get(timeout=0.1)
            producer.join()
        if failure:
            raise failure[0]

    def _finish(self, generator: _Generator, helplines: list[_HelplineData]) -> None:
        """Counters, chain heads and sequences, so the application carries on where the seed ends."""
        with connection.cursor() as cursor:
            for h in helplines:
                for year, value in h.counters.items():
                    CaseReferenceCounter.objects.update_or_create(
                        helpline_id=h.id, year=year, defaults={"last_value": value}
                    )
                if h.seq:
                    AuditChainHead.objects.update_or_create(
                        chain=h.id, defaults={"last_seq": h.seq, "last_hash": h.last_hash}
                    )
            for table in TABLES:
                last = generator.ids[table] - 1
                if last > 0:
                    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, last])
            cursor.execute("SET LOCAL session_replication_role = origin")

    def _report(self, stats: _Stats, started: float, committed: float, analyzed: float) -> None:
        total_seconds = analyzed - started
        total_rows = sum(stats.rows.values())
        self.stdout.write("")
        self.stdout.write(
            f"{'table':<28}{'rows':>14}{'COPY s':>10}{'rows/s (COPY)':>16}{'rows/s (wall)':>16}"
        )
        for table in TABLES:
            rows, seconds = stats.rows.get(table, 0), stats.seconds.get(table, 0.0)
            self.stdout.write(
                f"{table:<28}{rows:>14,}{seconds:>10.1f}{rows / seconds if seconds else 0:>16,.0f}"
                f"{rows / total_seconds:>16,.0f}"
            )
        self.stdout.write(
            f"{'total':<28}{total_rows:>14,}{sum(stats.seconds.values()):>10.1f}"
            f"{'':>16}{total_rows / total_seconds:>16,.0f}"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {total_rows:,} rows in {total_seconds:.1f} s "
                f"({total_rows / total_seconds:,.0f} rows/s; "
                f"index builds {stats.index_seconds:.1f} s, commit at {committed - started:.1f} s, "
                f"ANALYZE {analyzed - committed:.1f} s)."
            )
        )
