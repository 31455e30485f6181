"""One engine for every workflow transition (a case's, a referral's): what the two workflows share,
written once. The apps' services are thin callers that pass what differs.

The steps, in order: check the transition's name and required fields; lock the row (racing
transitions serialise on it: the loser sees the winner's state); a caller's own check (a referral's
`expected_state`); `has_transition` from the current state (409); its conditions (409); the actor's
permission (403). A refusal is written to the audit log as DENIED, committed, and then raised.
Otherwise the transition is applied, the row saved, the audit entry written and the after-effects
run, all in the same transaction."""

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from .audit import audit_record
from .errors import Conflict
from .models import AuditOutcome, User
from .vocabulary import AuditAction


def transition_params(
    *,
    name: str,
    fields: Mapping[str, Mapping[str, bool]],
    params: Mapping[str, Any],
    unknown_detail: str,
    required_detail: str,
) -> dict[str, Any]:
    """The parameters a transition takes (`fields`: per transition, each field and whether it is
    required), others dropped. 400 for an unknown name or a missing required field."""
    if name not in fields:
        raise ValidationError({"name": unknown_detail})
    wanted = fields[name]
    missing = [f for f, is_required in wanted.items() if is_required and not params.get(f)]
    if missing:
        raise ValidationError({f: required_detail for f in missing})
    return {f: params[f] for f in wanted if f in params}


def available_transitions(obj: models.Model, user: User) -> list[str]:
    """Names of the transitions this user may take on this object now through the transitions
    endpoint (one with an endpoint of its own, `custom={"own_endpoint": ...}`, is not offered)."""
    return [
        t.name for t in obj.get_available_user_state_transitions(user) if not t.custom.get("own_endpoint")
    ]


def state_conflict(obj: models.Model, user: User, detail: str, *, code: str) -> Conflict:
    """A 409 that tells the client the current state and what it may do from there."""
    return Conflict(
        detail,
        code=code,
        extra={"state": obj.state, "available_transitions": available_transitions(obj, user)},
    )


def transition_run(
    *,
    actor: User,
    locking: models.QuerySet,
    pk: int,
    name: str,
    params: dict[str, Any],
    action: AuditAction,
    audit_target: Callable[[Any], dict[str, Any]],
    snapshot: Callable[[Any], Any],
    changes: Callable[[Any, Any], dict[str, Any]],
    audit_extra: Callable[[Any, dict[str, Any]], dict[str, Any]],
    forbidden_detail: str,
    condition_messages: Mapping[str, str] | None = None,
    precheck: Callable[[Any], Exception | None] | None = None,
    prepare: Callable[[Any, dict[str, Any]], None] | None = None,
    after: Callable[[Any], None] | None = None,
) -> Any:
    """Takes transition `name` on the row `pk` of `locking` (a queryset that locks it).

    `action`: the audit action, allowed and denied alike; `audit_target(obj)`: audit_record's
    case_id/helpline arguments. `snapshot(obj)` before, `changes(before, obj)` after: the entry's
    changes. `audit_extra(obj, params)`: its extra. `precheck(obj)`: a refusal of the caller's
    own, checked first. `prepare(obj, params)` may add parameters before the transition runs;
    `after(obj)` runs its after-effects (in the transaction, after the audit entry)."""
    refusal: Exception | None = None
    failed: list[str] = []
    with transaction.atomic():
        locked = locking.select_for_update(of=("self",)).get(pk=pk)
        before = snapshot(locked)
        method = getattr(locked, name)
        meta = method._django_fsm
        state = locked.state
        refusal = precheck(locked) if precheck is not None else None
        if refusal is not None:
            pass
        elif not meta.has_transition(state):
            refusal = state_conflict(
                locked,
                actor,
                _("Transition %(name)r is not possible from state %(state)r.")
                % {"name": name, "state": state},
                code="transition_not_allowed",
            )
        elif not meta.conditions_met(locked, state):
            failed = [c.__name__ for c in meta.get_transition(state).conditions if not c(locked)]
            messages = condition_messages or {}
            refusal = state_conflict(
                locked,
                actor,
                " ".join(messages.get(c, c) for c in failed),
                code="transition_conditions_not_met",
            )
        elif not meta.has_transition_perm(locked, state, actor):
            refusal = PermissionDenied(forbidden_detail)
        if refusal is not None:
            audit_record(
                actor=actor,
                action=action,
                obj=locked,
                outcome=AuditOutcome.DENIED,
                # The refusal's code and failed conditions: stable, whatever language it was told in.
                extra={
                    "state": state,
                    "refusal": refusal_code(refusal),
                    **({"conditions": failed} if failed else {}),
                },
                **audit_target(locked),
            )
        else:
            if prepare is not None:
                prepare(locked, params)
            method(by=actor, **params)
            locked.save()
            audit_record(
                actor=actor,
                action=action,
                obj=locked,
                changes=changes(before, locked),
                extra=audit_extra(locked, params),
                **audit_target(locked),
            )
            if after is not None:
                after(locked)
    # Outside the transaction: the refusal's audit entry is committed.
    if refusal is not None:
        raise refusal
    return locked


def refusal_code(refusal: Exception) -> str:
    """What an audit entry records of a refusal: its code, the same in every language."""
    codes = refusal.get_codes() if hasattr(refusal, "get_codes") else "refused"
    return codes if isinstance(codes, str) else "refused"
