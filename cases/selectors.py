"""Every read of cases, contacts, notes and escalations, scoped to the caller.

The `*_queryset_for` functions are the one gate: an object outside them does not exist for the
caller (404, never 403, so ids do not leak). Reads of case data are recorded in the audit log.
"""

from collections.abc import Mapping
from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects
from rest_framework.exceptions import NotFound, ValidationError

from helpline import policy
from helpline.audit import REDACTED, audit_record
from helpline.filters import IsoDateTimeFilter, StrictBooleanFilter
from helpline.models import AuditEntry, AuditOutcome, User
from helpline.vocabulary import AuditAction, PolicyAction

from .models import AccessKind, Case, CaseAccess, CaseLink, Category, Channel, Contact, Escalation, Note
from .search import QueryTooShort, contact_phone_matches, search_condition
from .workflow import ACTIVE_REFERRAL_STATES, CaseState, RiskLevel


def case_queryset_for(user: User) -> QuerySet[Case]:
    """Cases the user may see, as `helpline.policy` rules "case.view": operators their helpline's
    intake queue and cases assigned to them or their team; supervisors their whole helpline;
    restricted cases only those on the need-to-know list or holding a live break-glass grant;
    agency users and administrators none."""
    return Case.objects.filter(policy.case_filter(user, PolicyAction.CASE_VIEW))


