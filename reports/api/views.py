"""The helpline's numbers (issue #18): reports read from the roll-ups. Thin: the query validated
here, the report read (and recorded) by reports.selectors."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Scoped
from helpline.vocabulary import AuditAction

from .. import selectors
from ..cases_report import CaseFilters, case_report
from ..files import CONTENT_TYPES, FileFormat, table_file
from ..sharing import case_report_table, chi_report_table, contact_report_table
from .serializers import (
    CASE_QUERY_ERRORS,
    CHI_QUERY_ERRORS,
    QUERY_ERRORS,
    CaseReportOutput,
    CaseReportQuery,
    ChiReportOutput,
    ChiReportQuery,
    ContactReportOutput,
    ContactReportQuery,
)


def _query_errors(errors: dict[str, list[str]]):
    def documented(view):
        for name, codes in errors.items():
            view = extend_validation_errors(codes, field_name=name, methods=["get"])(view)
        return view

    return documented


class FileByQuery(DefaultContentNegotiation):
    """The answer's format is the query's `file`, not the Accept header: a client asking for
    text/csv gets the file it names with `file=csv` (and JSON errors), never a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _file(table, file_format: FileFormat, name: str) -> HttpResponse:
    response = HttpResponse(table_file(table, file_format), content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = f'attachment; filename="{name}.{file_format}"'
    return response


def _answers(output: type) -> dict:
    """A report's answers: JSON, or the file its query names."""
    return {
        (200, "application/json"): output,
        (200, "text/csv"): OpenApiTypes.STR,
        (200, CONTENT_TYPES[FileFormat.XLSX]): OpenApiTypes.BINARY,
    }


class ReportView(APIView):
    # The helpline the caller may read the numbers of, first: anyone else gets 404 whatever the
    # query (then the query is checked, then the report read, by the same rule again).
    scope = {"get": Scoped(selectors.report_helpline)}
    # A refusal (404, a bad query) is on record under the report's own action (helpline.api.errors).
    audit_actions = {"get": (AuditAction.REPORT_READ, "helpline.helpline")}
    content_negotiation_class = FileByQuery


@_query_errors(QUERY_ERRORS)
class ContactReportView(ReportView):
    serializer_class = ContactReportOutput

    @extend_schema(
        operation_id="reports_contacts",
        summary="Contacts in a period, grouped (supervisors)",
        description=(
            "The caller's helpline's contacts that started between `date_from` and `date_to` (both "
            "included, on the helpline's clock), grouped by up to two of channel, direction, call "
            "type, language, day, hour of the day and day of the week, with how many have ended and "
            "their mean length. Read from roll-ups kept up to date within seconds of each change, "
            "never from the raw contacts. With `file=csv` or `file=xlsx`, the report as a file to "
            "share, small counts suppressed (docs/reports.md). Supervisors of the helpline; 404 "
            "otherwise. On record."
        ),
        parameters=[ContactReportQuery],
        responses=_answers(ContactReportOutput),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        self.scoped()
        query = ContactReportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        filters = selectors.ContactFilters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            by=tuple(data.get("by", ())),
            channel=tuple(data.get("channel", ())),
            call_type=tuple(data.get("call_type", ())),
            file=data.get("file", ""),
        )
        report = selectors.contact_report(user=request.user, filters=filters)
        if not filters.file:
            return Response(ContactReportOutput(report).data)
        name = f"contacts-{report['helpline']}-{report['date_from']}-{report['date_to']}"
        return _file(contact_report_table(report), FileFormat(filters.file), name)


@_query_errors(CHI_QUERY_ERRORS)
class ChiReportView(ReportView):
    serializer_class = ChiReportOutput

    @extend_schema(
        operation_id="reports_chi",
        summary="Child Helpline International's annual figures (supervisors)",
        description=(
            "The year's inbound contacts in the terms of Child Helpline International's data "
            "framework: contact types (counselling, each non-counselling type), counselling "
            "contacts by channel, age band and gender, and reasons for contact (CHI's ten "
            "categories and their subcategories; a contact counts under each of its reasons). "
            "Mapped by reports/data/chi-mapping.yaml, whose version every answer names; every "
            "figure suppressed as for sharing (`<5`, `c`). `file=csv` or `file=xlsx` for the file "
            "to submit. Supervisors of the helpline; 404 otherwise. On record."
        ),
        parameters=[ChiReportQuery],
        responses=_answers(ChiReportOutput),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        helpline = self.scoped()
        query = ChiReportQuery(data=request.query_params, context={"timezone": helpline.timezone})
        query.is_valid(raise_exception=True)
        year, file = query.validated_data["year"], query.validated_data.get("file", "")
        report = selectors.chi_report(user=request.user, year=year, file=file)
        if not file:
            return Response(ChiReportOutput(report).data)
        return _file(chi_report_table(report), FileFormat(file), f"chi-{report['helpline']}-{year}")


@_query_errors(CASE_QUERY_ERRORS)
class CaseReportView(ReportView):
    serializer_class = CaseReportOutput

    @extend_schema(
        operation_id="reports_cases",
        summary="Cases opened and closed in a period; open and overdue cases now (supervisors)",
        description=(
            "The caller's helpline's cases opened and closed between `date_from` and `date_to` "
            "(both included, on the helpline's clock), grouped by up to two of day, day of the week, "
            "team and risk level (the case's risk now), filtered by team; and its open cases now by "
            "risk level with how many are past their next action's due time. Read from a day "
            "roll-up kept within seconds of each change. With `file=csv` or `file=xlsx`, the "
            "period's figures as a file to share, small counts suppressed. Supervisors of the "
            "helpline; 404 otherwise. On record."
        ),
        parameters=[CaseReportQuery],
        responses=_answers(CaseReportOutput),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        helpline = self.scoped()
        teams = [str(pk) for pk in helpline.teams.values_list("id", flat=True)]
        query = CaseReportQuery(data=request.query_params, context={"teams": teams})
        query.is_valid(raise_exception=True)
        data = query.validated_data
        filters = CaseFilters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            by=tuple(data.get("by", ())),
            team=tuple(data.get("team", ())),
            file=data.get("file", ""),
        )
        report = case_report(user=request.user, filters=filters)
        if not filters.file:
            return Response(CaseReportOutput(report).data)
        name = f"cases-{report['helpline']}-{report['date_from']}-{report['date_to']}"
        return _file(case_report_table(report), FileFormat(filters.file), name)
