from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from .. import selectors, services
from ..models import Agency
from .serializers import AgencyCreateInput, AgencyOutput, AgencyUpdateInput


class AgencyListView(GenericAPIView):
    audit_actions = {
        "get": ("agency.list", "referrals.agency"),
        "post": ("agency.create", "referrals.agency"),
    }
    serializer_class = AgencyOutput
    queryset = Agency.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(operation_id="agencies_list", summary="Partner agencies the caller may see")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.agency_queryset_for(request.user))
        return self.get_paginated_response(AgencyOutput(page, many=True).data)

    @extend_schema(
        operation_id="agencies_create",
        summary="Register a partner agency (administrators)",
        request=AgencyCreateInput,
        responses={201: AgencyOutput, 403: ErrorResponse403Serializer},
    )
    def post(self, request: Request) -> Response:
        data = AgencyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        helpline = fields.pop("helpline", None) or request.user.helpline
        if helpline is None:
            raise ValidationError({"helpline": "Platform administrators name the helpline."})
        agency = services.agency_create(actor=request.user, helpline=helpline, **fields)
        return Response(AgencyOutput(agency).data, status=status.HTTP_201_CREATED)


class AgencyDetailView(GenericAPIView):
    audit_actions = {
        "get": ("agency.read", "referrals.agency"),
        "patch": ("agency.update", "referrals.agency"),
    }
    serializer_class = AgencyOutput

    @extend_schema(operation_id="agencies_retrieve")
    def get(self, request: Request, agency_id: int) -> Response:
        return Response(AgencyOutput(selectors.agency_get(user=request.user, agency_id=agency_id)).data)

    @extend_schema(
        operation_id="agencies_partial_update",
        request=AgencyUpdateInput,
        responses={200: AgencyOutput, 403: ErrorResponse403Serializer},
    )
    def patch(self, request: Request, agency_id: int) -> Response:
        agency = selectors.agency_get(user=request.user, agency_id=agency_id)
        data = AgencyUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        agency = services.agency_update(actor=request.user, agency=agency, **data.validated_data)
        return Response(AgencyOutput(agency).data)
