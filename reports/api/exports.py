"""Exports of a helpline's records (issue #18): asked for here, written by the worker, downloaded
by their requester only. Thin: the input validated here, everything else in reports.exports."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, NoObject, Scoped
from helpline.api.schema import ErrorResponse409Serializer
from helpline.vocabulary import AuditAction

from ..exports import selectors, services
from ..exports.datasets import dictionary
from ..exports.writers import CONTENT_TYPES
from ..models import Export
from .export_serializers import DictionaryDataset, ExportOutput, ExportRequestInput
from .views import FileByQuery

OBJECT = "reports.export"


@extend_validation_errors(["period_reversed", "period_too_long"], field_name="date_to", methods=["post"])
@extend_validation_errors(["reason_required"], field_name="reason", methods=["post"])
class ExportListView(APIView):
    audit_actions = {"get": (AuditAction.EXPORT_LIST, OBJECT), "post": (AuditAction.EXPORT_REQUEST, OBJECT)}
    scope = {
        "get": Scoped(selectors.exports_visible),
        "post": NoObject("asks for an export of the caller's own helpline (reports.exports.services)"),
    }
    serializer_class = ExportOutput
    queryset = Export.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(
        operation_id="exports_list",
        summary="The caller's exports (and, for administrators, full exports to review)",
        description=(
            "The exports the caller asked for, newest first, with their state and, while written, "
            "their progress; for the helpline's administrators also its full exports, to review "
            "(who asked, why, what: never the file). On record."
        ),
        responses=ExportOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        selectors.record_exports_read(user=request.user, action=AuditAction.EXPORT_LIST, exports=page)
        return self.get_paginated_response(ExportOutput(page, many=True).data)

    @extend_schema(
        operation_id="exports_create",
        summary="Ask for an export of cases, contacts, referrals or messages (supervisors)",
        description=(
            "Queues an export of the caller's helpline's records in the period (days on its clock) "
            "that the caller may read, as CSV, XLSX (up to a sheet's 1,048,575 rows), NDJSON or "
            "Parquet; the worker writes it into a file encrypted at rest, downloadable by the "
            "caller only (`GET /api/v1/exports/{id}/file/`) for `EXPORT_KEEP_HOURS` (72). "
            "Pseudonymised by default (docs/reports.md, the data dictionary at "
            "`GET /api/v1/exports/dictionary/`); `mode=full` needs a `reason` and is flagged for the "
            "administrators' review. Supervisors of the helpline; 404 otherwise. On record."
        ),
        request=ExportRequestInput,
        responses={202: ExportOutput},
    )
    def post(self, request: Request) -> Response:
        data = ExportRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        export = services.export_request(user=request.user, **data.validated_data)
        return Response(ExportOutput(export).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailView(APIView):
    audit_actions = {"get": (AuditAction.EXPORT_READ, OBJECT)}
    scope = {"get": Fetch(selectors.export_get, "export_id")}
    serializer_class = ExportOutput

    @extend_schema(
        operation_id="exports_read",
        summary="An export's state and progress",
        description=(
            "One of the caller's exports (or, for an administrator, a full export to review). On record."
        ),
        responses=ExportOutput,
    )
    def get(self, request: Request, export_id: int) -> Response:
        selectors.record_exports_read(
            user=request.user, action=AuditAction.EXPORT_READ, exports=[self.object]
        )
        return Response(ExportOutput(self.object).data)


class ExportFileView(APIView):
    audit_actions = {"get": (AuditAction.EXPORT_DOWNLOAD, OBJECT)}
    # Only the requester: anyone else, whatever their role, gets 404.
    scope = {"get": Fetch(selectors.export_to_download, "export_id")}
    content_negotiation_class = FileByQuery

    @extend_schema(
        operation_id="exports_file",
        summary="Download an export (its requester only)",
        description=(
            "The export's file, decrypted as it is sent. Its requester only (404 for anyone else); "
            "409 `export_not_ready` while it is written, `export_failed` if it failed; 410 "
            "`export_expired` once past its time. A HEAD sends no file and is no download. Each "
            "download is on record."
        ),
        responses={
            (200, CONTENT_TYPES["csv"]): OpenApiTypes.STR,
            (200, CONTENT_TYPES["xlsx"]): OpenApiTypes.BINARY,
            (200, CONTENT_TYPES["ndjson"]): OpenApiTypes.STR,
            (200, CONTENT_TYPES["parquet"]): OpenApiTypes.BINARY,
            409: ErrorResponse409Serializer,
            410: OpenApiResponse(ErrorResponse409Serializer, description="The export expired."),
        },
    )
    def get(self, request: Request, export_id: int) -> StreamingHttpResponse:
        export = self.object
        # HEAD answers as GET would, without the file and without counting as a download.
        chunks = services.export_download(user=request.user, export=export, record=request.method != "HEAD")
        response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[export.file_format])
        name = f"{export.dataset}-{export.date_from}-{export.date_to}-{export.pk}.{export.file_format}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response


class ExportReviewView(APIView):
    audit_actions = {"post": (AuditAction.EXPORT_REVIEW, OBJECT)}
    scope = {"post": Fetch(selectors.export_to_review, "export_id")}
    serializer_class = ExportOutput

    @extend_schema(
        operation_id="exports_review",
        summary="Record that a full export was reviewed (administrators)",
        description=(
            "An administrator of the helpline records that they reviewed a full export (who asked "
            "for it, why, what it held). 409 `already_reviewed`. 404 for anyone else. On record."
        ),
        request=None,
        responses={200: ExportOutput, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, export_id: int) -> Response:
        export = services.export_review(user=request.user, export=self.object)
        return Response(ExportOutput(export).data)


class ExportDictionaryView(APIView):
    scope = {"get": Scoped(selectors.export_helpline)}
    serializer_class = DictionaryDataset
    queryset = Export.objects.none()  # no stored object: the dictionary is the code's
    pagination_class = None  # one short list, whole
    audit_actions = {"get": (AuditAction.EXPORT_LIST, "helpline.helpline")}

    @extend_schema(
        operation_id="exports_dictionary",
        summary="The exports' data dictionary",
        description=(
            "Every export's columns: type, description, the model's personal-data tag, and what a "
            "pseudonymised export does with it (kept, rekeyed, left_out). Supervisors; 404 otherwise."
        ),
        responses=DictionaryDataset(many=True),
    )
    def get(self, request: Request) -> Response:
        self.scoped()
        return Response(DictionaryDataset(dictionary(), many=True).data)
