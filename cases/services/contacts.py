"""Contacts (one conversation, call or walk-in each) and case notes."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from helpline import policy
from helpline.audit import audit_record, diff
from helpline.errors import Conflict
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from ..models import CONTACT_PERSONAL_FIELDS, Case, Contact, Direction, Note
from ..workflow import CaseState


def contact_create_inbound(*, case: Case, channel: str, started_at: datetime, language: str = "") -> Contact:
    """The system starts a new conversation contact in an open case (a sender's message after the
    conversation went idle), in the language of the number or chat it came through. Unclassified
    until an operator sets its call type."""
    with transaction.atomic(savepoint=False):
        contact = Contact(
            helpline_id=case.helpline_id,
            case=case,
            channel=channel,
            direction=Direction.INBOUND,
            language=language,
            started_at=started_at,
        )
        contact.full_clean(exclude=["helpline", "case"], validate_constraints=False)
        contact.save()
        audit_record(
            actor=None,
            action=AuditAction.CONTACT_CREATE,
            obj=contact,
            case_id=case.pk,
            helpline=case.helpline_id,
            changes=diff({}, {"channel": channel, "call_type": "", "language": language}),
        )
    return contact


def contact_update(*, actor: User, contact: Contact, **fields: Any) -> Contact:
    """Classifies or completes a contact (call type, summary, end time)."""
    allowed = {"call_type", "summary", "ended_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in sorted(unknown)})
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        before = {name: getattr(locked, name) for name in allowed}
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean()
        locked.save()
        audit_record(
            actor=actor,
            action=AuditAction.CONTACT_UPDATE,
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
            raise Conflict(_("This contact is already in a case."), code="contact_already_attached")
        if case.helpline_id != locked.helpline_id:
            raise ValidationError({"case": _("The case belongs to another helpline.")})
        if case.state == CaseState.CLOSED:
            raise Conflict(
                _("Contacts cannot be added to a closed case; reopen it first."), code="case_closed"
            )
        locked.case = case
        locked.save(update_fields=["case"])
        audit_record(
            actor=actor,
            action=AuditAction.CONTACT_ATTACH,
            obj=locked,
            case_id=case.pk,
            changes={"case": {"before": None, "after": case.pk}},
        )
    return locked


def note_create(*, actor: User, case: Case, body: str) -> Note:
    if not policy.can(actor, PolicyAction.NOTE_CREATE, case):
        raise PermissionDenied(_("Only helpline staff write case notes."))
    with transaction.atomic():
        note = Note(case=case, author=actor, body=body)
        note.full_clean()
        note.save()
        audit_record(
            actor=actor,
            action=AuditAction.NOTE_CREATE,
            obj=note,
            case_id=case.pk,
            changes=diff({}, {"body": body}, personal={"body"}),
        )
    return note
