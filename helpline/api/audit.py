"""The audit log for supervisors: search it, export it, verify its chain, see one user's activity."""

from django.http import HttpResponse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.vocabulary import AuditAction, PolicyAction

from .. import policy, selectors
from ..audit import verify_chain
from ..audit_export import EXPORT_LIMIT, audit_csv
from ..models import AuditEntry
from .base import APIView, Own, Scoped
from .pagination import OldestFirstPagination
from .serializers import AuditEntryOutput


class AuditListView(APIView):
    scope = {"get": Scoped(selectors.audit_list)}
    serializer_class = AuditEntryOutput
    queryset = AuditEntry.objects.none()
    filter_backends = [DjangoFilterBackend]  # describes the selector's filters in the schema
    filterset_class = selectors.AuditFilter

    @extend_schema(
        operation_id="audit_list",
        description=(
            "Supervisors search their helpline's audit log of every read and write, newest first: "
            "filters `case`, `actor`, `action` (exact, or a prefix ending in `.`), `object_type`, "
            "`object_id`, `outcome`, `at_after`, `at_before`, `review=true` for sign-in changes flagged"
            " for review. Entries of cases the supervisor may not see are left out. The search is "
            "itself audited. 404 for other roles."
        ),
        summary="Search the helpline's audit log (supervisors)",
        responses=AuditEntryOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        entries = self.scoped(filters=request.query_params)
        page = self.paginate_queryset(entries)
        selectors.record_audit_read(
            user=request.user, action=AuditAction.AUDIT_LIST, filters=request.query_params, count=len(page)
        )
        page = selectors.audit_entries_for_reader(user=request.user, entries=page)
        return self.get_paginated_response(AuditEntryOutput(page, many=True).data)


class AuditExportView(APIView):
    scope = {"get": Scoped(selectors.audit_list)}
    serializer_class = AuditEntryOutput
    queryset = AuditEntry.objects.none()
    filter_backends = [DjangoFilterBackend]
    filterset_class = selectors.AuditFilter
    pagination_class = None

    @extend_schema(
        operation_id="audit_export",
        description=(
            "The same filters as `GET /api/v1/audit/`, answered as a CSV file (cells that start a "
            "formula are quoted). Supervisors only; 404 for other roles."
        ),
        summary="The filtered audit log as CSV (supervisors; the export is itself audited)",
        filters=True,  # the audit log's filters, though the answer is no paginated list
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponse:
        entries = self.scoped(filters=request.query_params).order_by("id")
        rows = list(entries[: EXPORT_LIMIT + 1])
        if len(rows) > EXPORT_LIMIT:
            raise ValidationError(
                # The number as the reader's language groups digits (100 000 in Spanish, 100,000 in English).
                _("More than %(limit)s entries match; narrow the time range.")
                % {"limit": number_format(EXPORT_LIMIT, force_grouping=True)}
            )
        selectors.record_audit_read(
            user=request.user, action=AuditAction.AUDIT_EXPORT, filters=request.query_params, count=len(rows)
        )
        rows = selectors.audit_entries_for_reader(user=request.user, entries=rows)
        response = HttpResponse(
            audit_csv(reader=request.user, rows=rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response


class ChainStatus(serializers.Serializer):
    intact = serializers.BooleanField()
    entries = serializers.IntegerField()
    first_broken_entry = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField(allow_blank=True)


class AuditVerifyView(APIView):
    audit_actions = {"get": (AuditAction.AUDIT_VERIFY, "helpline.auditentry")}
    scope = {
        "get": Own("the caller's own helpline's chain, once the policy lets the caller read the audit log")
    }
    serializer_class = ChainStatus

    @extend_schema(
        operation_id="audit_verify",
        description=(
            "Re-computes the hash chain of the caller's helpline's audit log and answers whether it is "
            "intact and, if not, the first entry that does not match. Supervisors only; 404 for other "
            "roles."
        ),
        summary="Re-compute the helpline's audit hash chain (supervisors)",
        responses={200: ChainStatus},
    )
    def get(self, request: Request) -> Response:
        if not policy.can(request.user, PolicyAction.AUDIT_READ):
            raise NotFound()
        report = verify_chain(request.user.helpline_id)
        selectors.record_audit_read(
            user=request.user, action=AuditAction.AUDIT_VERIFY, filters={}, count=report.entries
        )
        return Response(
            {
                "intact": report.ok,
                "entries": report.entries,
                "first_broken_entry": report.first_broken.pk if report.first_broken else None,
                "problem": report.problem,
            }
        )


class UserActivityView(APIView):
    audit_actions = {"get": (AuditAction.USER_ACTIVITY, "helpline.user")}
    scope = {"get": Scoped(selectors.user_activity, kwarg="user_id")}
    serializer_class = AuditEntryOutput
    queryset = AuditEntry.objects.none()
    pagination_class = OldestFirstPagination

    @extend_schema(
        operation_id="users_activity",
        description=(
            "Every audit entry one person made, oldest first (cases the supervisor may not see left "
            "out). Supervisors of the person's helpline; 404 for other roles or for a person of another"
            " helpline."
        ),
        summary="Everything one user did, oldest first (supervisors)",
        responses=AuditEntryOutput(many=True),
    )
    def get(self, request: Request, user_id: int) -> Response:
        entries = self.scoped()
        page = selectors.audit_entries_for_reader(user=request.user, entries=self.paginate_queryset(entries))
        return self.get_paginated_response(AuditEntryOutput(page, many=True).data)
