"""Every read of agencies, consent and referrals, scoped to the caller.

Staff see the referrals of the cases they can see (`cases.selectors.case_queryset_for`); agency
users see the referrals sent to their agency and nothing of the case but the frozen packet. A
referral outside the caller's scope is 404, and every read is recorded in the audit log."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, PermissionDenied

from cases.models import CASE_PERSONAL_FIELDS, Case
from cases.selectors import _record_read, case_queryset_for
from helpline import policy
from helpline.filters import IsoDateTimeFilter
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from .memberships import agency_of
from .models import Agency, Consent, Delivery, Referral, ReferralUpdate, Urgency, WebhookChange
from .workflow import ReferralState


def agency_queryset_for(user: User) -> QuerySet[Agency]:
    return _agencies_for(user).prefetch_related(
        # Shown with each agency (its webhook changes, newest first): one query for a page.
        Prefetch(
            "webhook_changes",
            WebhookChange.objects.select_related("proposed_by", "approved_by").order_by(
                "-proposed_at", "-id"
            ),
        )
    )


def agency_choices_for(user: User) -> QuerySet[Agency]:
    """The agencies the user may see, without their webhook changes: what a referral form offers."""
    return _agencies_for(user)


def _agencies_for(user: User) -> QuerySet[Agency]:
    if policy.can(user, PolicyAction.AGENCY_MANAGE):
        agencies = Agency.objects.all()
        return agencies if user.helpline_id is None else agencies.filter(helpline_id=user.helpline_id)
    if policy.can(user, PolicyAction.AGENCY_LIST_ACTIVE):
        return Agency.objects.filter(helpline_id=user.helpline_id, is_active=True)
    if policy.can(user, PolicyAction.AGENCY_VIEW_OWN):
        return Agency.objects.filter(memberships__user=user)
    return Agency.objects.none()


def agency_get(*, user: User, agency_id: int) -> Agency:
    agency = agency_queryset_for(user).filter(pk=agency_id).first()
    if agency is None:
        raise NotFound()
    return agency


def referable_agency_get(*, user: User, agency_id: Any) -> Agency | None:
    """An active agency of the caller's helpline to refer to, or None."""
    if not isinstance(agency_id, int) or user.helpline_id is None:
        return None
    return Agency.objects.filter(pk=agency_id, helpline_id=user.helpline_id, is_active=True).first()


def referral_queryset_for(user: User) -> QuerySet[Referral]:
    if policy.can(user, PolicyAction.REFERRAL_LIST_SENT_TO_AGENCY):
        # Referrals still awaiting a supervisor's approval have not been sent to anyone.
        return Referral.objects.filter(agency=agency_of(user)).exclude(state=ReferralState.AWAITING_APPROVAL)
    if policy.can(user, PolicyAction.REFERRAL_LIST_OF_VISIBLE_CASES):
        return Referral.objects.filter(case__in=case_queryset_for(user))
    return Referral.objects.none()


class ReferralFilter(django_filters.FilterSet):
    # distinct=False: the referral's own columns; DISTINCT would sort every match before the LIMIT.
    state = django_filters.MultipleChoiceFilter(choices=ReferralState.choices, distinct=False)
    urgency = django_filters.MultipleChoiceFilter(choices=Urgency.choices, distinct=False)
    received_after = IsoDateTimeFilter(field_name="sent_at", lookup_expr="gte")
    received_before = IsoDateTimeFilter(field_name="sent_at", lookup_expr="lt")
    case = django_filters.NumberFilter(field_name="case_id")

    class Meta:
        model = Referral
        fields = ["state", "urgency", "received_after", "received_before", "case"]


def referral_list(*, user: User) -> QuerySet[Referral]:
    # A list shows the case's reference only: its personal (encrypted) columns and the agency's
    # signing secret are not loaded, let alone decrypted, per row.
    return (
        referral_queryset_for(user)
        .select_related("agency", "case")
        .defer("agency__webhook_secret", *(f"case__{name}" for name in sorted(CASE_PERSONAL_FIELDS)))
    )


def record_referral_list_read(*, user: User, referrals: list[Referral], filters: dict[str, Any]) -> None:
    _record_read(
        user=user,
        action=AuditAction.REFERRAL_LIST,
        object_type="referrals.referral",
        object_id="",
        case_id=None,
        allowed=True,
        extra={"referral_ids": [r.pk for r in referrals], "filters": filters},
    )


def referral_get(
    *, user: User, referral_id: int, action: AuditAction = AuditAction.REFERRAL_READ, for_write: bool = False
) -> Referral:
    """The referral, if in the caller's scope; else 404. A read is recorded either way; for a
    write only a refusal is recorded here (the write records itself)."""
    referral = (
        referral_queryset_for(user)
        .select_related("agency", "case", "case__helpline", "consent")
        .filter(pk=referral_id)
        .first()
    )
    if referral is None or not for_write:
        _record_read(
            user=user,
            action=action,
            object_type="referrals.referral",
            object_id=referral_id,
            case_id=referral.case_id if referral else None,
            allowed=referral is not None,
        )
    if referral is None:
        raise NotFound()
    return referral


def referral_updates(*, referral: Referral) -> QuerySet[ReferralUpdate]:
    return referral.updates.select_related("author").order_by("created_at", "id")


def referral_deliveries(*, user: User, referral_id: int) -> QuerySet[Delivery]:
    referral = referral_get(user=user, referral_id=referral_id, action=AuditAction.REFERRAL_DELIVERIES)
    if not policy.can(user, PolicyAction.REFERRAL_DELIVERIES, referral):
        raise PermissionDenied(_("Your role may not read this referral's deliveries."))
    return referral.deliveries.prefetch_related("attempt_log").order_by("created_at", "id")


def case_consents(*, case: Case) -> QuerySet[Consent]:
    return Consent.objects.filter(case=case).select_related("recorded_by").order_by("-recorded_at", "-id")


def case_referrals(*, case: Case) -> QuerySet[Referral]:
    # Through the case's own manager: each referral's `.case` is this case object (its helpline
    # with it), not a join of every column of the case again.
    return case.referrals.select_related("agency").prefetch_related(
        Prefetch("updates", ReferralUpdate.objects.select_related("author"))
    )
