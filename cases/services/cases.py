"""Cases: intake (by staff and from an inbound message), changes and workflow transitions."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as RefusedInput  # keeps its code in the answer

from helpline import crypto, policy
from helpline.audit import audit_record, diff
from helpline.crypto import identifier_hash, normalise_phone
from helpline.errors import Conflict
from helpline.models import Helpline, Role, Team, User
from helpline.teams import team_next_assignee
from helpline.transitions import available_transitions, transition_params, transition_run
from helpline.vocabulary import AuditAction, PolicyAction
from notifications.models import NotificationKind
from notifications.services import notify

from ..models import (
    CASE_PERSONAL_FIELDS,
    CONTACT_PERSONAL_FIELDS,
    AccessKind,
    Case,
    Channel,
    Contact,
    Direction,
)
from ..search import case_tokens
from ..workflow import (
    CONDITION_MESSAGES,
    NON_CASE_CALL_TYPES,
    TRANSITION_FIELDS,
    CaseState,
    RiskLevel,
    next_action_due,
)
from .access import grant_need_to_know, revoke_access
from .categories import validate_categories
from .contacts import contact_create_inbound, contact_update

CASE_EDITABLE_FIELDS = (
    "risk_level",
    "categories",
    "child_first_name",
    "child_age",
    "child_age_range",
    "child_gender",
    "child_area",
    "child_location",
    "child_language",
    "child_details_note",
    "vulnerability_flags",
    "safe_contact",
    "reporter_relation",
    "reporter_name",
    "reporter_phone",
    "assigned_to",
    "team",
    "restricted",
)


def _next_reference(helpline: Helpline, now: datetime) -> str:
    year = now.astimezone(_tz(helpline)).year
    # One statement, so concurrent intakes never share a number.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cases_casereferencecounter (helpline_id, year, last_value) VALUES (%s, %s, 1)
            ON CONFLICT (helpline_id, year)
            DO UPDATE SET last_value = cases_casereferencecounter.last_value + 1
            RETURNING last_value
            """,
            [helpline.pk, year],
        )
        (value,) = cursor.fetchone()
    return f"{helpline.code}-{year}-{value:06d}"


def _tz(helpline: Helpline):
    import zoneinfo

    return zoneinfo.ZoneInfo(helpline.timezone)


def case_snapshot(case: Case) -> dict[str, Any]:
    snapshot = {}
    for name in (*CASE_EDITABLE_FIELDS, "state", "next_action_due_at"):
        field = Case._meta.get_field(name)
        snapshot[name] = getattr(case, field.attname)
    return snapshot


def _with_reporter_phone_hash(fields: dict[str, Any], helpline: Helpline) -> dict[str, Any]:
    """Stores a reporter's number in E.164 form (national numbers read in the helpline's country)
    with its keyed hash beside it, so other cases from the same number can be found."""
    if "reporter_phone" not in fields:
        return fields
    raw = (fields["reporter_phone"] or "").strip()
    if not raw:
        return {**fields, "reporter_phone": "", "reporter_phone_hash": ""}
    try:
        e164 = normalise_phone(raw, region=helpline.country)
    except ValueError:
        raise ValidationError(
            {"reporter_phone": _("Not a phone number: give it with its +country code or as dialled locally.")}
        ) from None
    return {**fields, "reporter_phone": e164, "reporter_phone_hash": identifier_hash(e164)}


def index_for_search(case: Case) -> None:
    """Sets the case's blind index (cases/search.py) from its names, number and reference; called
    before every save of those, in the same transaction."""
    case.search_tokens = case_tokens(
        names=(case.child_first_name, case.reporter_name),
        reference=case.reference,
        phone_e164=case.reporter_phone,
    )


def _check_assignee(helpline_id: int, assignee: User | None, team: Team | None) -> None:
    if assignee is not None and (
        assignee.helpline_id != helpline_id
        or assignee.role not in (Role.OPERATOR, Role.SUPERVISOR)
        or not assignee.is_active
    ):
        raise ValidationError(
            {"assigned_to": _("Cases can only be assigned to active staff of their helpline.")}
        )
    if team is not None and team.helpline_id != helpline_id:
        raise ValidationError({"team": _("The team belongs to another helpline.")})
    if team is not None and not team.is_active:
        # A retired team keeps the cases it has and receives no new ones (helpline.teams).
        raise RefusedInput({"team": [_("This team is retired.")]}, code="retired")


