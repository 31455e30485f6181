"""Supervisors' oversight: the helpline's audit log (search, the chain's verification, the CSV
export), the break-glass accesses to review, opening a restricted case by breaking the glass, and
the teams' workload.

Each page does what the API's operation does (helpline/api/audit.py, cases/api/access.py): the same
selectors, filters, input serializers and services, and the same audit entries, refusals included.
The audit filters (action, actor, case, outcome, times) are no personal data: they travel in the
address, as the API's, so a search can be bookmarked and exported as shown."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from rest_framework.exceptions import APIException

from cases import selectors as case_selectors
from cases import services as case_services
from cases.api.serializers import BreakGlassInput, CaseAccessInput
from helpline import crypto, policy
from helpline import selectors as helpline_selectors
from helpline.audit import verify_chain
from helpline.audit_export import EXPORT_LIMIT, audit_csv
from helpline.models import AuditEntry, AuditOutcome
from helpline.vocabulary import AuditAction, PolicyAction
from referrals import selectors as referral_selectors
from referrals import webhooks
from referrals.api.serializers import WebhookApproveInput
from referrals.models import Agency, WebhookChangeState

from ..base import ConsoleView, Fetch, NoObject, Own, Refused, Scoped
from ..selectors import (
    break_glass_for_review,
    case_id_of_reference,
    helpline_people,
    need_to_know_candidates,
    record_refusal,
    team_workload,
)
from .workspace import _valid

AUDIT_PAGE = 50
LIST_LENGTH = 100
# The filters of GET /api/v1/audit/ a supervisor sets in the console (helpline.selectors.AuditFilter).
AUDIT_FILTERS = ("action", "actor", "case", "outcome", "at_after", "at_before", "review")
AN_ID = re.compile(r"[0-9]{1,18}")

# --- the audit log -----------------------------------------------------------------------------------


def _audit_filters(request: HttpRequest) -> dict[str, str]:
    """The audit filters the person set (empty fields of the form are no filter)."""
    return {name: request.GET[name].strip() for name in AUDIT_FILTERS if request.GET.get(name, "").strip()}


def _action_choices() -> list[str]:
    """Every action of the vocabulary and each family's prefix (`case.`), for the action field."""
    actions = sorted(str(a) for a in AuditAction)
    return sorted({a.split(".")[0] + "." for a in actions}) + actions


def _opened(entries: list[AuditEntry]) -> None:
    """Reasons sealed under their case's key opened for the reader, as the API's list and export
    do (helpline.crypto; "[erased]" once the case was anonymised). One query for the page."""
    sealed = {e.case_id for e in entries if any(crypto.is_sealed(v) for v in (e.extra or {}).values())}
    keys = crypto.case_keys(sealed)
    for entry in entries:
        entry.extra = crypto.unsealed(entry.extra or {}, case_id=entry.case_id, keys=keys)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1) if value else ""


class AuditView(ConsoleView):
    """The helpline's audit log, newest first, filtered as GET /api/v1/audit/ is; a page of
    AUDIT_PAGE entries, older ones after `before` (an entry's id). The search is itself recorded."""

    template_name = "console/oversight_audit.html"
    page = PolicyAction.AUDIT_READ
    scope = {"get": Scoped(helpline_selectors.audit_list)}
    query_fields = frozenset({*AUDIT_FILTERS, "before"})

    def get(self, request: HttpRequest) -> HttpResponse:
        filters = _audit_filters(request)
        entries = self.scoped(filters=filters).order_by("-id")
        before = request.GET.get("before", "")
        if before:
            if not AN_ID.fullmatch(before):
                raise Refused(
                    400, [_("Some of what you entered needs correcting.")], {"before": [_("A number.")]}
                )
            entries = entries.filter(pk__lt=int(before))
        rows = list(entries[: AUDIT_PAGE + 1])
        more, rows = len(rows) > AUDIT_PAGE, rows[:AUDIT_PAGE]
        helpline_selectors.record_audit_read(
            user=request.user, action=AuditAction.AUDIT_LIST, filters=filters, count=len(rows)
        )
        rows = list(helpline_selectors.audit_entries_for_reader(user=request.user, entries=rows))
        _opened(rows)
        query = urlencode(filters)
        return self.render(
            {
                "entries": [{"entry": e, "changes": _json(e.changes), "extra": _json(e.extra)} for e in rows],
                "chosen": filters,
                "people": list(helpline_people(user=request.user)),
                "actions": _action_choices(),
                "outcomes": AuditOutcome.choices,
                "query": query,
                "older": urlencode({**filters, "before": rows[-1].pk}) if more else "",
                "paged": bool(before),
            }
        )


