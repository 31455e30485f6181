"""Reads of helplines and users, scoped to the caller. Administrators manage people and helplines;
an administrator tied to a helpline sees only it, one with none (platform admin) sees all."""

from collections.abc import Mapping, Sequence
from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from rest_framework.exceptions import NotFound, ValidationError

from . import policy
from .audit import REDACTED, audit_record
from .filters import IsoDateTimeFilter, StrictBooleanFilter
from .models import AuditEntry, AuditOutcome, Helpline, SignInChange, Team, User
from .provided import agencies_provided
from .vocabulary import AuditAction, PolicyAction


def _is_platform_admin(user: User) -> bool:
    return policy.can(user, PolicyAction.HELPLINE_CREATE)


def helpline_queryset_for(user: User) -> QuerySet[Helpline]:
    if not policy.can(user, PolicyAction.HELPLINE_MANAGE):
        return Helpline.objects.none()
    if _is_platform_admin(user):
        return Helpline.objects.all()
    return Helpline.objects.filter(pk=user.helpline_id)


def helpline_get(*, user: User, helpline_id: int) -> Helpline:
    helpline = helpline_queryset_for(user).filter(pk=helpline_id).first()
    if helpline is None:
        raise NotFound()
    return helpline


def user_queryset_for(user: User) -> QuerySet[User]:
    if not policy.can(user, PolicyAction.USER_MANAGE):
        return User.objects.none()
    users = User.objects.select_related("helpline", "team", agencies_provided().user_related)
    if _is_platform_admin(user):
        return users
    return users.filter(helpline_id=user.helpline_id)


def user_get(*, user: User, user_id: int) -> User:
    found = user_queryset_for(user).filter(pk=user_id).first()
    if found is None:
        raise NotFound()
    return found


def team_queryset_for(user: User) -> QuerySet[Team]:
    """The teams the user may see, as the policy rules "team.view": staff and administrators their
    helpline's, retired ones included; a platform administrator every helpline's. Members come
    with them (one query for a page)."""
    # The rule is decided on a team of the caller's own helpline (none: a platform administrator).
    if not policy.can(user, PolicyAction.TEAM_VIEW, Team(helpline_id=user.helpline_id)):
        return Team.objects.none()
    teams = Team.objects.select_related("helpline").prefetch_related(
        Prefetch("members", queryset=User.objects.order_by("username"))
    )
    return teams if user.helpline_id is None else teams.filter(helpline_id=user.helpline_id)


def team_get(*, user: User, team_id: int) -> Team:
    team = team_queryset_for(user).filter(pk=team_id).first()
    if team is None:
        raise NotFound()
    return team


# --- the audit log (supervisors) -------------------------------------------------------------------


def audit_queryset_for(user: User) -> QuerySet[AuditEntry]:
    """Supervisors read their helpline's audit log; nobody else reads it through the API. An entry
    about a case is there only for whoever may see the case (need-to-know, break-glass)."""
    if not policy.can(user, PolicyAction.AUDIT_READ):
        return AuditEntry.objects.none()
    return _entries_of_visible_cases(user, AuditEntry.objects.filter(helpline_id=user.helpline_id))


