"""Handing a case over to a colleague or a team, with a note the receiver reads in the case."""

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied, ValidationError

from helpline import policy
from helpline.audit import audit_record, diff
from helpline.errors import Conflict
from helpline.models import Team, User
from helpline.vocabulary import AuditAction, PolicyAction
from notifications.services import notify_case_transferred

from ..models import Case, Note
from ..workflow import CaseState
from .access import grant_need_to_know
from .contacts import note_create


@dataclass(frozen=True)
class Transfer:
    """A handover done: the case as it is now, the handover note, and who received it (the person,
    or the team's active staff): whom to notify, once the transaction has committed."""

    case: Case
    note: Note
    receivers: list[User]

    @property
    def receiver_ids(self) -> list[int]:
        return [user.pk for user in self.receivers]


def _refuse(field: str, detail: str, code: str) -> ValidationError:
    return ValidationError({field: [detail]}, code=code)


def _on_need_to_know(user: User, case: Case) -> bool:
    return policy.CONDITIONS["has_need_to_know"].check(user, case)


def case_transfer(
    *, actor: User, case: Case, note: str, to_user: User | None = None, to_team: Team | None = None
) -> Transfer:
    """Hands a case (already in the caller's scope) to one active colleague of its helpline who
    works cases (`to_user`: assigned to them, the case moving to their team), or to a team that is
    not retired (`to_team`: the team's queue, assigned to nobody). The note is written as a case
    note (encrypted) in the same transaction as the change and its audit entry.

    A restricted case goes only to a person: one on its need-to-know list, or, when a supervisor
    hands it over, one the supervisor adds to the list with the handover. 403 when the caller may
    not hand this case over; 409 for a closed case; 400 for a receiver who cannot take it."""
    if (to_user is None) == (to_team is None):
        raise _refuse("non_field_errors", _("Name either to_user or to_team, not both."), "one_receiver")
    if not note.strip():
        raise _refuse("note", _("Say what the receiver needs to know."), "blank")
    if not policy.can(actor, PolicyAction.CASE_TRANSFER, case):
        raise PermissionDenied(_("You may hand over only cases assigned to you (supervisors: any case)."))
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        # Decided again on the locked row: a concurrent handover may have moved it on.
        if not policy.can(actor, PolicyAction.CASE_TRANSFER, locked):
            raise PermissionDenied(_("You may hand over only cases assigned to you (supervisors: any case)."))
        if locked.state == CaseState.CLOSED:
            raise Conflict(
                _("A closed case cannot be handed over; a supervisor can reopen it."), code="case_closed"
            )
        before = {"assigned_to": locked.assigned_to_id, "team": locked.team_id}
        added: list[int] = []
        if to_user is not None:
            if not policy.can(to_user, PolicyAction.CASE_RECEIVE, locked):
                raise _refuse(
                    "to_user", _("Cases are handed over to active staff of their helpline."), "cannot_receive"
                )
            if to_user.pk == locked.assigned_to_id:
                raise _refuse(
                    "to_user", _("The case is assigned to this person already."), "already_assigned"
                )
            if locked.restricted and not _on_need_to_know(to_user, locked):
                if not policy.can(actor, PolicyAction.CASE_RESTRICT, locked):
                    raise _refuse(
                        "to_user",
                        _(
                            "This person is not on the restricted case's need-to-know list; a "
                            "supervisor can hand it over to them (and add them to it)."
                        ),
                        "not_on_need_to_know",
                    )
                grant_need_to_know(case=locked, users=[to_user], granted_by=actor)
                added.append(to_user.pk)
            locked.assigned_to = to_user
            team = Team.objects.filter(pk=to_user.team_id, is_active=True).first()
            if team is not None:
                locked.team = team  # the case follows the person into their team
            receivers = [to_user]
        else:
            team = Team.objects.select_for_update().get(pk=to_team.pk)  # ordered against retiring it
            if team.helpline_id != locked.helpline_id:
                # The answer DRF gives for a team that does not exist (its own message, so its own
                # translations): another helpline's team must read the same.
                raise _refuse(
                    "to_team",
                    _('Invalid pk "{pk_value}" - object does not exist.').format(pk_value=team.pk),
                    "does_not_exist",
                )
            if not team.is_active:
                raise _refuse("to_team", _("This team is retired."), "retired")
            if locked.restricted:
                raise _refuse(
                    "to_team",
                    _(
                        "A restricted case is handed over to a person on its need-to-know list, "
                        "not to a team."
                    ),
                    "restricted",
                )
            if team.pk == locked.team_id and locked.assigned_to_id is None:
                raise _refuse(
                    "to_team", _("The case waits in this team's queue already."), "already_assigned"
                )
            locked.team, locked.assigned_to = team, None
            receivers = [
                member
                for member in User.objects.filter(team=team, is_active=True).order_by("pk")
                if policy.can(member, PolicyAction.CASE_RECEIVE, locked)
            ]
        locked.save(update_fields=["assigned_to", "team", "updated_at"])
        written = note_create(actor=actor, case=locked, body=note)
        audit_record(
            actor=actor,
            action=AuditAction.CASE_TRANSFER,
            obj=locked,
            case_id=locked.pk,
            changes=diff(before, {"assigned_to": locked.assigned_to_id, "team": locked.team_id}),
            extra={
                "to_user": to_user.pk if to_user is not None else None,
                "to_team": to_team.pk if to_team is not None else None,
                "note": written.pk,
                "need_to_know_added": added,
            },
        )
        # In this transaction: the handover and its notifications (outbox rows) commit together.
        notify_case_transferred(case=locked, actor=actor, to_user=to_user, to_team=to_team)
    return Transfer(case=locked, note=written, receivers=receivers)
