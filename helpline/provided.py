"""What helpline needs from the apps above it, handed down by them at start-up.

helpline is the floor every app stands on and imports none of them. A few of its decisions and
writes still need something an upper app owns: the policy's conditions read case grants and filter
cases, a new helpline gets the default category list, a helpline's due policy names case states and
risk levels. The cases app provides those, once, in its `AppConfig.ready()` (`provide_cases`);
helpline asks `cases_provided()`. Likewise a partner-agency user's agency is kept by the referrals
app (`referrals.AgencyMembership`), which hands down how to read and set it (`provide_agencies`):
the policy's agency rules and the users API ask `agencies_provided()`. The policy still decides
here: only the data comes from above.

Nothing provided fails closed and loudly: `cases_provided()` and `agencies_provided()` raise, so no
rule can be evaluated without it (an error answer, never an allow), and a system check stops
`manage.py check`, `migrate` and the servers at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django.db.models import Model


@dataclass(frozen=True)
class CasesProvided:
    # cases.Case: what the policy's case filters select from.
    case_model: type[Model]
    # cases.CaseAccess: the per-person grants (case, user, kind, revoked_at, expires_at).
    grant_model: type[Model]
    # Run inside helpline_create's transaction: what a new helpline gets (its default categories).
    helpline_created: Callable[[Model], Any]
    # A helpline's due policy: the states that have an automatic due date, and the risk levels.
    due_states: frozenset[str]
    risk_levels: tuple[str, ...]
    # A helpline's category codes (by id): what its label overrides may name (helpline.labels).
    category_codes: Callable[[int], Iterable[str]]


_cases: CasesProvided | None = None


def provide_cases(provided: CasesProvided) -> None:
    global _cases
    _cases = provided


def cases_provided() -> CasesProvided:
    if _cases is None:
        raise ImproperlyConfigured("The cases app is not installed: helpline's policy has no case data.")
    return _cases


@dataclass(frozen=True)
class AgenciesProvided:
    # referrals.Agency: what the users API's `agency` field names.
    agency_model: type[Model]
    # The agency a person works for, or None (helpline staff); read once per user object.
    agency_of: Callable[[Model], Model | None]
    # Inside user_create / user_update's transaction: the person now works for `agency` (None: for
    # no agency). Raises django's ValidationError({"agency": ...}) for a combination that cannot be.
    membership_set: Callable[[Model, Model | None], None]
    # For lists of people: the related path that loads each one's agency in the list's own query.
    user_related: str


_agencies: AgenciesProvided | None = None


def provide_agencies(provided: AgenciesProvided) -> None:
    global _agencies
    _agencies = provided


def agencies_provided() -> AgenciesProvided:
    if _agencies is None:
        raise ImproperlyConfigured("The referrals app is not installed: nobody can belong to an agency.")
    return _agencies


def missing() -> list[str]:
    """What no app has provided (the start-up check lists these)."""
    return [
        name
        for name, provided in (
            ("cases (add 'cases' to INSTALLED_APPS)", _cases),
            ("agencies (add 'referrals' to INSTALLED_APPS)", _agencies),
        )
        if provided is None
    ]