def _entries_of_visible_cases(user: User, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
    """Entries of no case, and those of cases the user may see (the policy's case rule)."""
    return entries.filter(Q(case_id__isnull=True) | policy.case_linked_filter(user, "case_id"))


# Entries that belong to no case may still name cases in `extra`: the cases on a page read
# ("case_ids": case.list, contacter.read) and the `case` filter of a recorded search (audit.list,
# audit.export, referral.list). A reader sees only the ids of cases they may see.
_CASE_ID_LISTS = ("case_ids",)
_CASE_FILTER = "case"


def _named_case_ids(extra: Mapping[str, Any]) -> list[Any]:
    named = [i for key in _CASE_ID_LISTS for i in extra.get(key) or () if not isinstance(i, list | dict)]
    filters = extra.get("filters")
    if isinstance(filters, dict) and filters.get(_CASE_FILTER) is not None:
        value = filters[_CASE_FILTER]
        named += value if isinstance(value, list) else [value]
    return named


def audit_entries_for_reader(*, user: User, entries: Sequence[AuditEntry]) -> Sequence[AuditEntry]:
    """The entries as `user` may read them: case ids in `extra` that name a case the user may not
    see are left out of lists, and a `case` filter naming one reads REDACTED (as one naming no case
    at all does). One query for the page, none if no entry names a case. The stored entries (and
    their hashes, which cover the full text) are unchanged; only these in-memory copies are."""
    named = [i for entry in entries for i in _named_case_ids(entry.extra or {})]
    if not named:
        return entries
    visible = {str(i) for i in policy.visible_case_ids(user, named)}
    for entry in entries:
        if not _named_case_ids(entry.extra or {}):
            continue
        extra = dict(entry.extra)
        for key in _CASE_ID_LISTS:
            if isinstance(extra.get(key), list):
                extra[key] = [i for i in extra[key] if str(i) in visible]
        filters = extra.get("filters")
        if isinstance(filters, dict) and filters.get(_CASE_FILTER) is not None:
            value = filters[_CASE_FILTER]
            if isinstance(value, list):
                shown: Any = [v if str(v) in visible else REDACTED for v in value]
            else:
                shown = value if str(value) in visible else REDACTED
            extra["filters"] = {**filters, _CASE_FILTER: shown}
        entry.extra = extra
    return entries


class AuditFilter(django_filters.FilterSet):
    case = django_filters.NumberFilter(field_name="case_id")
    actor = django_filters.NumberFilter(field_name="actor_id")
    action = django_filters.CharFilter(
        method="filter_action", help_text="An action, or a prefix ending in '.'"
    )
    object_type = django_filters.CharFilter(field_name="object_type")
    object_id = django_filters.CharFilter(field_name="object_id")
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices)
    at_after = IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    review = StrictBooleanFilter(
        method="filter_review",
        help_text="true: only the entries flagged for review (changes to how someone signs in); "
        "false: all but those",
    )

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def filter_action(self, queryset, name, value):
        return (
            queryset.filter(action__startswith=value)
            if value.endswith(".")
            else queryset.filter(action=value)
        )

    def filter_review(self, queryset, name, value):
        if value is None:
            return queryset
        flagged = {"extra__contains": {"review": True}}
        return queryset.filter(**flagged) if value else queryset.exclude(**flagged)


def audit_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[AuditEntry]:
    audit_filter = AuditFilter(data=filters or {}, queryset=audit_queryset_for(user))
    if not audit_filter.is_valid():
        raise ValidationError(audit_filter.errors)
    return audit_filter.qs


def record_audit_read(
    *, user: User, action: AuditAction, filters: Mapping[str, Any], count: int | None = None
) -> None:
    """Reading the audit log is itself on the record."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            object_type="helpline.auditentry",
            extra={"filters": {k: filters.get(k) for k in filters if k != "cursor"}, "count": count},
        )


def user_activity(*, user: User, user_id: int) -> QuerySet[AuditEntry]:
    """Everything one user did, for a supervisor of their helpline (404 for anyone else)."""
    target = User.objects.filter(pk=user_id).first()
    if target is not None and not policy.can(user, PolicyAction.USER_ACTIVITY, target):
        target = None
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.USER_ACTIVITY,
            object_type="helpline.user",
            object_id=user_id,
            outcome=AuditOutcome.ALLOWED if target else AuditOutcome.DENIED,
        )
    if target is None:
        raise NotFound()
    return _entries_of_visible_cases(user, AuditEntry.objects.filter(actor=target))


def security_events_for(user: User) -> QuerySet[AuditEntry]:
    """The changes to `user`'s own sign-in (password links, authenticator resets and enrolments)."""
    return AuditEntry.objects.filter(
        action__in=SignInChange.values, object_type="helpline.user", object_id=str(user.pk)
    )
