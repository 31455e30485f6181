"""Escalations of overdue cases, and the helpline's categories."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, Scoped
from helpline.api.params import optional_bool
from helpline.api.schema import ErrorResponse409Serializer
from helpline.labels import labeller
from helpline.vocabulary import AuditAction

from .. import selectors, services
from ..models import Category, Escalation
from .pages import PaginatedView
from .serializers import (
    CategoryOutput,
    EscalationOutput,
)


@extend_validation_errors(["invalid"], field_name="acknowledged", methods=["get"])
class EscalationListView(PaginatedView):
    audit_actions = {"get": (AuditAction.ESCALATION_LIST, "cases.escalation")}
    scope = {"get": Scoped(selectors.escalation_list)}
    serializer_class = EscalationOutput
    queryset = Escalation.objects.none()

    @extend_schema(
        operation_id="escalations_list",
        description=(
            "Escalations raised for the caller's helpline: overdue cases (`overdue`), referrals expired"
            " unanswered (`referral_expired`) or rejected (`referral_rejected`), emergency referrals "
            "made without consent (`emergency_referral`), agencies that could not be notified "
            "(`delivery_failed`) and messages stored late after a database outage (`stored_late`); "
            "filter `acknowledged`. Operators and supervisors."
        ),
        summary="Escalations: cases that need a person now",
        parameters=[OpenApiParameter("acknowledged", bool, description="Only (un)acknowledged ones")],
        responses=EscalationOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        acknowledged = optional_bool(request, "acknowledged")
        return self.paginated(
            self.scoped(acknowledged=acknowledged),
            EscalationOutput,
            on_page=lambda page: selectors.record_page_read(
                user=request.user,
                action=AuditAction.ESCALATION_LIST,
                object_type="cases.escalation",
                rows=page,
            ),
        )


class EscalationAcknowledgeView(APIView):
    audit_actions = {"post": (AuditAction.ESCALATION_ACKNOWLEDGE, "cases.escalation")}
    scope = {"post": Fetch(selectors.escalation_get, "escalation_id")}

    def audit_case_id(self) -> int | None:
        return (
            Escalation.objects.filter(pk=self.kwargs["escalation_id"])
            .values_list("case_id", flat=True)
            .first()
        )

    serializer_class = EscalationOutput

    @extend_schema(
        operation_id="escalations_acknowledge",
        summary="Acknowledge an escalation (supervisors)",
        description=(
            "A supervisor marks the escalation seen. 403 for other roles, 409 `already_acknowledged`, "
            "404 outside the caller's helpline."
        ),
        request=None,
        responses={200: EscalationOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, escalation_id: int) -> Response:
        escalation = services.escalation_acknowledge(actor=request.user, escalation=self.object)
        return Response(EscalationOutput(escalation).data)


class CategoryListView(APIView):
    scope = {"get": Scoped(selectors.category_list)}
    serializer_class = CategoryOutput
    queryset = Category.objects.none()
    pagination_class = None  # a helpline's whole category list at once

    @extend_schema(
        operation_id="categories_list",
        description=(
            "The helpline's case categories (code and label, grouped), to fill a case's `categories`. "
            "Operators and supervisors."
        ),
        summary="The caller's helpline's case categories",
        responses=CategoryOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        labels = labeller(request.user.helpline)  # the caller's helpline's wording, in the answer's language
        return Response(CategoryOutput(self.scoped(), many=True, context={"labels": labels}).data)
