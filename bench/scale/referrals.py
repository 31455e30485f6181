"""Referrals of a referred case, with the consent they rely on: the part of the generator that
writes referrals."""

import random
from typing import Any

from referrals.models import DEFAULT_RESPONSE_HOURS, AgencySector

from .copy_text import N, ts
from .reference import HelplineData
from .shapes import DAY, OUTCOMES, pick


class ReferralRows:
    """Mixed into Generator, whose state it uses."""

    rng: random.Random
    now: float
    pools: dict[str, list[str]]
    tables: dict[str, tuple[list[Any], list[float]]]

    def _referrals(
        self,
        h: HelplineData,
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
                ts(given),
                "{information_sharing,referral}",
                str(operator),
                ts(given + 30),
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
                ref_state = pick(rng, self.tables["closed_referral"])
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
                    rng.choice(p["platform"]) if hotline and keep else "",
                    "vital_interests" if emergency else "consent",
                    N if emergency else str(consent_id),
                    "",
                    rng.choice(p["packet"]) if keep and sent is not None else "",
                    N,
                    str(operator),
                    ts(refer_at),
                    N,
                    ts(sent) if sent is not None else N,
                    ts(respond_by) if respond_by is not None else N,
                    ts(responded) if responded is not None else N,
                    str(responded_by) if responded_by else N,
                    ts(closed) if closed is not None else N,
                    str(closed_by) if closed_by else N,
                    rng.choice(p["rejection_reason"]) if ref_state == "rejected" and keep else "",
                    rng.choice(p["withdrawal_reason"]) if ref_state == "withdrawn" and keep else "",
                    rng.choice(OUTCOMES) if ref_state == "completed" else "",
                    "",
                ],
            )
