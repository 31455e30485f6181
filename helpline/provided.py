"""What helpline needs from the apps above it, handed down by them at start-up.

helpline is the floor every app stands on and imports none of them. A few of its decisions and
writes still need something an upper app owns: the policy's conditions read case grants and filter
cases, a new helpline gets the default category list, a helpline's due policy names case states and
risk levels. The cases app provides those, once, in its `AppConfig.ready()` (`provide_cases`);
helpline asks `cases_provided()`. The policy still decides here: only the data comes from above.

Nothing provided fails closed and loudly: `cases_provided()` raises, so no rule can be evaluated
without it (an error answer, never an allow), and a system check stops `manage.py check`,
`migrate` and the servers at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
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


_cases: CasesProvided | None = None


def provide_cases(provided: CasesProvided) -> None:
    global _cases
    _cases = provided


def cases_provided() -> CasesProvided:
    if _cases is None:
        raise ImproperlyConfigured("The cases app is not installed: helpline's policy has no case data.")
    return _cases


def missing() -> list[str]:
    """What no app has provided (the start-up check lists these)."""
    return [] if _cases is not None else ["cases (add 'cases' to INSTALLED_APPS)"]
