"""Links between two cases of a helpline: siblings, one family, one incident, a possible duplicate.

A link is symmetric and stored once (the lower case id first), whichever case it was made from.
Removing one records who removed it and when; the row stays. Each write records an entry on both
cases, naming the other case only in `extra["case_ids"]`, which the audit log shows a reader only
for cases they may see (helpline.selectors.audit_entries_for_reader)."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from helpline import policy
from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from ..models import Case, CaseLink


def _record_on_both(*, actor: User, action: AuditAction, link: CaseLink, changes: dict) -> None:
    for case_id, other_id in ((link.case_low_id, link.case_high_id), (link.case_high_id, link.case_low_id)):
        audit_record(
            actor=actor,
            action=action,
            obj=link,
            case_id=case_id,
            changes=changes,
            extra={"kind": link.kind, "case_ids": [other_id]},
        )


def case_link_create(*, actor: User, case: Case, other: Case, kind: str) -> CaseLink:
    """Links two cases the caller can see (the caller fetched both in their scope). 400 for a case
    linked to itself or to another helpline's case, 409 when the same link already exists."""
    if case.pk == other.pk:
        raise ValidationError({"case": _("A case cannot be linked to itself.")})
    if case.helpline_id != other.helpline_id:
        raise ValidationError({"case": _("Only cases of the same helpline can be linked.")})
    if not (
        policy.can(actor, PolicyAction.CASE_LINK, case) and policy.can(actor, PolicyAction.CASE_LINK, other)
    ):
        raise PermissionDenied(_("Your role may not link cases."))
    low, high = sorted((case, other), key=lambda c: c.pk)
    with transaction.atomic():
        try:
            # A savepoint: two people linking the same pair at once meet at the unique constraint.
            with transaction.atomic():
                link = CaseLink.objects.create(
                    helpline_id=case.helpline_id, case_low=low, case_high=high, kind=kind, created_by=actor
                )
        except IntegrityError:
            raise Conflict(
                _("These cases are already linked as %(kind)r.") % {"kind": kind}, code="case_link_exists"
            ) from None
        _record_on_both(
            actor=actor,
            action=AuditAction.CASE_LINK_CREATE,
            link=link,
            changes={"kind": {"before": None, "after": kind}},
        )
    return link


def case_link_remove(*, actor: User, link: CaseLink) -> CaseLink:
    """Withdraws a link (the caller fetched it through a case, seeing both of its cases): the row
    stays, with who removed it and when. 409 if it was already removed."""
    if not policy.can(actor, PolicyAction.CASE_LINK, link.case_low) or not policy.can(
        actor, PolicyAction.CASE_LINK, link.case_high
    ):
        raise PermissionDenied(_("Your role may not remove links between cases."))
    with transaction.atomic():
        locked = CaseLink.objects.select_for_update().get(pk=link.pk)
        if locked.removed_at is not None:
            raise Conflict(_("This link was already removed."), code="case_link_removed")
        locked.removed_at, locked.removed_by = timezone.now(), actor
        locked.save(update_fields=["removed_at", "removed_by"])
        _record_on_both(
            actor=actor,
            action=AuditAction.CASE_LINK_REMOVE,
            link=locked,
            changes={"removed_at": {"before": None, "after": locked.removed_at.isoformat()}},
        )
    return locked