class CaseFilter(django_filters.FilterSet):
    # distinct=False: these filter the case's own columns (no join can repeat a row), and DISTINCT
    # would make PostgreSQL sort every matching case, all columns, before the page's LIMIT.
    state = django_filters.MultipleChoiceFilter(choices=CaseState.choices, distinct=False)
    risk_level = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices, distinct=False)
    assigned_to = django_filters.NumberFilter(field_name="assigned_to_id")
    unassigned = StrictBooleanFilter(field_name="assigned_to", lookup_expr="isnull")
    team = django_filters.NumberFilter(field_name="team_id")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, method="filter_channel")
    category = django_filters.CharFilter(method="filter_category")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    due_before = IsoDateTimeFilter(field_name="next_action_due_at", lookup_expr="lt")
    overdue = StrictBooleanFilter(field_name="overdue_since", lookup_expr="isnull", exclude=True)
    reference = django_filters.CharFilter(field_name="reference", lookup_expr="iexact")
    q = django_filters.CharFilter(
        method="filter_q",
        max_length=200,
        label=(
            "Search: a case reference, the child's or the reporter's name (any case, accents, Cyrillic "
            "or Latin; words of at least 3 letters match as prefixes, every word must match), or a "
            "phone number in any common format."
        ),
    )

    class Meta:
        model = Case
        fields: list[str] = []

    def __init__(self, *args: Any, region: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.region = region  # the helpline's country: national numbers in `q` are read in it

    def filter_q(self, queryset, name, value):
        if queryset.query.is_empty():  # a caller who sees no case: not even the index is read
            _search_text_checked(value)
            return queryset
        return queryset.filter(_search(value, region=self.region))

    def filter_channel(self, queryset, name, value):
        return queryset.filter(
            id__in=Contact.objects.filter(channel=value, case__isnull=False).values("case_id")
        )

    def filter_category(self, queryset, name, value):
        return queryset.filter(categories__contains=[value])


def _region(user: User) -> str | None:
    return user.helpline.country if user.helpline_id else None


# A search that matches at most this many cases (of any helpline) is read through their ids; one
# that matches more is left to the planner (below).
FEW_MATCHES = 3000


def _search(text: str, *, region: str | None, field: str = "search_tokens") -> Q:
    """The condition a case (or, with `field` "case__search_tokens", a case's contact) meets when it
    matches `text`, for the caller's scoped list to filter on.

    Why not simply the index condition: next to the caller's scope (`helpline_id = ...`, the team,
    the assignee), the planner misjudges a rare token (it guesses hundreds of rows where there is
    one) and ANDs the GIN index's answer with a bitmap of every case of the helpline, 20-30 ms at
    1M cases (docs/performance.md), whichever index it finds that starts with the helpline. So the
    matches are counted from the GIN index alone first (no scope, no order, at most FEW_MATCHES + 1
    ids read). When they are few, the list filters on `id IN (that look-up, with a LIMIT)`: a
    subquery with a LIMIT is never merged into the outer query, so the plan reads the matching ids
    first and fetches each case by primary key, the scope checked on each row. The LIMIT is twice
    the count's bound so that cases indexed between the two queries are not cut off. A common word
    (more matches) keeps the plain condition, where the planner's figures are right and it walks
    the list's order until a page is full. The ids never leave the database's answer to the
    scoped list: what the caller sees is still decided by the scope."""
    try:
        matches = search_condition(text, region=region)
    except QueryTooShort as exc:
        raise ValidationError({"q": [str(exc)]}) from None
    matching_ids = Case.objects.filter(matches).order_by().values_list("id", flat=True)
    if matching_ids[: FEW_MATCHES + 1].count() <= FEW_MATCHES:
        return Q(**{f"{field.removesuffix('search_tokens')}pk__in": matching_ids[: 2 * FEW_MATCHES]})
    return search_condition(text, region=region, field=field)


def _search_text_checked(text: str) -> None:
    """A search too short is refused whoever asks (the same 400 for every caller)."""
    try:
        search_condition(text, region=None)
    except QueryTooShort as exc:
        raise ValidationError({"q": [str(exc)]}) from None


def audited_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """A list's filters as its audit entry records them: the search text is personal data (a
    name, a number), so only the fact that there was one is kept."""
    return {k: REDACTED if k == "q" else filters.get(k) for k in filters}


def _with_related(cases: QuerySet[Case]) -> QuerySet[Case]:
    # What available transitions look at, loaded with the page rather than per case: contacts'
    # call types (dismiss) and whether a referral is active (refer, close).
    from django.apps import apps

    referrals = apps.get_model("referrals", "Referral").objects.filter(
        case=OuterRef("pk"), state__in=ACTIVE_REFERRAL_STATES
    )
    return (
        cases.select_related("helpline", "assigned_to", "team")
        .prefetch_related(
            Prefetch("contacts", queryset=Contact.objects.only("id", "case_id", "call_type", "channel"))
        )
        .annotate(active_referral_exists=Exists(referrals))
    )


# What a case shows in a list (cases.api.serializers.CaseSummaryOutput); the personal details,
# encrypted and not shown there, are not even read.
CASE_SUMMARY_FIELDS = (
    "id",
    "reference",
    "helpline",
    "state",
    "risk_level",
    "categories",
    "child_first_name",
    "child_age_range",
    "child_gender",
    "child_language",
    "vulnerability_flags",
    "assigned_to",
    "team",
    "next_action_due_at",
    "overdue_since",
    "state_changed_at",
    "restricted",
    "closed_at",
    "anonymised_at",
    "created_at",
    "updated_at",
)


# `?ordering=` of case lists: each term and the sort columns it stands for (helpline.api.pagination.
# KeysetOrderingFilter: `-term` is the exact reverse; the id ends every order). Risk orders go by the
# level's rank, not its name: `risk_level` runs from unassessed to critical, `-risk_level` from
# critical down. A case without a next action sorts after every due date (before them in reverse).
CASE_ORDERINGS: dict[str, tuple[str, ...]] = {
    # The intake queue: most severe first, then the soonest due, then the longest waiting.
    "urgency": ("risk_rank", "next_action_due_sort", "created_at"),
    "risk_level": ("-risk_rank",),
    "next_action_due_at": ("next_action_due_sort",),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "id": ("id",),
}


def case_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Case]:
    """Cases the caller may see, filtered; summary columns only (a list shows no details)."""
    case_filter = CaseFilter(data=filters or {}, queryset=case_queryset_for(user), region=_region(user))
    if not case_filter.is_valid():
        raise ValidationError(case_filter.errors)
    # The sort keys are read with the page: its cursors are made of them.
    return case_filter.qs.select_related("helpline").only(
        *CASE_SUMMARY_FIELDS, "risk_rank", "next_action_due_sort", "helpline__code"
    )


