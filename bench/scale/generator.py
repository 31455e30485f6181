"""The row generator: cases in creation order, each with its life (transitions, closure,
anonymisation), escalations and audit entries; contacts and messages come from ConversationRows,
referrals from ReferralRows. Pure Python: it runs in its own thread while the main thread COPYs."""

import heapq
import json
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from cases import search
from cases.workflow import DEFAULT_DUE_MINUTES
from helpline.audit import entry_hash
from helpline.crypto import decrypt
from helpline.vocabulary import AuditAction

from .conversations import ConversationRows
from .copy_text import TABLES, Batch, N, array, esc, ts
from .reference import HelplineData
from .referrals import ReferralRows
from .shapes import (
    AGE_RANGES,
    AREAS,
    CHANNELS,
    CLOSED_REFERRAL_STATES,
    DAY,
    DISMISSED_SHARE,
    FLAGS,
    GENDERS,
    MESSAGING,
    RELATIONS,
    RETENTION_YEARS,
    RISKS,
    SPAN_YEARS,
    STATE_BY_AGE,
    STATES,
    YEAR,
    pick,
    weighted,
)


class Entry:
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


class Generator(ConversationRows, ReferralRows):
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
        helplines: list[HelplineData],
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
        self.helpline_cumulative = weighted(tuple(zip(range(len(helplines)), weights, strict=True)))
        self.users = users
        self.ids = dict(start_ids)
        self.pools = pools
        self.clear: dict[str, str] = {}  # pooled token -> its text (for the search index)
        self.name_tokens: dict[tuple[str, str], set[int]] = {}
        self.pending: list[tuple[float, int, int, tuple]] = []  # audit entries due later (heap)
        self.tie = 0
        self.buffers: dict[str, list[str]] = {t: [] for t in TABLES}
        # A non-dismissed case's mean contact count, so the overall mean is K.
        closed_share = 0.95
        dismissed = closed_share * DISMISSED_SHARE
        self.other_mean = max(1.0, (contacts_per_case - dismissed) / (1 - dismissed))
        self.tables = {
            name: weighted(pairs)
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
            (age * DAY, weighted(tuple(zip(STATES, w, strict=True)))) for age, w in STATE_BY_AGE
        ]

    # --- plumbing ---------------------------------------------------------------------------------

    def _next_id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _search_tokens(self, first_name: str, reporter_name: str, phone: str, reference: str) -> list[str]:
        """The case's search index (cases.search), as the case services write it: the names'
        entries cached per pooled pair (the pools are small), the reference's and number's per case."""
        names = (first_name, reporter_name)
        cached = self.name_tokens.get(names)
        if cached is None:
            cached = self.name_tokens[names] = search.name_tokens(self._clear(t) for t in names)
        tokens = {*cached, search.reference_token(reference)}
        if phone:
            tokens.add(search.phone_token(self._clear(phone)))
        return [str(t) for t in sorted(tokens)]

    def _clear(self, token: str) -> str:
        if not token:
            return ""
        if token not in self.clear:
            self.clear[token] = decrypt(token)
        return self.clear[token]

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
        action: AuditAction,
        case_id: int,
        changes: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        h = self.helplines[helpline_index]
        e = Entry()
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
                esc(json.dumps(changes)),
                "allowed",
                "",
                N,
                "",
                esc(json.dumps(e.extra)),
            ],
        )

    # --- cases ------------------------------------------------------------------------------------

    def _state_for(self, age: float) -> str:
        for max_age, table in self.state_tables:
            if age < max_age:
                return pick(self.rng, table)
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
            hi = pick(rng, self.helpline_cumulative)
            state = self._state_for(now - created)
        self._emit_pending(created)
        h = self.helplines[hi]
        case_id = self._next_id("cases_case")
        team = rng.choice(h.teams)
        operators = h.operators[team]
        dismissed = state == "closed" and rng.random() < DISMISSED_SHARE
        first_channel = pick(rng, self.tables["channel"])
        # Messages from a new sender open the case themselves (no operator); the rest an operator.
        by_system = first_channel in MESSAGING and rng.random() < 0.8
        creator = None if by_system else rng.choice(operators)
        risk = "unassessed" if (state == "intake" and rng.random() < 0.7) else pick(rng, self.tables["risk"])
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
        relation = pick(rng, self.tables["relation"])
        phone_token, phone_hash = rng.choice(h.phones) if rng.random() < 0.6 else ("", "")
        personal = anonymised_at is None and not dismissed
        age_range = pick(rng, self.tables["age"])
        child_age = ""
        if personal and age_range not in ("unknown", "18+") and rng.random() < 0.6:
            low, high = {"0-4": (0, 4), "5-9": (5, 9), "10-13": (10, 13), "14-17": (14, 17)}[age_range]
            child_age = str(rng.randint(low, high))
        flags = rng.sample(FLAGS, 1) if rng.random() < 0.15 else []
        updated = max(state_changed, anonymised_at or 0)
        year = datetime.fromtimestamp(created, h.tz).year
        h.counters[year] += 1
        reference = f"{h.code}-{year}-{h.counters[year]:06d}"
        first_name = rng.choice(p["first_name"]) if personal and rng.random() < 0.6 else ""
        reporter_name = (
            rng.choice(p["reporter_name"])
            if personal and relation != "child_self" and rng.random() < 0.4
            else ""
        )
        self._row(
            "cases_case",
            [
                str(case_id),
                str(h.id),
                reference,
                state,
                risk,
                array(categories),
                first_name,
                child_age or N,
                age_range,
                pick(rng, self.tables["gender"]),
                rng.choice(AREAS) if rng.random() < 0.5 else "",
                rng.choice(p["location"]) if personal and rng.random() < 0.3 else "",
                "",
                rng.choice(p["note"]) if personal and rng.random() < 0.3 else "",
                array(flags),
                rng.choice(p["safe_contact"]) if personal and rng.random() < 0.2 else "",
                relation,
                reporter_name,
                phone_token if personal else "",
                phone_hash if personal else "",
                str(assignee) if assignee else N,
                str(team),
                ts(state_changed),
                ts(due) if due is not None else N,
                ts(overdue) if overdue is not None else N,
                "f",
                (
                    rng.choice(p["dismiss_reason"] if dismissed else p["closure_reason"])
                    if closed_at and anonymised_at is None
                    else ""
                ),
                ts(closed_at) if closed_at else N,
                ts(anonymised_at) if anonymised_at else N,
                str(creator) if creator else N,
                ts(created),
                ts(updated),
                array(
                    self._search_tokens(first_name, reporter_name, phone_token if personal else "", reference)
                )
                if anonymised_at is None
                else "{}",
            ],
        )
        self._audit(
            hi,
            created,
            creator,
            AuditAction.CASE_CREATE,
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
                    AuditAction(f"case.transition.{name}"),
                    case_id,
                    {"state": {"before": before, "after": after}},
                    {"transition": name},
                ),
            )
        if anonymised_at:
            self._audit_later(
                anonymised_at,
                hi,
                (
                    None,
                    AuditAction.CASE_ANONYMISE,
                    case_id,
                    {"anonymised": {"before": None, "after": True}},
                    {},
                ),
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
                    ts(due),
                    state,
                    risk,
                    ts(overdue),
                    str(supervisor) if acknowledged else N,
                    ts(min(overdue + 3600, now)) if acknowledged else N,
                ],
            )
