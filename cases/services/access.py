"""Restricted cases: the need-to-know list and break-glass access, with its review."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from helpline import crypto, policy
from helpline.audit import audit_record
from helpline.errors import Conflict
from helpline.models import Role, User
from helpline.vocabulary import AuditAction, PolicyAction
from notifications.models import NotificationKind
from notifications.services import notify

from ..models import AccessKind, Case, CaseAccess


def grant_need_to_know(*, case: Case, users: list[User], granted_by: User) -> None:
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


def revoke_access(*, case: Case, kind: str, keep: set[int] = frozenset()) -> list[int]:
    grants = CaseAccess.objects.filter(case=case, kind=kind, revoked_at__isnull=True).exclude(
        user_id__in=keep
    )
    revoked = list(grants.values_list("user_id", flat=True))
    grants.update(revoked_at=timezone.now())
    return revoked


def case_set_access(*, actor: User, case: Case, users: list[User]) -> list[int]:
    """Restricts a case to a need-to-know list (replacing the previous list). The supervisor who
    sets it stays on it. Returns the user ids on the list."""
    if not policy.can(actor, PolicyAction.CASE_RESTRICT, case):
        raise PermissionDenied(_("Only supervisors restrict cases."))
    strangers = [u.pk for u in users if u.helpline_id != case.helpline_id or not u.is_active]
    if strangers:
        raise ValidationError(
            {"users": _("Not active staff of this helpline: %(users)s.") % {"users": strangers}}
        )
    if any(u.role not in (Role.OPERATOR, Role.SUPERVISOR) for u in users):
        raise ValidationError({"users": _("Only operators and supervisors can be on a need-to-know list.")})
    users = [*users, actor]
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        was_restricted = locked.restricted
        keep = {u.pk for u in users}
        removed = revoke_access(case=locked, kind=AccessKind.NEED_TO_KNOW, keep=keep)
        grant_need_to_know(case=locked, users=users, granted_by=actor)
        if not was_restricted:
            Case.objects.filter(pk=locked.pk).update(restricted=True, updated_at=timezone.now())
        audit_record(
            actor=actor,
            action=AuditAction.CASE_RESTRICT,
            obj=locked,
            case_id=locked.pk,
            changes={"restricted": {"before": was_restricted, "after": True}} if not was_restricted else {},
            extra={"need_to_know": sorted(keep), "removed": sorted(removed)},
        )
    return sorted(keep)


def case_break_glass(*, actor: User, case: Case, reason: str) -> CaseAccess:
    """Opens a restricted case to a supervisor not on its list, for a limited time, on the record
    and listed for review by another supervisor."""
    if not policy.can(actor, PolicyAction.CASE_BREAK_GLASS, case):
        raise PermissionDenied(_("Only supervisors may break the glass on a restricted case."))
    if not reason.strip():
        raise ValidationError({"reason": _("A reason is required.")})
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
            action=AuditAction.CASE_BREAK_GLASS,
            obj=case,
            case_id=case.pk,
            extra={
                "break_glass": True,
                "grant_id": grant.pk,
                "reason": crypto.seal(reason, case_id=case.pk),
                "expires_at": grant.expires_at.isoformat(),
            },
        )
        # The other supervisors review it (break_glass_review): they hear of it now.
        notify(kind=NotificationKind.BREAK_GLASS, case=case, actor=actor)
    return grant


def break_glass_review(*, actor: User, grant: CaseAccess) -> CaseAccess:
    """Another supervisor confirms they have looked at a break-glass access."""
    if actor.pk == grant.user_id:
        raise PermissionDenied(_("A break-glass access is reviewed by another supervisor."))
    with transaction.atomic():
        locked = CaseAccess.objects.select_for_update().get(pk=grant.pk)
        if locked.reviewed_at is not None:
            raise Conflict(_("This access was already reviewed."), code="already_reviewed")
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["reviewed_by", "reviewed_at"])
        audit_record(
            actor=actor,
            action=AuditAction.CASE_BREAK_GLASS_REVIEW,
            obj=locked,
            case_id=locked.case_id,
            extra={"grant_id": locked.pk, "accessed_by": locked.user_id},
        )
    return locked