def _record_read(
    *,
    user: User,
    action: AuditAction,
    object_type: str,
    object_id: Any,
    case_id: int | None,
    allowed: bool,
    extra: Mapping[str, Any] | None = None,
) -> None:
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            object_type=object_type,
            object_id=object_id,
            case_id=case_id,
            outcome=AuditOutcome.ALLOWED if allowed else AuditOutcome.DENIED,
            extra=extra,
        )


def _break_glass_flag(user: User, case: Case | None) -> dict[str, bool]:
    """Reads of a restricted case that only a break-glass grant allows are flagged for review."""
    if case is None or not case.restricted or policy.CONDITIONS["has_need_to_know"].check(user, case):
        return {}
    return {"break_glass": True}


def case_get(
    *, user: User, case_id: int, action: AuditAction = AuditAction.CASE_READ, for_write: bool = False
) -> Case:
    """The case, if the caller may see it. A read is recorded either way; for a write only a refusal
    is recorded here (the write records itself)."""
    case = _with_related(case_queryset_for(user)).filter(pk=case_id).first()
    if case is None or not for_write:
        _record_read(
            user=user,
            action=action,
            object_type="cases.case",
            object_id=case_id,
            case_id=case_id if case else None,
            allowed=case is not None,
            extra=_break_glass_flag(user, case),
        )
    if case is None:
        raise NotFound()
    return case


def record_case_list_read(*, user: User, cases: list[Case], filters: Mapping[str, Any]) -> None:
    """One entry per page read, naming the cases on it."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.CASE_LIST,
            object_type="cases.case",
            extra={"case_ids": [c.pk for c in cases], "filters": audited_filters(filters)},
        )


def contact_queryset_for(user: User) -> QuerySet[Contact]:
    """Contacts in cases the user may see, plus (for helpline staff) their helpline's contacts not
    yet in any case."""
    if not policy.can(user, PolicyAction.CONTACT_VIEW):
        return Contact.objects.none()
    return Contact.objects.filter(
        Q(case__in=case_queryset_for(user)) | Q(case__isnull=True, helpline_id=user.helpline_id)
    )


class ContactFilter(django_filters.FilterSet):
    case = django_filters.NumberFilter(
        method="filter_case",
        help_text="The case's contacts, and those of the cases merged into it that the caller may see.",
    )
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    unattached = StrictBooleanFilter(field_name="case", lookup_expr="isnull")
    q = django_filters.CharFilter(
        method="filter_q",
        max_length=200,
        label=(
            "Search: contacts in the cases a case search finds (reference, names, the reporter's "
            "number), and contacts whose sender (SMS, WhatsApp, call) had this phone number."
        ),
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.helpline_id = user.helpline_id if user else None
        self.region = _region(user) if user else None

    def filter_case(self, queryset, name, value):
        # self.request is None here (the selector builds the filter): the user comes with it.
        case_id, user = int(value), self.user
        # Through merged cases only for a case the caller sees: a hidden one must read as no case.
        seen = user is not None and case_queryset_for(user).filter(pk=case_id).exists()
        merged = merged_case_ids(user, case_id) if seen else []
        return queryset.filter(case_id__in=[case_id, *merged])

    def filter_q(self, queryset, name, value):
        if queryset.query.is_empty():  # a caller who sees no contact: not even the index is read
            _search_text_checked(value)
            return queryset
        return queryset.filter(
            _search(value, region=self.region, field="case__search_tokens")
            | contact_phone_matches(value, region=self.region, helpline_id=self.helpline_id),
            # Anonymisation erases the senders' hashes too; an anonymised case's contacts are never
            # found, whatever an app above forgets.
            Q(case__isnull=True) | Q(case__anonymised_at__isnull=True),
        )


def contact_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Contact]:
    contact_filter = ContactFilter(data=filters or {}, queryset=contact_queryset_for(user), user=user)
    if not contact_filter.is_valid():
        raise ValidationError(contact_filter.errors)
    return contact_filter.qs.select_related("case")


def record_contact_list_read(
    *, user: User, contacts: list[Contact], filters: Mapping[str, Any] | None = None
) -> None:
    extra: dict[str, Any] = {"contact_ids": [c.pk for c in contacts]}
    if filters and "q" in filters:
        # A search is on record as one (never its text); other contact filters are not recorded.
        extra["filters"] = audited_filters(filters)
    with transaction.atomic():
        audit_record(actor=user, action=AuditAction.CONTACT_LIST, object_type="cases.contact", extra=extra)


def record_page_read(*, user: User, action: AuditAction, object_type: str, rows: list[Any]) -> None:
    """One entry per page of a queue of case data read (escalations, break-glass accesses,
    callbacks), naming its rows and their cases: who saw which case in a queue is on record."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            object_type=object_type,
            extra={"ids": [row.pk for row in rows], "case_ids": sorted({row.case_id for row in rows})},
        )


