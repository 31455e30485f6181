"""A supervisor's merge of a duplicate case into the case that carries on (the survivor).

Nothing is moved and nothing is deleted: the duplicate's contacts, notes, referrals, messages and
audit entries stay on it, exactly as recorded (the audit chain is untouched and still verifies).
The duplicate is closed for good by its `merge` transition (closure reason: the supervisor's
reason; `merged_into`: the survivor; it can no longer be reopened), and the survivor reads through
it: its notes, its contacts (`?case=`) and its history include those of the cases merged into it
(cases.selectors.merged_case_ids). One transaction writes the transition and an entry on each case.

Refused (409, recorded as denied on the duplicate) when either case is closed or anonymised, when
the duplicate still has a referral an agency may be working on, and when the two cases are not
restricted alike (merging must not show anything of one case to anyone who could not see it)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import APIException, PermissionDenied

from helpline import crypto, policy
from helpline.audit import audit_record, diff
from helpline.errors import Conflict
from helpline.models import AuditOutcome, User
from helpline.transitions import refusal_code
from helpline.vocabulary import AuditAction, PolicyAction

from ..models import CASE_PERSONAL_FIELDS, AccessKind, Case, CaseAccess
from ..workflow import CaseState, has_no_open_referral
from .cases import case_snapshot


def _need_to_know(case: Case) -> set[int]:
    return set(
        CaseAccess.objects.filter(
            case=case, kind=AccessKind.NEED_TO_KNOW, revoked_at__isnull=True
        ).values_list("user_id", flat=True)
    )


def _refusal(duplicate: Case, survivor: Case) -> APIException | None:
    if duplicate.merged_into_id is not None:
        return Conflict(_("This case was already merged into another case."), code="case_already_merged")
    if duplicate.state == CaseState.CLOSED:
        return Conflict(
            _("Only an open case can be merged; this one is closed (a supervisor can reopen it)."),
            code="case_closed",
        )
    if survivor.anonymised_at is not None:
        return Conflict(_("The case to merge into was anonymised."), code="case_anonymised")
    if survivor.state == CaseState.CLOSED:
        return Conflict(
            _("The case to merge into is closed; reopen it first, or merge the other way round."),
            code="case_closed",
        )
    if not has_no_open_referral(duplicate):
        return Conflict(
            _(
                "The case has a referral an agency may be working on (awaiting approval, sent or "
                "accepted): complete or withdraw it first, or merge the other way round."
            ),
            code="case_has_open_referral",
        )
    if duplicate.restricted != survivor.restricted or (
        duplicate.restricted and _need_to_know(duplicate) != _need_to_know(survivor)
    ):
        return Conflict(
            _(
                "The two cases are not restricted alike: give them the same need-to-know list (or "
                "restrict neither) before merging, so that nobody sees more of either case."
            ),
            code="case_restriction_differs",
        )
    return None


def case_merge(*, actor: User, case: Case, into: Case, reason: str) -> Case:
    """Merges `case` (a duplicate) into `into`; both were fetched in the caller's scope. Returns the
    duplicate, closed and pointing at the survivor."""
    if case.pk == into.pk:
        raise ValidationError({"into": _("A case cannot be merged into itself.")})
    if case.helpline_id != into.helpline_id:
        raise ValidationError({"into": _("Only cases of the same helpline can be merged.")})
    refusal: APIException | None = None
    with transaction.atomic():
        # Both rows locked, in id order: two merges of the same pair cannot deadlock.
        locked = {
            c.pk: c
            for c in Case.objects.select_for_update(of=("self",))
            .select_related("helpline")
            .filter(pk__in=(case.pk, into.pk))
            .order_by("pk")
        }
        duplicate, survivor = locked[case.pk], locked[into.pk]
        if not (
            policy.can(actor, PolicyAction.CASE_TRANSITION_MERGE, duplicate)
            and policy.can(actor, PolicyAction.CASE_TRANSITION_MERGE, survivor)
        ):
            refusal = PermissionDenied(_("Only supervisors merge cases."))
        else:
            refusal = _refusal(duplicate, survivor)
        if refusal is not None:
            audit_record(
                actor=actor,
                action=AuditAction.CASE_TRANSITION_MERGE,
                obj=duplicate,
                case_id=duplicate.pk,
                outcome=AuditOutcome.DENIED,
                extra={"state": duplicate.state, "refusal": refusal_code(refusal), "case_ids": [survivor.pk]},
            )
        else:
            before = case_snapshot(duplicate)
            duplicate.merge(by=actor, into=survivor, reason=reason)
            duplicate.save()
            audit_record(
                actor=actor,
                action=AuditAction.CASE_TRANSITION_MERGE,
                obj=duplicate,
                case_id=duplicate.pk,
                changes=diff(before, case_snapshot(duplicate), personal=CASE_PERSONAL_FIELDS),
                # The survivor named only in `case_ids`, which readers see only if they may see it;
                # the reason sealed under each case's key, erased with that case.
                extra={
                    "transition": "merge",
                    "reason": crypto.seal(reason, case_id=duplicate.pk),
                    "case_ids": [survivor.pk],
                },
            )
            audit_record(
                actor=actor,
                action=AuditAction.CASE_MERGE_RECEIVE,
                obj=survivor,
                case_id=survivor.pk,
                extra={
                    "reason": crypto.seal(reason, case_id=survivor.pk),
                    "case_ids": [duplicate.pk],
                    "contacts": duplicate.contacts.count(),
                    "notes": duplicate.notes.count(),
                },
            )
    # Outside the transaction: the refusal's entry is committed.
    if refusal is not None:
        raise refusal
    return duplicate