def _intake_team(helpline: Helpline) -> Team | None:
    """The helpline's active intake team, if it has one: read from the table (one query), not
    from the instance, which inbound channels may have kept for a while (channels_sms.selectors)."""
    setting = Helpline.objects.filter(pk=helpline.pk).values("intake_team")
    return Team.objects.filter(pk=Subquery(setting), is_active=True).first()


def _assign_in_turn(case: Case) -> User | None:
    """For a new intake case in a team with round-robin on and nobody assigned: the team's next
    operator, assigned now (helpline.teams.team_next_assignee holds the team's turn)."""
    if case.assigned_to_id is not None or case.team_id is None:
        return None
    chosen = team_next_assignee(team_id=case.team_id, case=case)
    if chosen is not None:
        case.assigned_to = chosen
    return chosen


def _record_auto_assign(case: Case, chosen: User | None) -> None:
    if chosen is None:
        return
    audit_record(
        actor=None,
        action=AuditAction.CASE_AUTO_ASSIGN,
        obj=case,
        case_id=case.pk,
        helpline=case.helpline_id,
        changes={"assigned_to": {"before": None, "after": chosen.pk}},
        extra={"team": case.team_id, "round_robin": True},
    )


def case_create(
    *,
    actor: User,
    call_type: str,
    channel: str = Channel.WALK_IN,
    summary: str = "",
    started_at: datetime | None = None,
    **fields: Any,
) -> Case:
    """Opens a case at intake with its first contact (an operator recording a walk-in, say)."""
    if not policy.can(actor, PolicyAction.CASE_CREATE):
        raise PermissionDenied(_("Only helpline staff open cases."))
    helpline = actor.helpline
    now = timezone.now()
    with transaction.atomic():
        validate_categories(helpline.pk, fields.get("categories") or [])
        _check_assignee(helpline.pk, fields.get("assigned_to"), fields.get("team"))
        fields = _with_reporter_phone_hash(fields, helpline)
        case = Case(helpline=helpline, created_by=actor, state_changed_at=now, **fields)
        if case.restricted and not policy.can(actor, PolicyAction.CASE_RESTRICT, case):
            raise PermissionDenied(_("Only supervisors restrict cases."))
        # Where a case nobody was named for goes: the creator's team (they are dealing with the
        # contact), else the helpline's intake team, whose round-robin then applies; as it does
        # for a team named at creation. The turn is taken after the reference number, in the
        # order inbound intake takes them (no lock-order deadlock between the two).
        in_turn = fields.get("team") is not None and case.assigned_to_id is None
        if case.team_id is None and case.assigned_to_id is None:
            if actor.team_id is not None:
                case.team_id = actor.team_id
            else:
                intake_team = _intake_team(helpline)
                case.team = intake_team
                in_turn = intake_team is not None
        case.reference = _next_reference(helpline, now)
        chosen = _assign_in_turn(case) if in_turn else None
        case.next_action_due_at = next_action_due(
            helpline.due_policy, CaseState.INTAKE, case.risk_level, now=now
        )
        case.full_clean(exclude=["reference", "state"])
        index_for_search(case)
        case.save()
        contact = Contact(
            helpline=helpline,
            case=case,
            channel=channel,
            direction=Direction.INBOUND,
            call_type=call_type,
            summary=summary,
            started_at=started_at or now,
            created_by=actor,
        )
        contact.full_clean()
        contact.save()
        if case.restricted:
            # Whoever restricts a case stays on its need-to-know list.
            grant_need_to_know(case=case, users=[actor], granted_by=actor)
        audit_record(
            actor=actor,
            action=AuditAction.CASE_CREATE,
            obj=case,
            case_id=case.pk,
            changes=diff({}, case_snapshot(case), personal=CASE_PERSONAL_FIELDS),
            extra={"reference": case.reference},
        )
        _record_auto_assign(case, chosen)
        audit_record(
            actor=actor,
            action=AuditAction.CONTACT_CREATE,
            obj=contact,
            case_id=case.pk,
            changes=diff(
                {},
                {"channel": channel, "call_type": call_type, "summary": summary},
                personal=CONTACT_PERSONAL_FIELDS,
            ),
        )
        if case.risk_level == RiskLevel.CRITICAL:
            notify(kind=NotificationKind.CRITICAL_CASE, case=case, actor=actor)
    return case