def contact_get(
    *, user: User, contact_id: int, action: AuditAction = AuditAction.CONTACT_READ, for_write: bool = False
) -> Contact:
    contact = contact_queryset_for(user).select_related("case").filter(pk=contact_id).first()
    if contact is None or not for_write:
        _record_read(
            user=user,
            action=action,
            object_type="cases.contact",
            object_id=contact_id,
            case_id=contact.case_id if contact else None,
            allowed=contact is not None,
        )
    if contact is None:
        raise NotFound()
    return contact


def note_list(*, user: User, case_id: int) -> QuerySet[Note]:
    """Notes of a case the caller may see (the case read is recorded as a note read)."""
    case = case_get(user=user, case_id=case_id, action=AuditAction.NOTE_LIST)
    # With the notes of the cases merged into it (each note names its case).
    case_ids = [case.pk, *merged_case_ids(user, case.pk)]
    return Note.objects.filter(case_id__in=case_ids).select_related("author").order_by("created_at", "id")


def case_contacts(*, case: Case) -> QuerySet[Contact]:
    """Contacts (every column) of a case the caller already fetched in their scope, oldest first."""
    return Contact.objects.filter(case_id=case.pk).order_by("started_at", "id")


def case_notes(*, user: User, case: Case) -> QuerySet[Note]:
    """Notes of a case the caller already fetched in their scope, its read on record (the
    console's case page: one read of the case shows its notes with it); with the notes of the
    cases merged into it."""
    case_ids = [case.pk, *merged_case_ids(user, case.pk)]
    return Note.objects.filter(case_id__in=case_ids).select_related("author").order_by("created_at", "id")


def escalation_list(*, user: User, acknowledged: bool | None = None) -> QuerySet[Escalation]:
    """Escalations of the cases the user can see (for supervisors, the whole helpline but for
    restricted cases they are not on the list of)."""
    if not policy.can(user, PolicyAction.ESCALATION_VIEW):
        return Escalation.objects.none()
    escalations = Escalation.objects.filter(case__in=case_queryset_for(user))
    if acknowledged is not None:
        escalations = escalations.filter(acknowledged_at__isnull=not acknowledged)
    return escalations.select_related("case", "team", "acknowledged_by")


def escalation_get(*, user: User, escalation_id: int) -> Escalation:
    escalation = escalation_list(user=user).filter(pk=escalation_id).first()
    if escalation is None:
        raise NotFound()
    return escalation


