"""Every write about teams: create, rename, retire or reactivate, the round-robin setting, and the
round-robin's pick of the next operator. One transaction each, its audit entry included.

A retired team (`is_active` false) keeps its cases and its history; it receives no new members
(helpline.services.user_create/user_update) and no new cases (cases.services). It can be retired
only once nobody active is in it and it is not the helpline's intake team, so retiring never
strands a person or the intake queue; an administrator may reactivate it."""

from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied, ValidationError

from . import policy
from .audit import audit_record, diff
from .errors import Conflict
from .models import Helpline, Team, User
from .vocabulary import AuditAction, PolicyAction

TEAM_FIELDS = ("name", "is_active", "auto_assign")


def _snapshot(team: Team) -> dict[str, Any]:
    return {name: getattr(team, name) for name in TEAM_FIELDS}


def _may_manage(actor: User, team: Team) -> None:
    if not policy.can(actor, PolicyAction.TEAM_MANAGE, team):
        raise PermissionDenied(_("Only administrators of the helpline manage its teams."))


def _name_free(team: Team) -> None:
    # Letter case folded: "Night shift" and "night shift" would be one team to the people using them.
    taken = Team.objects.filter(helpline_id=team.helpline_id, name__iexact=team.name).exclude(pk=team.pk)
    if taken.exists():
        raise ValidationError({"name": [_("The helpline has a team by this name already.")]}, code="unique")


def team_create(*, actor: User, helpline: Helpline, name: str, auto_assign: bool = False) -> Team:
    team = Team(helpline=helpline, name=name, auto_assign=auto_assign)
    _may_manage(actor, team)
    with transaction.atomic():
        _name_free(team)
        team.full_clean()
        team.save()
        audit_record(
            actor=actor,
            action=AuditAction.TEAM_CREATE,
            obj=team,
            helpline=helpline,
            changes=diff({}, _snapshot(team)),
        )
    return team


def team_update(*, actor: User, team: Team, **fields: Any) -> Team:
    """Renames a team, turns its round-robin on or off, retires it (`is_active` false) or
    reactivates it. 409 when retiring a team that still has active members or receives the
    helpline's intake cases."""
    unknown = set(fields) - set(TEAM_FIELDS)
    if unknown:
        refused = _("This field cannot be changed here.")
        raise ModelValidationError({name: refused for name in sorted(unknown)})
    _may_manage(actor, team)
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        before = _snapshot(locked)
        retiring = fields.get("is_active") is False and locked.is_active
        if retiring:
            if User.objects.filter(team=locked, is_active=True).exists():
                raise Conflict(
                    _("The team still has active members: move them to another team first."),
                    code="team_has_members",
                )
            if Helpline.objects.filter(intake_team=locked).exists():
                raise Conflict(
                    _("The team receives the helpline's new intake cases: choose another intake team first."),
                    code="team_receives_intake",
                )
            locked.retired_at = timezone.now()
        elif fields.get("is_active") is True and not locked.is_active:
            locked.retired_at = None
        for name, value in fields.items():
            setattr(locked, name, value)
        if "name" in fields:
            _name_free(locked)
        locked.full_clean()
        locked.save()
        audit_record(
            actor=actor,
            action=AuditAction.TEAM_UPDATE,
            obj=locked,
            helpline=locked.helpline_id,
            changes=diff(before, _snapshot(locked)),
        )
    return locked


def team_next_assignee(*, team_id: int, case: Any) -> User | None:
    """The team's next operator for a new intake case, in turn, or None (round-robin off, the team
    retired, or no active operator in it). Takes the team's row lock in the caller's transaction
    and moves the turn on, so concurrent intakes never pick the same turn twice: each waits for the
    one before it to commit. Deactivated people are skipped; who may receive is the policy's rule."""
    team = Team.objects.select_for_update().filter(pk=team_id, is_active=True, auto_assign=True).first()
    if team is None:
        return None
    members = [
        user
        for user in User.objects.filter(team=team, is_active=True).order_by("pk")
        if policy.can(user, PolicyAction.CASE_AUTO_ASSIGN_RECEIVE, case)
    ]
    if not members:
        return None
    after = team.last_assigned_to_id or 0
    chosen = next((user for user in members if user.pk > after), members[0])
    Team.objects.filter(pk=team.pk).update(last_assigned_to=chosen)
    return chosen
