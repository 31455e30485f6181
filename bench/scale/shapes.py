"""What the synthetic data looks like: the helplines, the distributions of states, risks, channels
and the rest, and the plain texts behind the encrypted columns' token pools."""

import math
import random
from typing import Any

from referrals.models import AgencySector

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


def weighted(pairs: tuple[tuple[Any, float], ...]) -> tuple[list[Any], list[float]]:
    values = [v for v, _ in pairs]
    total, acc, cumulative = sum(w for _, w in pairs), 0.0, []
    for _, w in pairs:
        acc += w
        cumulative.append(acc / total)
    return values, cumulative


def pick(rng: random.Random, table: tuple[list[Any], list[float]]) -> Any:
    values, cumulative = table
    x = rng.random()
    for value, edge in zip(values, cumulative, strict=True):
        if x < edge:
            return value
    return values[-1]