def case_create_from_inbound(
    *, helpline: Helpline, channel: str, started_at: datetime, reporter_phone: str = "", language: str = ""
) -> tuple[Case, Contact]:
    """The system opens a case at intake for a message from a sender with no open case (actor None:
    nobody at the helpline did it), the child's language that of the number or chat it came
    through. The contact is left unclassified for an operator. Returns the case and its first
    contact."""
    now = timezone.now()
    # Called inside the inbound processing transaction: no savepoint (any failure aborts it all).
    with transaction.atomic(savepoint=False):
        fields = _with_reporter_phone_hash({"reporter_phone": reporter_phone}, helpline)
        case = Case(helpline=helpline, state_changed_at=now, child_language=language, **fields)
        case.reference = _next_reference(helpline, now)
        # The helpline's intake team receives it, and its round-robin (if on) assigns it.
        case.team = _intake_team(helpline)
        chosen = _assign_in_turn(case)
        case.next_action_due_at = next_action_due(
            helpline.due_policy, CaseState.INTAKE, case.risk_level, now=now
        )
        # Field values only: the system built this row from a locked event, and the database
        # enforces its keys and constraints anyway (each check would be one more round trip).
        case.full_clean(exclude=["reference", "state", "helpline"], validate_constraints=False)
        index_for_search(case)
        case.save()
        audit_record(
            actor=None,
            action=AuditAction.CASE_CREATE,
            obj=case,
            case_id=case.pk,
            helpline=helpline.pk,
            changes=diff({}, case_snapshot(case), personal=CASE_PERSONAL_FIELDS),
            extra={"reference": case.reference, "channel": channel},
        )
        _record_auto_assign(case, chosen)
        contact = contact_create_inbound(case=case, channel=channel, started_at=started_at, language=language)
    return case, contact


def case_update(*, actor: User, case: Case, **fields: Any) -> Case:
    """Changes non-state fields of a case the caller can see. A new risk level re-times the due date
    of the current state from when the case entered it."""
    unknown = set(fields) - set(CASE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in sorted(unknown)})
    if not policy.can(actor, PolicyAction.CASE_UPDATE, case):
        raise PermissionDenied(_("Your role may not change cases."))
    if "restricted" in fields and not policy.can(actor, PolicyAction.CASE_RESTRICT, case):
        raise PermissionDenied(_("Only supervisors restrict or unrestrict cases."))
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).select_related("helpline").get(pk=case.pk)
        if locked.state == CaseState.CLOSED:
            raise Conflict(_("A closed case cannot be changed; a supervisor can reopen it."))
        before = case_snapshot(locked)
        if "categories" in fields:
            validate_categories(locked.helpline_id, fields["categories"])
        _check_assignee(locked.helpline_id, fields.get("assigned_to"), fields.get("team"))
        fields = _with_reporter_phone_hash(fields, locked.helpline)
        for name, value in fields.items():
            setattr(locked, name, value)
        if "risk_level" in fields and fields["risk_level"] != before["risk_level"]:
            due = next_action_due(
                locked.helpline.due_policy,
                locked.state,
                locked.risk_level,
                now=locked.state_changed_at or locked.created_at,
            )
            if due is not None:
                locked.next_action_due_at = due
                locked.overdue_since = None
        locked.full_clean(exclude=["reference", "state"])
        index_for_search(locked)
        locked.save()
        if locked.restricted and not before["restricted"]:
            grant_need_to_know(case=locked, users=[actor], granted_by=actor)
        elif before["restricted"] and not locked.restricted:
            revoke_access(case=locked, kind=AccessKind.NEED_TO_KNOW)
        changes = diff(before, case_snapshot(locked), personal=CASE_PERSONAL_FIELDS)
        audit_record(
            actor=actor, action=AuditAction.CASE_UPDATE, obj=locked, case_id=locked.pk, changes=changes
        )
        if locked.risk_level == RiskLevel.CRITICAL and before["risk_level"] != RiskLevel.CRITICAL:
            notify(kind=NotificationKind.CRITICAL_CASE, case=locked, actor=actor)
    return locked


