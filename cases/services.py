"""Every write to cases, contacts, notes and escalations. Each runs in one transaction that also
writes its audit entry, so a change and its record commit together or not at all."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pgtrigger
import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from helpline import crypto, policy
from helpline.audit import REDACTED, audit_record, diff
from helpline.crypto import identifier_hash, normalise_phone
from helpline.errors import Conflict
from helpline.models import AuditOutcome, Helpline, Role, Team, User

from .models import (
    CASE_IDENTIFIER_HASH_FIELDS,
    CASE_PERSONAL_FIELDS,
    CONTACT_PERSONAL_FIELDS,
    AccessKind,
    Case,
    CaseAccess,
    Category,
    Channel,
    Contact,
    Direction,
    Escalation,
    EscalationKind,
    Note,
)
from .workflow import CONDITION_MESSAGES, TRANSITION_FIELDS, CaseState, RiskLevel, next_action_due

DEFAULT_CATEGORIES_FILE = Path(__file__).parent / "data" / "contact-categories.yaml"

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


# --- categories -----------------------------------------------------------------------------------


def category_defaults_install(*, helpline: Helpline) -> int:
    """Loads the default category list into a helpline (idempotent); returns how many were added."""
    data = yaml.safe_load(DEFAULT_CATEGORIES_FILE.read_text())
    rows, order = [], 0
    for top in data["categories"]:
        order += 1
        rows.append(Category(helpline=helpline, code=top["code"], label=top["label"], sort_order=order))
        for sub in top.get("subcategories") or []:
            order += 1
            rows.append(
                Category(
                    helpline=helpline,
                    code=sub["code"],
                    label=sub["label"],
                    parent_code=top["code"],
                    sort_order=order,
                )
            )
    created = Category.objects.bulk_create(rows, ignore_conflicts=True)
    return len([c for c in created if c.pk])


def _validate_categories(helpline_id: int, codes: list[str]) -> None:
    known = set(
        Category.objects.filter(helpline_id=helpline_id, code__in=codes, is_hidden=False).values_list(
            "code", flat=True
        )
    )
    unknown = sorted(set(codes) - known)
    if unknown:
        raise ValidationError({"categories": f"Unknown categories for this helpline: {', '.join(unknown)}."})


# --- cases ----------------------------------------------------------------------------------------


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


def _case_snapshot(case: Case) -> dict[str, Any]:
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
            {"reporter_phone": "Not a phone number: give it with its +country code or as dialled locally."}
        ) from None
    return {**fields, "reporter_phone": e164, "reporter_phone_hash": identifier_hash(e164)}


def _check_assignee(helpline_id: int, assignee: User | None, team: Team | None) -> None:
    if assignee is not None and (
        assignee.helpline_id != helpline_id
        or assignee.role not in (Role.OPERATOR, Role.SUPERVISOR)
        or not assignee.is_active
    ):
        raise ValidationError(
            {"assigned_to": "Cases can only be assigned to active staff of their helpline."}
        )
    if team is not None and team.helpline_id != helpline_id:
        raise ValidationError({"team": "The team belongs to another helpline."})


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
    if not policy.can(actor, "case.create"):
        raise PermissionDenied("Only helpline staff open cases.")
    helpline = actor.helpline
    now = timezone.now()
    with transaction.atomic():
        _validate_categories(helpline.pk, fields.get("categories") or [])
        _check_assignee(helpline.pk, fields.get("assigned_to"), fields.get("team"))
        fields = _with_reporter_phone_hash(fields, helpline)
        case = Case(helpline=helpline, created_by=actor, state_changed_at=now, **fields)
        if case.restricted and not policy.can(actor, "case.restrict", case):
            raise PermissionDenied("Only supervisors restrict cases.")
        if case.team_id is None and case.assigned_to_id is None:
            case.team_id = actor.team_id
        case.reference = _next_reference(helpline, now)
        case.next_action_due_at = next_action_due(
            helpline.due_policy, CaseState.INTAKE, case.risk_level, now=now
        )
        case.full_clean(exclude=["reference", "state"])
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
            _grant_need_to_know(case=case, users=[actor], granted_by=actor)
        audit_record(
            actor=actor,
            action="case.create",
            obj=case,
            case_id=case.pk,
            changes=diff({}, _case_snapshot(case), personal=CASE_PERSONAL_FIELDS),
            extra={"reference": case.reference},
        )
        audit_record(
            actor=actor,
            action="contact.create",
            obj=contact,
            case_id=case.pk,
            changes=diff(
                {},
                {"channel": channel, "call_type": call_type, "summary": summary},
                personal=CONTACT_PERSONAL_FIELDS,
            ),
        )
    return case


def case_create_from_inbound(
    *, helpline: Helpline, channel: str, started_at: datetime, reporter_phone: str = ""
) -> tuple[Case, Contact]:
    """The system opens a case at intake for a message from a sender with no open case (actor None:
    nobody at the helpline did it). The contact is left unclassified for an operator. Returns the
    case and its first contact."""
    now = timezone.now()
    # Called inside the inbound processing transaction: no savepoint (any failure aborts it all).
    with transaction.atomic(savepoint=False):
        fields = _with_reporter_phone_hash({"reporter_phone": reporter_phone}, helpline)
        case = Case(helpline=helpline, state_changed_at=now, **fields)
        case.reference = _next_reference(helpline, now)
        case.next_action_due_at = next_action_due(
            helpline.due_policy, CaseState.INTAKE, case.risk_level, now=now
        )
        # Field values only: the system built this row from a locked event, and the database
        # enforces its keys and constraints anyway (each check would be one more round trip).
        case.full_clean(exclude=["reference", "state", "helpline"], validate_constraints=False)
        case.save()
        audit_record(
            actor=None,
            action="case.create",
            obj=case,
            case_id=case.pk,
            helpline=helpline.pk,
            changes=diff({}, _case_snapshot(case), personal=CASE_PERSONAL_FIELDS),
            extra={"reference": case.reference, "channel": channel},
        )
        contact = contact_create_inbound(case=case, channel=channel, started_at=started_at)
    return case, contact


def contact_create_inbound(*, case: Case, channel: str, started_at: datetime) -> Contact:
    """The system starts a new conversation contact in an open case (a sender's message after the
    conversation went idle). Unclassified until an operator sets its call type."""
    with transaction.atomic(savepoint=False):
        contact = Contact(
            helpline_id=case.helpline_id,
            case=case,
            channel=channel,
            direction=Direction.INBOUND,
            started_at=started_at,
        )
        contact.full_clean(exclude=["helpline", "case"], validate_constraints=False)
        contact.save()
        audit_record(
            actor=None,
            action="contact.create",
            obj=contact,
            case_id=case.pk,
            helpline=case.helpline_id,
            changes=diff({}, {"channel": channel, "call_type": ""}),
        )
    return contact


def case_update(*, actor: User, case: Case, **fields: Any) -> Case:
    """Changes non-state fields of a case the caller can see. A new risk level re-times the due date
    of the current state from when the case entered it."""
    unknown = set(fields) - set(CASE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    if not policy.can(actor, "case.update", case):
        raise PermissionDenied("Your role may not change cases.")
    if "restricted" in fields and not policy.can(actor, "case.restrict", case):
        raise PermissionDenied("Only supervisors restrict or unrestrict cases.")
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).select_related("helpline").get(pk=case.pk)
        if locked.state == CaseState.CLOSED:
            raise Conflict("A closed case cannot be changed; a supervisor can reopen it.")
        before = _case_snapshot(locked)
        if "categories" in fields:
            _validate_categories(locked.helpline_id, fields["categories"])
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
        locked.save()
        if locked.restricted and not before["restricted"]:
            _grant_need_to_know(case=locked, users=[actor], granted_by=actor)
        elif before["restricted"] and not locked.restricted:
            _revoke_access(case=locked, kind=AccessKind.NEED_TO_KNOW)
        changes = diff(before, _case_snapshot(locked), personal=CASE_PERSONAL_FIELDS)
        audit_record(actor=actor, action="case.update", obj=locked, case_id=locked.pk, changes=changes)
    return locked


def case_flag_emergency(*, case_id: int, event_id: int, channel: str) -> Case:
    """The system marks a case an emergency (a caller pressed the emergency digit): its risk level
    becomes critical and its due date is re-timed as case_update does; once (already critical:
    nothing written). The audit entry names the inbound event that raised it."""
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("helpline").get(pk=case_id)
        if case.risk_level == RiskLevel.CRITICAL:
            return case
        before = _case_snapshot(case)
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
            action="case.emergency",
            obj=case,
            case_id=case.pk,
            helpline=case.helpline_id,
            changes=diff(before, _case_snapshot(case)),
            extra={"event_id": event_id, "channel": channel},
        )
    return case


def case_available_transitions(*, case: Case, user: User) -> list[str]:
    """Names of the transitions this user may take on this case now."""
    return [t.name for t in case.get_available_user_state_transitions(user)]


def case_transition(*, actor: User, case: Case, name: str, **params: Any) -> Case:
    """Moves a case (already in the caller's scope) along one workflow edge.

    409 when the transition is not available from the current state or its conditions fail (also
    when a concurrent transition got there first); 403 when the caller's role may not take it.
    Refusals are recorded in the audit log too."""
    if name not in TRANSITION_FIELDS:
        raise ValidationError(
            {"name": f"Unknown transition {name!r}. Known: {', '.join(TRANSITION_FIELDS)}."}
        )
    required = TRANSITION_FIELDS[name]
    missing = [f for f, is_required in required.items() if is_required and not params.get(f)]
    if missing:
        raise ValidationError({f: "This field is required for this transition." for f in missing})
    if name == "start_follow_up" and params["follow_up_due_at"] <= timezone.now():
        raise ValidationError({"follow_up_due_at": "The follow-up date must be in the future."})
    params = {f: params[f] for f in required if f in params}

    refusal: Exception | None = None
    with transaction.atomic():
        # The row lock serialises racing transitions: the loser sees the winner's state here.
        locked = Case.objects.select_for_update(of=("self",)).select_related("helpline").get(pk=case.pk)
        before = _case_snapshot(locked)
        method = getattr(locked, name)
        meta = method._django_fsm
        state = locked.state
        if not meta.has_transition(state):
            refusal = Conflict(
                f"Transition {name!r} is not possible from state {state!r}.",
                code="transition_not_allowed",
                extra={
                    "state": state,
                    "available_transitions": case_available_transitions(case=locked, user=actor),
                },
            )
        elif not meta.conditions_met(locked, state):
            failed = [c.__name__ for c in meta.get_transition(state).conditions if not c(locked)]
            refusal = Conflict(
                " ".join(CONDITION_MESSAGES.get(c, c) for c in failed),
                code="transition_conditions_not_met",
                extra={
                    "state": state,
                    "available_transitions": case_available_transitions(case=locked, user=actor),
                },
            )
        elif not meta.has_transition_perm(locked, state, actor):
            refusal = PermissionDenied(f"Your role may not take the transition {name!r} on this case.")
        if refusal is not None:
            audit_record(
                actor=actor,
                action=f"case.transition.{name}",
                obj=locked,
                case_id=locked.pk,
                outcome=AuditOutcome.DENIED,
                extra={"state": state, "refusal": str(refusal.detail)},
            )
        else:
            method(by=actor, **params)
            locked.save()
            audit_record(
                actor=actor,
                action=f"case.transition.{name}",
                obj=locked,
                case_id=locked.pk,
                changes=diff(before, _case_snapshot(locked), personal=CASE_PERSONAL_FIELDS),
                extra={"transition": name, **{k: _plain(v, case_id=locked.pk) for k, v in params.items()}},
            )
    if refusal is not None:
        raise refusal
    return locked


def _plain(value: Any, *, case_id: int) -> Any:
    """A transition parameter as its audit entry records it: text people typed (a reason) sealed
    under the case's key, so it is erased with the case (helpline.crypto.seal)."""
    if isinstance(value, str):
        return crypto.seal(value, case_id=case_id)
    return value.isoformat() if isinstance(value, datetime) else value


# --- contacts and notes ---------------------------------------------------------------------------


def contact_update(*, actor: User, contact: Contact, **fields: Any) -> Contact:
    """Classifies or completes a contact (call type, summary, end time)."""
    allowed = {"call_type", "summary", "ended_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        before = {name: getattr(locked, name) for name in allowed}
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean()
        locked.save()
        audit_record(
            actor=actor,
            action="contact.update",
            obj=locked,
            case_id=locked.case_id,
            changes=diff(
                before, {name: getattr(locked, name) for name in allowed}, personal=CONTACT_PERSONAL_FIELDS
            ),
        )
    return locked


def contact_attach(*, actor: User, contact: Contact, case: Case) -> Contact:
    """Puts a contact not yet in any case into an open case of the same helpline."""
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if locked.case_id is not None:
            raise Conflict("This contact is already in a case.", code="contact_already_attached")
        if case.helpline_id != locked.helpline_id:
            raise ValidationError({"case": "The case belongs to another helpline."})
        if case.state == CaseState.CLOSED:
            raise Conflict("Contacts cannot be added to a closed case; reopen it first.", code="case_closed")
        locked.case = case
        locked.save(update_fields=["case"])
        audit_record(
            actor=actor,
            action="contact.attach",
            obj=locked,
            case_id=case.pk,
            changes={"case": {"before": None, "after": case.pk}},
        )
    return locked


def note_create(*, actor: User, case: Case, body: str) -> Note:
    if not policy.can(actor, "note.create", case):
        raise PermissionDenied("Only helpline staff write case notes.")
    with transaction.atomic():
        note = Note(case=case, author=actor, body=body)
        note.full_clean()
        note.save()
        audit_record(
            actor=actor,
            action="note.create",
            obj=note,
            case_id=case.pk,
            changes=diff({}, {"body": body}, personal={"body"}),
        )
    return note


# --- escalation -----------------------------------------------------------------------------------


def escalate_overdue_cases(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Marks open cases whose next action is past due and records one escalation per missed due
    date for the team's supervisors. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    escalated = 0
    while True:
        with transaction.atomic():
            # SKIP LOCKED: a case being worked on right now is picked up by the next sweep.
            overdue = list(
                Case.objects.select_for_update(skip_locked=True)
                .filter(next_action_due_at__lte=now, overdue_since__isnull=True)
                .exclude(state=CaseState.CLOSED)
                .order_by("next_action_due_at")[:batch_size]
            )
            for case in overdue:
                escalation, created = Escalation.objects.get_or_create(
                    case=case,
                    kind=EscalationKind.OVERDUE,
                    due_at=case.next_action_due_at,
                    defaults={
                        "helpline_id": case.helpline_id,
                        "team_id": case.team_id,
                        "state": case.state,
                        "risk_level": case.risk_level,
                    },
                )
                Case.objects.filter(pk=case.pk).update(overdue_since=now)
                if created:
                    audit_record(
                        actor=None,
                        action="case.escalate",
                        obj=case,
                        case_id=case.pk,
                        helpline=case.helpline_id,
                        changes={"overdue_since": {"before": None, "after": now.isoformat()}},
                        extra={
                            "escalation_id": escalation.pk,
                            "due_at": case.next_action_due_at.isoformat(),
                            "state": case.state,
                            "risk_level": case.risk_level,
                        },
                    )
                    escalated += 1
        if len(overdue) < batch_size:
            return escalated


def escalation_raise(
    *, case: Case, kind: str, detail: str, referral: Any = None, once: bool = True
) -> Escalation:
    """Raises something about a case (a referral's expiry, rejection, emergency, failed delivery)
    to whoever sees the case. `once`: one per referral and kind, however often it is raised."""
    fields = {
        "case": case,
        "helpline_id": case.helpline_id,
        "team_id": case.team_id,
        "due_at": timezone.now(),
        "state": case.state,
        "risk_level": case.risk_level,
        "detail": detail[:500],
    }
    if not once:
        return Escalation.objects.create(referral=referral, kind=kind, **fields)
    escalation, _ = Escalation.objects.get_or_create(referral=referral, kind=kind, defaults=fields)
    return escalation


def escalation_acknowledge(*, actor: User, escalation: Escalation) -> Escalation:
    if not policy.can(actor, "escalation.acknowledge", escalation):
        raise PermissionDenied("Only supervisors acknowledge escalations.")
    with transaction.atomic():
        locked = Escalation.objects.select_for_update().get(pk=escalation.pk)
        if locked.acknowledged_at is not None:
            raise Conflict("This escalation was already acknowledged.", code="already_acknowledged")
        locked.acknowledged_by = actor
        locked.acknowledged_at = timezone.now()
        locked.save(update_fields=["acknowledged_by", "acknowledged_at"])
        audit_record(actor=actor, action="escalation.acknowledge", obj=locked, case_id=locked.case_id)
    return locked


# --- restricted cases: need-to-know and break-glass -------------------------------------------------


def _grant_need_to_know(*, case: Case, users: list[User], granted_by: User) -> None:
    have = set(
        CaseAccess.objects.filter(
            case=case, kind=AccessKind.NEED_TO_KNOW, revoked_at__isnull=True
        ).values_list("user_id", flat=True)
    )
    CaseAccess.objects.bulk_create(
        CaseAccess(case=case, user=user, kind=AccessKind.NEED_TO_KNOW, granted_by=granted_by)
        for user in users
        if user.pk not in have
    )


def _revoke_access(*, case: Case, kind: str, keep: set[int] = frozenset()) -> list[int]:
    grants = CaseAccess.objects.filter(case=case, kind=kind, revoked_at__isnull=True).exclude(
        user_id__in=keep
    )
    revoked = list(grants.values_list("user_id", flat=True))
    grants.update(revoked_at=timezone.now())
    return revoked


def case_set_access(*, actor: User, case: Case, users: list[User]) -> list[int]:
    """Restricts a case to a need-to-know list (replacing the previous list). The supervisor who
    sets it stays on it. Returns the user ids on the list."""
    if not policy.can(actor, "case.restrict", case):
        raise PermissionDenied("Only supervisors restrict cases.")
    strangers = [u.pk for u in users if u.helpline_id != case.helpline_id or not u.is_active]
    if strangers:
        raise ValidationError({"users": f"Not active staff of this helpline: {strangers}."})
    if any(u.role not in (Role.OPERATOR, Role.SUPERVISOR) for u in users):
        raise ValidationError({"users": "Only operators and supervisors can be on a need-to-know list."})
    users = [*users, actor]
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        was_restricted = locked.restricted
        keep = {u.pk for u in users}
        removed = _revoke_access(case=locked, kind=AccessKind.NEED_TO_KNOW, keep=keep)
        _grant_need_to_know(case=locked, users=users, granted_by=actor)
        if not was_restricted:
            Case.objects.filter(pk=locked.pk).update(restricted=True, updated_at=timezone.now())
        audit_record(
            actor=actor,
            action="case.restrict",
            obj=locked,
            case_id=locked.pk,
            changes={"restricted": {"before": was_restricted, "after": True}} if not was_restricted else {},
            extra={"need_to_know": sorted(keep), "removed": sorted(removed)},
        )
    return sorted(keep)


def case_break_glass(*, actor: User, case: Case, reason: str) -> CaseAccess:
    """Opens a restricted case to a supervisor not on its list, for a limited time, on the record
    and listed for review by another supervisor."""
    if not policy.can(actor, "case.break_glass", case):
        raise PermissionDenied("Only supervisors may break the glass on a restricted case.")
    if not reason.strip():
        raise ValidationError({"reason": "A reason is required."})
    with transaction.atomic():
        grant = CaseAccess.objects.create(
            case=case,
            user=actor,
            kind=AccessKind.BREAK_GLASS,
            reason=reason,
            granted_by=actor,
            expires_at=timezone.now() + timedelta(minutes=settings.BREAK_GLASS_MINUTES),
        )
        audit_record(
            actor=actor,
            action="case.break_glass",
            obj=case,
            case_id=case.pk,
            extra={
                "break_glass": True,
                "grant_id": grant.pk,
                "reason": crypto.seal(reason, case_id=case.pk),
                "expires_at": grant.expires_at.isoformat(),
            },
        )
    return grant


def break_glass_review(*, actor: User, grant: CaseAccess) -> CaseAccess:
    """Another supervisor confirms they have looked at a break-glass access."""
    if actor.pk == grant.user_id:
        raise PermissionDenied("A break-glass access is reviewed by another supervisor.")
    with transaction.atomic():
        locked = CaseAccess.objects.select_for_update().get(pk=grant.pk)
        if locked.reviewed_at is not None:
            raise Conflict("This access was already reviewed.", code="already_reviewed")
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["reviewed_by", "reviewed_at"])
        audit_record(
            actor=actor,
            action="case.break_glass.review",
            obj=locked,
            case_id=locked.case_id,
            extra={"grant_id": locked.pk, "accessed_by": locked.user_id},
        )
    return locked


# --- retention -------------------------------------------------------------------------------------


def _erased(field) -> Any:
    return None if field.null else ""


def case_anonymise(*, case: Case, now: datetime | None = None) -> bool:
    """Erases a closed case's personal data for good: child and reporter identifiers, contact
    summaries, note bodies and every reason typed about it (in its rows, and sealed in its audit
    entries by deleting the case's key). Categories, risk, states and timings stay for statistics; the
    audit trail stays, so its chain still verifies. Returns False if there was nothing to do."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if locked.anonymised_at is not None or locked.state != CaseState.CLOSED:
            return False
        erased = sorted(
            name for name in CASE_PERSONAL_FIELDS | CASE_IDENTIFIER_HASH_FIELDS if hasattr(locked, name)
        )
        for name in erased:
            setattr(locked, name, _erased(Case._meta.get_field(name)))
        locked.anonymised_at = now
        locked.save()
        contacts = Contact.objects.filter(case=locked).update(summary="")
        # Notes are append-only for people; erasing them at the end of retention is the one
        # sanctioned exception, so only this statement lifts the trigger.
        with pgtrigger.ignore("cases.Note:note_append_only"):
            notes = Note.objects.filter(case=locked).update(body="")
        # Reasons typed for access and the escalations quoting agencies' reasons.
        CaseAccess.objects.filter(case=locked).update(reason="")
        Escalation.objects.filter(case=locked).update(detail="")
        referrals = _referrals_erase(locked)
        messages = _conversations_erase(locked)
        # The reasons sealed into the case's audit entries can no longer be opened by anyone.
        key_shredded = crypto.shred(case_id=locked.pk)
        audit_record(
            actor=None,
            action="case.anonymise",
            obj=locked,
            case_id=locked.pk,
            helpline=locked.helpline_id,
            changes={name: {"before": REDACTED, "after": None} for name in erased},
            extra={
                "contacts_erased": contacts,
                "notes_erased": notes,
                "referrals_erased": referrals,
                "messages_erased": messages,
                "audit_key_shredded": key_shredded,
                "retention_years": locked.helpline.retention_years,
            },
        )
    return True


def _referrals_erase(case: Case) -> int:
    """The referral packets, summaries, updates and notification bodies of an anonymised case
    carry the same personal data as the case, so they go with it."""
    from referrals.models import Delivery, Referral, ReferralUpdate

    erased = Referral.objects.filter(case=case).update(
        reason="",
        summary="",
        packet_json="",
        reported_urls=[],
        platform="",
        override_reason="",
        rejection_reason="",
        withdrawal_reason="",
        outcome_note="",
    )
    with pgtrigger.ignore("referrals.ReferralUpdate:referral_update_append_only"):
        ReferralUpdate.objects.filter(referral__case=case).update(body="")
    Delivery.objects.filter(referral__case=case).update(body="")
    return erased


def _conversations_erase(case: Case) -> int:
    """What the child wrote and the raw webhooks that carried it (their number, the body, every
    parameter), the replies and where they went, callback outcomes: erased with the case."""
    from django.db.models import Q

    from channels_sms.models import Callback, InboundEvent, Message

    contacts = Contact.objects.filter(case=case)
    messages = Message.objects.filter(Q(case=case) | Q(contact__in=contacts))
    # Status callbacks of our replies name the child's number as `To`; they are keyed by the
    # reply's MessageSid ("SM...:delivered").
    reply_sids = [sid for sid in messages.exclude(external_id="").values_list("external_id", flat=True)]
    status_events = Q()
    for sid in reply_sids:
        status_events |= Q(external_id__startswith=f"{sid}:")
    events = InboundEvent.objects.filter(
        Q(contact__in=contacts) | (status_events if reply_sids else Q(pk__in=[]))
    )
    events.update(sender="", sender_hash="", body="", media="", params="{}")
    erased = messages.update(body="", media="", to_address="", sender_hash="")
    Callback.objects.filter(contact__in=contacts).update(outcome="")
    return erased


def anonymise_expired_cases(*, now: datetime | None = None) -> int:
    """Anonymises every closed case past its helpline's retention period. Idempotent."""
    now = now or timezone.now()
    done = 0
    for helpline in Helpline.objects.all():
        cutoff = _years_before(now, helpline.retention_years)
        expired = Case.objects.filter(
            helpline=helpline, state=CaseState.CLOSED, anonymised_at__isnull=True, closed_at__lt=cutoff
        ).values_list("pk", flat=True)
        for case_id in list(expired):
            done += case_anonymise(case=Case(pk=case_id), now=now)
    return done


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


# --- row history reconciliation ----------------------------------------------------------------------

# (event model, how to find the case id, how to find the helpline id) for each tracked table.
_HISTORY_TABLES = (
    ("cases.CaseEvent", "pgh_obj_id", "helpline_id"),
    ("cases.ContactEvent", "case_id", "helpline_id"),
    ("cases.NoteEvent", "case_id", None),
    ("cases.CaseAccessEvent", "case_id", None),
)
_HISTORY_META_FIELDS = {"pgh_id", "pgh_created_at", "pgh_label", "pgh_obj", "pgh_obj_id", "pgh_txid"}


def reconcile_row_history(*, case_id: int | None = None, limit: int = 1000) -> int:
    """Writes into the audit log every row change of the case tables that no audit entry accounts
    for (its transaction wrote none): bulk updates, raw SQL, a shell session. Each such change is
    reported once, with the non-personal fields it changed. Returns how many were reported."""
    from django.apps import apps
    from django.db.models import Exists, OuterRef

    from helpline.models import AuditEntry, ReconciledRowEvent

    reported = 0
    for label, case_column, helpline_column in _HISTORY_TABLES:
        event_model = apps.get_model(label)
        events = event_model.objects.filter(
            ~Exists(AuditEntry.objects.filter(txid=OuterRef("pgh_txid"))),
            ~Exists(ReconciledRowEvent.objects.filter(event_model=label, event_id=OuterRef("pgh_id"))),
        )
        if case_id is not None:
            events = events.filter(**{case_column: case_id})
        for event in events.order_by("pgh_id")[:limit]:
            with transaction.atomic():
                _report_row_event(event, label, case_column, helpline_column)
            reported += 1
    return reported


def _report_row_event(event, label: str, case_column: str, helpline_column: str | None) -> None:
    from helpline.models import ReconciledRowEvent

    fields = [f.attname for f in event._meta.concrete_fields if f.name not in _HISTORY_META_FIELDS]
    after = {name: getattr(event, name) for name in fields}
    previous = (
        type(event)
        .objects.filter(pgh_obj_id=event.pgh_obj_id, pgh_id__lt=event.pgh_id)
        .order_by("-pgh_id")
        .first()
    )
    before = {name: getattr(previous, name) for name in fields} if previous else {}
    if event.pgh_label == "delete":
        before, after = after, {}
    changes = diff(before, after)
    case_id = getattr(event, case_column)
    helpline_id = getattr(event, helpline_column) if helpline_column else None
    if helpline_id is None and case_id is not None:
        helpline_id = Case.objects.filter(pk=case_id).values_list("helpline_id", flat=True).first()
    entry = audit_record(
        actor=None,
        action="row.changed_outside_services",
        object_type=event.pgh_tracked_model._meta.label_lower,
        object_id=event.pgh_obj_id,
        case_id=case_id,
        helpline=helpline_id,
        changes=changes,
        extra={
            "operation": event.pgh_label,
            "event": f"{label}:{event.pgh_id}",
            "at": event.pgh_created_at.isoformat(),
            "txid": event.pgh_txid,
            # Personal fields are not kept in the row history; a change to them shows as a
            # change without listed fields.
            "personal_fields_not_shown": not changes and event.pgh_label == "update",
        },
    )
    ReconciledRowEvent.objects.create(event_model=label, event_id=event.pgh_id, audit_entry=entry)
