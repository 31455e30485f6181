"""Who may do what is decided in helpline/policy.py only: no other module of the apps branches on a
user's role to grant or scope access (each such decision is a rule there, so docs/permissions.md
shows it). The few role checks that are not access decisions are listed here with why."""

import re
from pathlib import Path

from django.conf import settings

APPS = ("helpline", "cases", "referrals", "channels_sms", "reports", "demo")
ROLE_CHECK = re.compile(
    r"\.role\s*(==|!=|in\b|not\s+in\b)|\bis_(operator|supervisor|agency_user|helpline_admin)\b"
)

# (file, the line's code): role checks that decide no access, with their reason.
NOT_ACCESS_DECISIONS = {
    # Validity of a user row (an agency user has an agency, staff a helpline): data invariants.
    ("referrals/memberships.py", "if user.role == Role.AGENCY and agency is None:"),
    ("referrals/memberships.py", "if user.role != Role.AGENCY and agency is not None:"),
    (
        "helpline/models.py",
        "if self.role in (Role.OPERATOR, Role.SUPERVISOR, Role.AGENCY) and not self.helpline_id:",
    ),
    # Who must sign in with a second factor: authentication strength, not what they may do.
    ("helpline/sign_in.py", "return user.role in SECOND_FACTOR_ROLES"),
    ("demo/management/commands/seed_demo.py", "if user.role not in SECOND_FACTOR_ROLES:"),
    (
        "demo/management/commands/seed_demo.py",
        'needing = ", ".join(name for name, user in users.items() if user.role in SECOND_FACTOR_ROLES)',
    ),
    # Who can be assigned a case / be on a need-to-know list: validating the people named, whose
    # access then follows from the policy's case rules.
    ("cases/services/cases.py", "or assignee.role not in (Role.OPERATOR, Role.SUPERVISOR)"),
    ("cases/services/access.py", "if any(u.role not in (Role.OPERATOR, Role.SUPERVISOR) for u in users):"),
    # Which side posts an update on a referral (the policy already allowed the post): the agency
    # answers on accepted referrals, the helpline writes on live ones.
    ("referrals/services.py", "from_agency = actor.role == Role.AGENCY"),
}


def _role_checks() -> set[tuple[str, str]]:
    root = Path(settings.BASE_DIR)
    found = set()
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if "/migrations/" in relative or relative == "helpline/policy.py":
                continue
            for line in path.read_text().splitlines():
                code = line.split("#", 1)[0].strip()
                if ROLE_CHECK.search(code):
                    found.add((relative, code))
    return found


def test_no_module_but_the_policy_decides_access_by_role():
    assert _role_checks() - NOT_ACCESS_DECISIONS == set()


def test_the_listed_exceptions_still_exist():
    # A stale entry would let a new check with the same text through unseen.
    assert NOT_ACCESS_DECISIONS - _role_checks() == set()
