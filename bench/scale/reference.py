"""Reference data, through the ORM (a few hundred rows): helplines with their categories, teams,
staff, agencies and numbers; and the pools of Fernet tokens the encrypted columns reuse."""

import json
import random
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password

from cases.models import Category
from cases.services import category_defaults_install
from channels_sms.models import PhoneNumber
from helpline.audit import GENESIS
from helpline.crypto import encrypt, identifier_hash
from helpline.models import Helpline, Role, Team, User
from referrals.models import DEFAULT_RESPONSE_HOURS, Agency, AgencyMembership

from .shapes import (
    AREAS,
    BODIES,
    CLOSURE_REASONS,
    DISMISS_REASON,
    FIRST_NAMES,
    NOTES,
    OPERATORS_PER_TEAM,
    REPLIES,
    SECTOR_SERVICES,
    SUMMARIES,
    TEAMS,
)


@dataclass
class HelplineData:
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
    language: str  # its default: the language of the contacts its numbers receive
    seq: int = 0
    last_hash: str = GENESIS
    counters: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def reference_data(
    chosen: list[tuple], password: str
) -> tuple[list[HelplineData], dict[int, tuple[str, str]]]:
    password_hash = make_password(password)  # hashed once, shared by every seeded user
    result, users = [], {}
    for code, name, country, tz, language, prefix, digits, _ in chosen:
        helpline = Helpline.objects.create(
            code=code, name=name, country=country, timezone=tz, default_language=language
        )
        category_defaults_install(helpline=helpline)
        leaves = list(
            Category.objects.filter(helpline=helpline).exclude(parent_code="").values_list("code", flat=True)
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
        # The agency users come last, one per agency in order (seed_scale's one transaction keeps
        # the database's rule that an agency user works for an agency).
        memberships = AgencyMembership.objects.bulk_create(
            AgencyMembership(user=user, agency=agency)
            for user, agency in zip(staff[-len(agencies) :], agencies, strict=True)
        )
        users.update({u.pk: (u.username, u.role) for u in staff})
        agency_users = {m.agency_id: m.user_id for m in memberships}
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
            HelplineData(
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
                language=language,
            )
        )
        # Phone numbers of reporters and senders: tokens and keyed hashes, a small pool.
        rng = random.Random(len(result))  # nosec B311  # synthetic phone numbers, reproducible
        for _ in range(100):
            phone = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
            result[-1].phones.append((encrypt(phone), identifier_hash(phone, region=country)))
    return result, users


def token_pools() -> dict[str, list[str]]:
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
        "closure_reason": tokens(CLOSURE_REASONS, 10),
        "dismiss_reason": tokens([DISMISS_REASON], 10),
        "platform": tokens(["Example social network"], 5),
        "rejection_reason": tokens(["The service is not available in the child's area."], 10),
        "withdrawal_reason": tokens(["Referred elsewhere."], 10),
        "referral_summary": tokens(["Child needs protection and support.", "Please assess at home."], 20),
        "packet": tokens(
            [json.dumps({"case": "synthetic", "urgency": u}) for u in DEFAULT_RESPONSE_HOURS], 15
        ),
    }