def _case_for(*, user: User, case_id: int, permission: PolicyAction, action: AuditAction) -> Case:
    """A case the user can see AND may take `permission` on; anything else is 404. The read is
    recorded as `action` either way (naming the case only when it was allowed)."""
    case = case_queryset_for(user).filter(pk=case_id).first()
    allowed = case is not None and policy.can(user, permission, case)
    _record_read(
        user=user,
        action=action,
        object_type="cases.case",
        object_id=case_id,
        case_id=case_id if allowed else None,
        allowed=allowed,
    )
    if not allowed:
        raise NotFound()
    return case


def case_history(*, user: User, case_id: int) -> QuerySet[AuditEntry]:
    """A case's full audit trail, oldest first (policy "case.history"); the view itself is recorded."""
    _case_for(
        user=user, case_id=case_id, permission=PolicyAction.CASE_HISTORY, action=AuditAction.CASE_HISTORY
    )
    # Changes made to this case outside the services join the timeline before it is read.
    from .services import reconcile_row_history

    # With the history of the cases merged into it: both histories, as recorded.
    case_ids = [case_id, *merged_case_ids(user, case_id)]
    for one in case_ids:
        reconcile_row_history(case_id=one)
    return AuditEntry.objects.filter(case_id__in=case_ids).select_related("actor").order_by("at", "id")


def category_list(*, user: User) -> QuerySet[Category]:
    """The visible categories of the caller's helpline (not case data: any signed-in staff)."""
    if user.helpline_id is None:
        return Category.objects.none()
    return Category.objects.filter(helpline_id=user.helpline_id, is_hidden=False)


# --- restricted cases -------------------------------------------------------------------------------


def case_for_break_glass(*, user: User, case_id: int) -> Case:
    """A restricted case of the supervisor's helpline they may break the glass on (404 otherwise;
    the attempt is recorded either way)."""
    case = Case.objects.filter(pk=case_id, helpline_id=user.helpline_id).select_related("helpline").first()
    allowed = case is not None and policy.can(user, PolicyAction.CASE_BREAK_GLASS, case)
    if not allowed:
        _record_read(
            user=user,
            action=AuditAction.CASE_BREAK_GLASS,
            object_type="cases.case",
            object_id=case_id,
            case_id=None,
            allowed=False,
        )
        raise NotFound()
    return case


def case_access_list(*, user: User, case: Case) -> list[CaseAccess]:
    """The need-to-know list of a case the caller can see (supervisors)."""
    if not policy.can(user, PolicyAction.CASE_RESTRICT, case):
        raise NotFound()
    return list(
        CaseAccess.objects.filter(
            case=case, kind=AccessKind.NEED_TO_KNOW, revoked_at__isnull=True
        ).select_related("user")
    )


def break_glass_list(*, user: User, reviewed: bool | None = None) -> QuerySet[CaseAccess]:
    """Break-glass accesses in the supervisor's helpline, for review."""
    if not policy.can(user, PolicyAction.AUDIT_READ):
        return CaseAccess.objects.none()
    grants = CaseAccess.objects.filter(kind=AccessKind.BREAK_GLASS, case__helpline_id=user.helpline_id)
    if reviewed is not None:
        grants = grants.filter(reviewed_at__isnull=not reviewed)
    return grants.select_related("case", "user", "reviewed_by")


def break_glass_get(*, user: User, grant_id: int) -> CaseAccess:
    grant = break_glass_list(user=user).filter(pk=grant_id).first()
    if grant is None:
        raise NotFound()
    return grant


def reporter_phone_for(*, user: User, case: Case) -> str:
    """The reporter's number as this user may see it: in full with the policy's
    "case.view_reporter_phone", otherwise only its last 3 digits."""
    return phone_as_seen_by(user=user, case=case, number=case.reporter_phone or "")