def case_flag_emergency(*, case_id: int, event_id: int, channel: str) -> Case:
    """The system marks a case an emergency (a caller pressed the emergency digit): its risk level
    becomes critical and its due date is re-timed as case_update does; once (already critical:
    nothing written). The audit entry names the inbound event that raised it."""
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("helpline").get(pk=case_id)
        if case.risk_level == RiskLevel.CRITICAL:
            return case
        before = case_snapshot(case)
        case.risk_level = RiskLevel.CRITICAL
        due = next_action_due(
            case.helpline.due_policy,
            case.state,
            case.risk_level,
            now=case.state_changed_at or case.created_at,
        )
        if due is not None:
            case.next_action_due_at = due
            case.overdue_since = None
        case.save(update_fields=["risk_level", "next_action_due_at", "overdue_since"])
        audit_record(
            actor=None,
            action=AuditAction.CASE_EMERGENCY,
            obj=case,
            case_id=case.pk,
            helpline=case.helpline_id,
            changes=diff(before, case_snapshot(case)),
            extra={"event_id": event_id, "channel": channel},
        )
        notify(kind=NotificationKind.CRITICAL_CASE, case=case)
    return case


def case_available_transitions(*, case: Case, user: User) -> list[str]:
    """Names of the transitions this user may take on this case now."""
    return available_transitions(case, user)


def case_transition(*, actor: User, case: Case, name: str, **params: Any) -> Case:
    """Moves a case (already in the caller's scope) along one workflow edge (helpline.transitions).

    409 when the transition is not available from the current state or its conditions fail (also
    when a concurrent transition got there first); 403 when the caller's role may not take it.
    Refusals are recorded in the audit log too."""
    params = transition_params(
        name=name,
        fields=TRANSITION_FIELDS,
        params=params,
        unknown_detail=_("Unknown transition %(name)r. Known: %(known)s.")
        % {"name": name, "known": ", ".join(TRANSITION_FIELDS)},
        required_detail=_("This field is required for this transition."),
    )
    if name == "start_follow_up" and params["follow_up_due_at"] <= timezone.now():
        raise ValidationError({"follow_up_due_at": _("The follow-up date must be in the future.")})
    return transition_run(
        actor=actor,
        locking=Case.objects.select_related("helpline"),
        pk=case.pk,
        name=name,
        params=params,
        action=AuditAction(f"case.transition.{name}"),
        audit_target=lambda locked: {"case_id": locked.pk},
        snapshot=case_snapshot,
        changes=lambda before, locked: diff(before, case_snapshot(locked), personal=CASE_PERSONAL_FIELDS),
        audit_extra=lambda locked, params: {
            "transition": name,
            **{k: _plain(v, case_id=locked.pk) for k, v in params.items()},
        },
        forbidden_detail=_("Your role may not take the transition %(name)r on this case.") % {"name": name},
        # In the caller's language now: the engine joins the failed conditions' messages.
        condition_messages={condition: str(text) for condition, text in CONDITION_MESSAGES.items()},
    )


def _plain(value: Any, *, case_id: int) -> Any:
    """A transition parameter as its audit entry records it: text people typed (a reason) sealed
    under the case's key, so it is erased with the case (helpline.crypto.seal)."""
    if isinstance(value, str):
        return crypto.seal(value, case_id=case_id)
    return value.isoformat() if isinstance(value, datetime) else value


def case_dismiss_as(*, actor: User, case: Case, call_type: str) -> Case:
    """Dismisses a case that is not one (the console's one-click "Silent", "Prank", "Wrong
    number"...): its contacts not yet classified become `call_type`, then the case is dismissed
    with that call type as its reason; all of it or nothing."""
    if call_type not in NON_CASE_CALL_TYPES:
        raise RefusedInput(
            {
                "call_type": [
                    _("Only a contact that is not a case (silent, prank, wrong number...) is dismissed.")
                ]
            },
            code="not_a_non_case",
        )
    with transaction.atomic():
        for contact in case.contacts.filter(call_type=""):
            contact_update(actor=actor, contact=contact, call_type=call_type)
        return case_transition(actor=actor, case=case, name="dismiss", reason=call_type)