class AuditExportView(ConsoleView):
    """The filtered audit log as a CSV file, as GET /api/v1/audit/export/ writes it (oldest first,
    times in the helpline's zone, no cell that starts a formula); the export is recorded."""

    page = PolicyAction.AUDIT_READ
    scope = {"get": Scoped(helpline_selectors.audit_list)}
    query_fields = frozenset(AUDIT_FILTERS)

    def get(self, request: HttpRequest) -> HttpResponse:
        filters = _audit_filters(request)
        rows = list(self.scoped(filters=filters).order_by("id")[: EXPORT_LIMIT + 1])
        if len(rows) > EXPORT_LIMIT:
            raise Refused(
                400,
                [
                    _("More than %(limit)s entries match; narrow the time range.")
                    % {"limit": number_format(EXPORT_LIMIT, force_grouping=True)}
                ],
            )
        helpline_selectors.record_audit_read(
            user=request.user, action=AuditAction.AUDIT_EXPORT, filters=filters, count=len(rows)
        )
        rows = list(helpline_selectors.audit_entries_for_reader(user=request.user, entries=rows))
        response = HttpResponse(
            audit_csv(reader=request.user, rows=rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response


class AuditVerifyView(ConsoleView):
    """Re-computes the hash chain of the helpline's audit log, as GET /api/v1/audit/verify/ does,
    and says whether it is intact or names the first entry that does not match."""

    template_name = "console/oversight_verify.html"
    page = PolicyAction.AUDIT_READ
    scope = {
        "get": Own("the caller's own helpline's chain, once the policy lets the caller read the audit log")
    }

    def get(self, request: HttpRequest) -> HttpResponse:
        report = verify_chain(request.user.helpline_id)
        helpline_selectors.record_audit_read(
            user=request.user, action=AuditAction.AUDIT_VERIFY, filters={}, count=report.entries
        )
        return self.render(
            {
                "intact": report.ok,
                "entries": report.entries,
                "first_broken_entry": report.first_broken.pk if report.first_broken else None,
                "problem": report.problem,
            }
        )


# --- break-glass: review, and opening a restricted case ----------------------------------------------


class BreakGlassView(ConsoleView):
    """Emergency accesses to restricted cases, newest first: those not yet reviewed (or, with
    `reviewed=true`, those reviewed), for another supervisor to review. The page read is recorded
    as GET /api/v1/break-glass/'s."""

    template_name = "console/oversight_break_glass.html"
    page = PolicyAction.AUDIT_READ
    scope = {"get": Scoped(case_selectors.break_glass_list)}
    query_fields = frozenset({"reviewed"})

    def get(self, request: HttpRequest) -> HttpResponse:
        reviewed = request.GET.get("reviewed", "false")
        if reviewed not in ("true", "false"):
            raise Refused(
                400,
                [_("Some of what you entered needs correcting.")],
                {"reviewed": [_("Must be true or false.")]},
            )
        grants = list(self.scoped(reviewed=reviewed == "true").order_by("-id")[:LIST_LENGTH])
        case_selectors.record_page_read(
            user=request.user,
            action=AuditAction.CASE_BREAK_GLASS_LIST,
            object_type="cases.caseaccess",
            rows=grants,
        )
        visible = policy.visible_case_ids(request.user, [g.case_id for g in grants])
        return self.render(
            {
                "grants": [{"grant": g, "visible": g.case_id in visible} for g in grants],
                "reviewed": reviewed == "true",
            }
        )


class BreakGlassReviewView(ConsoleView):
    """Another supervisor marks an emergency access reviewed (cases.services.break_glass_review):
    not one's own (403), not twice (409); both refusals on the record, as the API's."""

    page = PolicyAction.AUDIT_READ
    scope = {"post": Fetch(break_glass_for_review, "grant_id")}
    fields = {"post": frozenset()}

    def post(self, request: HttpRequest, grant_id: int) -> HttpResponse:
        grant = self.object
        try:
            case_services.break_glass_review(actor=request.user, grant=grant)
        except APIException as refused:
            record_refusal(
                user=request.user,
                action=AuditAction.CASE_BREAK_GLASS_REVIEW,
                object_type="cases.caseaccess",
                object_id=grant_id,
                case_id=grant.case_id,
                status=refused.status_code,
            )
            raise
        return HttpResponseRedirect(reverse("console:oversight-break-glass"))


class RestrictedView(ConsoleView):
    """Opening a restricted case in an emergency: the case (its reference or number) and a reason;
    the supervisor gets a time-limited access (cases.services.case_break_glass), flagged in the
    audit log and listed for review, and goes on to the case. A case they may already see needs no
    broken glass: they go straight to it."""

    template_name = "console/oversight_restricted.html"
    page = PolicyAction.DASHBOARD_VIEW
    scope = {
        "get": NoObject("a blank form: the case is named in the POST"),
        "post": Scoped(case_selectors.case_for_break_glass),
    }
    fields = {"post": frozenset({"case", "reason"})}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({})

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        named = request.POST.get("case", "").strip()
        if not named:
            raise Refused(
                400,
                [_("Some of what you entered needs correcting.")],
                {"case": [_("This field is required.")]},
            )
        case_id = int(named) if AN_ID.fullmatch(named) else case_id_of_reference(user=user, reference=named)
        if case_id is None:
            # No case of the helpline has this reference: a refusal on the record, as an unknown id's.
            record_refusal(
                user=user,
                action=AuditAction.CASE_BREAK_GLASS,
                object_type="cases.case",
                object_id="",
                case_id=None,
                status=404,
            )
            raise Http404
        if policy.visible_case_ids(user, [case_id]):
            return HttpResponseRedirect(reverse("console:case", args=[case_id]))
        case = self.scoped(case_id=case_id)  # 404 outside the helpline or not restricted, recorded
        try:
            fields = _valid(BreakGlassInput, {"reason": request.POST.get("reason", "")})
        except Refused:
            record_refusal(
                user=user,
                action=AuditAction.CASE_BREAK_GLASS,
                object_type="cases.case",
                object_id=case.pk,
                case_id=case.pk,
                status=400,
            )
            raise
        case_services.case_break_glass(actor=user, case=case, **fields)
        return HttpResponseRedirect(reverse("console:case", args=[case.pk]))


class CaseAccessView(ConsoleView):
    """A case's need-to-know list, and restricting the case to it, as GET and PUT
    /api/v1/cases/{id}/access/ (cases.services.case_set_access): the supervisor who sets the list
    stays on it; everyone else, other supervisors included, then no longer sees the case. The read
    is recorded (case.access), the change too (case.restrict), and so is a refusal."""

    template_name = "console/oversight_access.html"
    page = PolicyAction.DASHBOARD_VIEW
    scope = {
        "get": Fetch(case_selectors.case_access_get, "case_id"),
        "post": Fetch(case_selectors.case_get, "case_id", action=AuditAction.CASE_RESTRICT, for_write=True),
    }
    fields = {"post": frozenset({"users"})}

    def get(self, request: HttpRequest, case_id: int) -> HttpResponse:
        case, grants = self.object
        on_the_list = {grant.user_id for grant in grants}
        return self.render(
            {
                "case": case,
                "grants": grants,
                "people": [
                    {"person": person, "on_the_list": person.pk in on_the_list}
                    for person in need_to_know_candidates(user=request.user)
                ],
            }
        )

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        case = self.object
        try:
            fields = _valid(
                CaseAccessInput, {"users": request.POST.getlist("users")}, context={"request": request}
            )
            case_services.case_set_access(actor=request.user, case=case, users=fields["users"])
        except (Refused, APIException, DjangoValidationError) as refused:
            record_refusal(
                user=request.user,
                action=AuditAction.CASE_RESTRICT,
                object_type="cases.case",
                object_id=case.pk,
                case_id=case.pk,
                status=getattr(refused, "status", None) or getattr(refused, "status_code", 400),
            )
            raise
        return HttpResponseRedirect(reverse("console:oversight-case-access", args=[case.pk]))


# --- workload ------------------------------------------------------------------------------------------


class WorkloadView(ConsoleView):
    """Open cases per team and per person of the helpline (counts only)."""

    template_name = "console/oversight_workload.html"
    page = PolicyAction.DASHBOARD_VIEW
    scope = {"get": Scoped(team_workload)}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({"workload": self.scoped()})


# --- agencies' webhook changes ---------------------------------------------------------------------


class WebhookChangesView(ConsoleView):
    """Changes of agencies' webhook addresses an administrator proposed, waiting for a supervisor
    (not the proposer) to approve them, then for the endpoint to answer its challenge (mirrors
    `POST /api/v1/agencies/{id}/webhook/approve/`)."""

    template_name = "console/oversight_webhooks.html"
    page = PolicyAction.AGENCY_APPROVE_WEBHOOK
    page_probe = staticmethod(lambda user: Agency(helpline_id=user.helpline_id))
    scope = {"get": Scoped(referral_selectors.agency_queryset_for)}

    def get(self, request: HttpRequest) -> HttpResponse:
        waiting = [
            (agency, change)
            for agency in self.scoped()
            for change in agency.webhook_changes.all()
            if change.state in (WebhookChangeState.PENDING, WebhookChangeState.APPROVED)
        ]
        return self.render({"waiting": waiting})


class WebhookApproveView(ConsoleView):
    page = PolicyAction.AGENCY_APPROVE_WEBHOOK
    page_probe = staticmethod(lambda user: Agency(helpline_id=user.helpline_id))
    scope = {"post": Fetch(referral_selectors.agency_get, "agency_id")}
    fields = {"post": frozenset({"change"})}

    def post(self, request: HttpRequest, agency_id: int) -> HttpResponse:
        fields = _valid(WebhookApproveInput, {"change": request.POST.get("change", "")})
        webhooks.webhook_change_approve(actor=request.user, agency=self.object, change_id=fields["change"])
        return HttpResponseRedirect(reverse("console:oversight-webhooks"))