def phone_as_seen_by(*, user: User, case: Case, number: str) -> str:
    """A reporter's number of `case` (also a copy of it, as a referral's packet holds) as this user
    may see it: in full with "case.view_reporter_phone", otherwise only its last 3 digits."""
    if not number or policy.can(user, PolicyAction.CASE_VIEW_REPORTER_PHONE, case):
        return number
    return "*" * max(len(number) - 3, 0) + number[-3:]


def case_access_get(*, user: User, case_id: int) -> tuple[Case, list[CaseAccess]]:
    """A case and its need-to-know list, for a supervisor who may restrict it (404 for anyone
    else); the read is recorded either way."""
    case = _case_for(
        user=user, case_id=case_id, permission=PolicyAction.CASE_RESTRICT, action=AuditAction.CASE_ACCESS
    )
    return case, case_access_list(user=user, case=case)


# --- links and merged cases -------------------------------------------------------------------------


def merged_case_ids(user: User, case_id: int) -> list[int]:
    """Ids of the cases merged into this one (and into those, and so on) that the user may see:
    the survivor of a merge reads their notes, contacts and history through it."""
    # Most cases have none: one look by the merged-into index, without building the caller's scope.
    if not Case.objects.filter(merged_into_id=case_id).exists():
        return []
    visible = case_queryset_for(user)
    found: list[int] = []
    frontier = [case_id]
    while frontier:
        frontier = [
            pk
            for pk in visible.filter(merged_into_id__in=frontier).values_list("pk", flat=True)
            if pk not in found and pk != case_id
        ]
        found += frontier
    return found


def _with_other(links: list[CaseLink], case_id: int) -> list[CaseLink]:
    for link in links:
        link.other = link.case_high if link.case_low_id == case_id else link.case_low
    return links


def case_link_list(*, user: User, case_id: int, case: Case | None = None) -> list[CaseLink]:
    """The links of a case the caller may see, each to a case they may see too (`.other`): a link
    to a case hidden from them (restricted, another team's) is left out altogether, so nothing
    tells them it exists. The read is recorded, naming the linked cases shown. `case`: the case the
    caller has just fetched in their scope, its read on record (the console's case page); an empty
    list then shows nothing that read did not, and is not recorded again."""
    case_read_recorded = case is not None and case.pk == case_id
    if not case_read_recorded:
        case = case_queryset_for(user).filter(pk=case_id).first()
    links: list[CaseLink] = []
    if case is not None:
        linked = CaseLink.objects.filter(Q(case_low=case) | Q(case_high=case), removed_at__isnull=True)
        links = list(linked.order_by("created_at", "id"))
        # Their cases and authors only when there are links (most cases have none).
        prefetch_related_objects(links, "case_low", "case_high", "created_by")
        others = {link.case_high_id if link.case_low_id == case.pk else link.case_low_id for link in links}
        shown = policy.visible_case_ids(user, others)
        links = [link for link in _with_other(links, case.pk) if link.other.pk in shown]
    if case_read_recorded and not links:
        return links
    _record_read(
        user=user,
        action=AuditAction.CASE_LINK_LIST,
        object_type="cases.case",
        object_id=case_id,
        case_id=case_id if case else None,
        allowed=case is not None,
        extra={"case_ids": sorted(link.other.pk for link in links)} if case else None,
    )
    if case is None:
        raise NotFound()
    return links


def case_link_get(*, user: User, link_id: int, action: AuditAction) -> CaseLink:
    """A link, for a write: both of its cases visible to the caller, or 404 (a refusal is
    recorded; the write records itself)."""
    visible = case_queryset_for(user)
    link = (
        CaseLink.objects.filter(pk=link_id)
        .filter(case_low__in=visible, case_high__in=visible)
        .select_related("case_low", "case_high", "created_by", "removed_by")
        .first()
    )
    if link is None:
        _record_read(
            user=user,
            action=action,
            object_type="cases.caselink",
            object_id=link_id,
            case_id=None,
            allowed=False,
        )
        raise NotFound()
    return link
