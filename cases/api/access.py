"""Who may see a restricted case: its need-to-know list, break-glass access and its review."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, Scoped
from helpline.api.params import optional_bool
from helpline.api.schema import ErrorResponse409Serializer
from helpline.vocabulary import AuditAction

from .. import selectors, services
from ..models import Case, CaseAccess
from .pages import PaginatedView
from .serializers import (
    BreakGlassInput,
    BreakGlassOutput,
    CaseAccessInput,
    CaseAccessOutput,
)


class CaseAccessView(APIView):
    audit_actions = {
        "get": (AuditAction.CASE_ACCESS, "cases.case"),
        "put": (AuditAction.CASE_RESTRICT, "cases.case"),
    }
    scope = {
        "get": Fetch(selectors.case_access_get, "case_id"),  # the case and its grants
        "put": Fetch(selectors.case_get, "case_id", action=AuditAction.CASE_RESTRICT, for_write=True),
    }

    serializer_class = CaseAccessOutput

    @staticmethod
    def _render(case, grants) -> Response:
        return Response(CaseAccessOutput({"restricted": case.restricted, "need_to_know": grants}).data)

    @extend_schema(
        operation_id="cases_access_retrieve",
        description=(
            "The users who may still see a restricted case (its need-to-know list). Supervisors of the "
            "case's helpline; 404 otherwise."
        ),
        summary="A case's need-to-know list (supervisors)",
    )
    def get(self, request: Request, case_id: int) -> Response:
        return self._render(*self.object)

    @extend_schema(
        operation_id="cases_access_update",
        summary="Restrict a case to a need-to-know list (supervisors)",
        description="Replaces the list; the calling supervisor always stays on it. Everyone else, other "
        "supervisors included, then gets 404 for the case and no longer sees it in lists.",
        request=CaseAccessInput,
        responses={200: CaseAccessOutput, 403: ErrorResponse403Serializer},
    )
    def put(self, request: Request, case_id: int) -> Response:
        data = CaseAccessInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        services.case_set_access(actor=request.user, case=self.object, users=data.validated_data["users"])
        case = Case.objects.get(pk=self.object.pk)
        return self._render(case, selectors.case_access_list(user=request.user, case=case))


class CaseBreakGlassView(APIView):
    audit_actions = {"post": (AuditAction.CASE_BREAK_GLASS, "cases.case")}
    scope = {"post": Fetch(selectors.case_for_break_glass, "case_id")}

    serializer_class = BreakGlassInput

    @extend_schema(
        operation_id="cases_break_glass",
        summary="Open a restricted case in an emergency (supervisors)",
        description="Grants the calling supervisor access for a limited time; flagged in the audit log "
        "and listed at /api/v1/break-glass/ for review by another supervisor.",
        request=BreakGlassInput,
        responses={201: BreakGlassOutput},
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = BreakGlassInput(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.case_break_glass(actor=request.user, case=self.object, **data.validated_data)
        return Response(BreakGlassOutput(grant).data, status=status.HTTP_201_CREATED)


@extend_validation_errors(["invalid"], field_name="reviewed", methods=["get"])
class BreakGlassListView(PaginatedView):
    audit_actions = {"get": (AuditAction.CASE_BREAK_GLASS_LIST, "cases.caseaccess")}
    scope = {"get": Scoped(selectors.break_glass_list)}
    serializer_class = BreakGlassOutput
    queryset = CaseAccess.objects.none()

    @extend_schema(
        operation_id="break_glass_list",
        description=(
            "Emergency accesses to restricted cases (break-glass), newest first, for another supervisor"
            " to review. Supervisors only; 404 for other roles."
        ),
        summary="Break-glass accesses to review (supervisors)",
        parameters=[OpenApiParameter("reviewed", bool, description="Only (un)reviewed ones")],
        responses=BreakGlassOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        reviewed = optional_bool(request, "reviewed")
        return self.paginated(
            self.scoped(reviewed=reviewed),
            BreakGlassOutput,
            on_page=lambda page: selectors.record_page_read(
                user=request.user,
                action=AuditAction.CASE_BREAK_GLASS_LIST,
                object_type="cases.caseaccess",
                rows=page,
            ),
        )


class BreakGlassReviewView(APIView):
    audit_actions = {"post": (AuditAction.CASE_BREAK_GLASS_REVIEW, "cases.caseaccess")}
    scope = {"post": Fetch(selectors.break_glass_get, "grant_id")}

    def audit_case_id(self) -> int | None:
        return CaseAccess.objects.filter(pk=self.kwargs["grant_id"]).values_list("case_id", flat=True).first()

    serializer_class = BreakGlassOutput

    @extend_schema(
        operation_id="break_glass_review",
        summary="Review a break-glass access (another supervisor)",
        description=(
            "A supervisor other than the one who used it marks the emergency access reviewed. 403 for "
            "the supervisor's own access, 409 `already_reviewed`, 404 outside the caller's helpline."
        ),
        request=None,
        responses={200: BreakGlassOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, grant_id: int) -> Response:
        grant = services.break_glass_review(actor=request.user, grant=self.object)
        return Response(BreakGlassOutput(grant).data)
