"""A helpline's Twilio numbers and its voice numbers' routes: administrators configure them,
supervisors read them (channels_sms.numbers)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from helpline import policy
from helpline.api.base import APIView, Fetch, NoObject, Scoped
from helpline.vocabulary import AuditAction, PolicyAction

from .. import numbers
from ..models import PhoneNumber, VoiceRoute
from . import examples
from .serializers import (
    DialNumbersField,
    PhoneNumberCreateInput,
    PhoneNumberUpdateInput,
    VoiceRouteCreateInput,
    _VoiceRouteFieldsInput,
)


class MaySeeNumbers(BasePermission):
    """The whole endpoint is the helpline's administrators' and supervisors' (403 for others)."""

    message = gettext_lazy("Only a helpline's administrators and supervisors see its numbers.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and policy.can(user, PolicyAction.PHONE_NUMBER_VIEW))


# --- numbers ----------------------------------------------------------------------------------------


class PhoneNumberOutput(serializers.ModelSerializer):
    voice_route = serializers.SerializerMethodField(
        help_text="Its voice route's id (voice numbers), or null."
    )

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "helpline",
            "channel",
            "number",
            "acknowledgement",
            "language",
            "is_active",
            "voice_route",
            "created_at",
        ]
        read_only_fields = fields

    def get_voice_route(self, obj: PhoneNumber) -> int | None:
        route = getattr(obj, "voice_route", None)
        return route.pk if route is not None else None


# The service's refusals: a number another helpline has or already configured; a platform
# administrator who names no helpline.
@extend_validation_errors(["unique"], field_name="number", methods=["post"])
@extend_validation_errors(["required"], field_name="helpline", methods=["post"])
@extend_validation_errors(["not_spoken"], field_name="language", methods=["post"])
class PhoneNumberListView(APIView):
    audit_actions = {
        "get": (AuditAction.PHONE_NUMBER_LIST, "channels_sms.phonenumber"),
        "post": (AuditAction.PHONE_NUMBER_CREATE, "channels_sms.phonenumber"),
    }
    scope = {
        "get": Scoped(numbers.phone_number_queryset_for),
        "post": NoObject("adds a number; its input's helpline is scoped by its field"),
    }
    permission_classes = [MaySeeNumbers]
    serializer_class = PhoneNumberOutput
    queryset = PhoneNumber.objects.none()  # reads go through the selectors; this only fails closed

    @extend_schema(
        operation_id="phone_numbers_list",
        summary="The helpline's Twilio numbers (administrators, supervisors)",
        description=(
            "The numbers of ours at Twilio whose inbound messages and calls the helpline takes, per "
            "channel (sms, whatsapp, voice), suspended ones included. A platform administrator sees "
            "every helpline's. 403 for other roles."
        ),
        responses={200: PhoneNumberOutput(many=True), 403: ErrorResponse403Serializer},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        return self.get_paginated_response(PhoneNumberOutput(page, many=True).data)

    @extend_schema(
        operation_id="phone_numbers_create",
        summary="Add a Twilio number to the helpline (administrators)",
        description=(
            "The number's inbound webhooks are taken by this helpline from the next one on. A number "
            "belongs to one helpline (400 if another has it, on any channel); one row per number and "
            "channel. Point the number's webhooks at this deployment with `manage.py twilio_webhooks`. "
            "403 for other roles."
        ),
        request=PhoneNumberCreateInput,
        responses={201: PhoneNumberOutput, 403: ErrorResponse403Serializer},
        examples=examples.PHONE_NUMBER_CREATE,
    )
    def post(self, request: Request) -> Response:
        data = PhoneNumberCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        helpline = fields.pop("helpline", None) or request.user.helpline
        if helpline is None:
            raise ValidationError(
                {"helpline": [_("Platform administrators name the helpline.")]}, code="required"
            )
        number = numbers.phone_number_create(actor=request.user, helpline=helpline, **fields)
        return Response(PhoneNumberOutput(number).data, status=status.HTTP_201_CREATED)


@extend_validation_errors(["not_spoken"], field_name="language", methods=["patch"])
class PhoneNumberDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.PHONE_NUMBER_READ, "channels_sms.phonenumber"),
        "patch": (AuditAction.PHONE_NUMBER_UPDATE, "channels_sms.phonenumber"),
        "delete": (AuditAction.PHONE_NUMBER_DELETE, "channels_sms.phonenumber"),
    }
    scope = {
        "get": Fetch(numbers.phone_number_get, "phone_number_id"),
        "patch": Fetch(numbers.phone_number_get, "phone_number_id"),
        "delete": Fetch(numbers.phone_number_get, "phone_number_id"),
    }
    permission_classes = [MaySeeNumbers]
    serializer_class = PhoneNumberOutput

    @extend_schema(
        operation_id="phone_numbers_retrieve",
        summary="Read one of the helpline's numbers (administrators, supervisors)",
        description="403 for other roles; 404 for another helpline's number.",
        responses={200: PhoneNumberOutput, 403: ErrorResponse403Serializer},
    )
    def get(self, request: Request, phone_number_id: int) -> Response:
        return Response(PhoneNumberOutput(self.object).data)

    @extend_schema(
        operation_id="phone_numbers_partial_update",
        summary="Change a number's acknowledgement or suspend it (administrators)",
        description=(
            "`is_active: false` suspends the number: its webhooks are refused as for an unknown "
            "number (other web processes within PHONE_NUMBER_CACHE_SECONDS). To change the number "
            "or its channel, retire it and add the new one. Audited. 403 for other roles, 404 for "
            "another helpline's number."
        ),
        request=PhoneNumberUpdateInput,
        responses={200: PhoneNumberOutput, 403: ErrorResponse403Serializer},
    )
    def patch(self, request: Request, phone_number_id: int) -> Response:
        data = PhoneNumberUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        number = numbers.phone_number_update(
            actor=request.user, phone_number=self.object, **data.validated_data
        )
        return Response(PhoneNumberOutput(number).data)

    @extend_schema(
        operation_id="phone_numbers_destroy",
        summary="Retire a number for good (administrators)",
        description=(
            "Removes the number and its voice route; its messages and calls stay with their cases. "
            "The number may then be added again, to any helpline. Audited. 403 for other roles, 404 "
            "for another helpline's number."
        ),
        responses={204: None, 403: ErrorResponse403Serializer},
    )
    def delete(self, request: Request, phone_number_id: int) -> Response:
        numbers.phone_number_delete(actor=request.user, phone_number=self.object)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- voice routes -----------------------------------------------------------------------------------


class VoiceRouteOutput(serializers.ModelSerializer):
    address = serializers.CharField(source="number.number", read_only=True, help_text="The number's E.164.")
    dial_numbers = DialNumbersField(read_only=True)

    class Meta:
        model = VoiceRoute
        fields = [
            "id",
            "number",
            "address",
            "greeting",
            "mode",
            "queue_name",
            "dial_numbers",
            "emergency_digit",
        ]
        read_only_fields = fields


# The service's refusals: not a voice number, a number with a route already, dialling without an
# on-duty number.
@extend_validation_errors(["invalid", "unique"], field_name="number", methods=["post"])
@extend_validation_errors(["invalid", "required"], field_name="dial_numbers", methods=["post"])
class VoiceRouteListView(APIView):
    audit_actions = {
        "get": (AuditAction.VOICE_ROUTE_LIST, "channels_sms.voiceroute"),
        "post": (AuditAction.VOICE_ROUTE_CREATE, "channels_sms.voiceroute"),
    }
    scope = {
        "get": Scoped(numbers.voice_route_queryset_for),
        "post": NoObject("routes a number; its input's number is scoped by its field"),
    }
    permission_classes = [MaySeeNumbers]
    serializer_class = VoiceRouteOutput
    queryset = VoiceRoute.objects.none()  # reads go through the selectors; this only fails closed

    @extend_schema(
        operation_id="voice_routes_list",
        summary="How the helpline's voice numbers answer (administrators, supervisors)",
        description=(
            "Per voice number: the greeting, the emergency digit, and whether callers wait in a queue "
            "or the on-duty numbers are rung. A voice number without a route answers with the "
            "defaults. 403 for other roles."
        ),
        responses={200: VoiceRouteOutput(many=True), 403: ErrorResponse403Serializer},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        return self.get_paginated_response(VoiceRouteOutput(page, many=True).data)

    @extend_schema(
        operation_id="voice_routes_create",
        summary="Route a voice number (administrators)",
        description=(
            "One route per voice number (400 for a second one, or for a number of another channel). "
            "`dial` mode needs at least one on-duty number. The next call is answered by it. 403 for "
            "other roles."
        ),
        request=VoiceRouteCreateInput,
        responses={201: VoiceRouteOutput, 403: ErrorResponse403Serializer},
        examples=examples.VOICE_ROUTE_CREATE,
    )
    def post(self, request: Request) -> Response:
        data = VoiceRouteCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        route = numbers.voice_route_create(actor=request.user, **data.validated_data)
        return Response(VoiceRouteOutput(route).data, status=status.HTTP_201_CREATED)


@extend_validation_errors(["invalid", "required"], field_name="dial_numbers", methods=["patch"])
class VoiceRouteDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.VOICE_ROUTE_READ, "channels_sms.voiceroute"),
        "patch": (AuditAction.VOICE_ROUTE_UPDATE, "channels_sms.voiceroute"),
        "delete": (AuditAction.VOICE_ROUTE_DELETE, "channels_sms.voiceroute"),
    }
    scope = {
        "get": Fetch(numbers.voice_route_get, "voice_route_id"),
        "patch": Fetch(numbers.voice_route_get, "voice_route_id"),
        "delete": Fetch(numbers.voice_route_get, "voice_route_id"),
    }
    permission_classes = [MaySeeNumbers]
    serializer_class = VoiceRouteOutput

    @extend_schema(
        operation_id="voice_routes_retrieve",
        summary="Read one voice route (administrators, supervisors)",
        description="403 for other roles; 404 for another helpline's route.",
        responses={200: VoiceRouteOutput, 403: ErrorResponse403Serializer},
    )
    def get(self, request: Request, voice_route_id: int) -> Response:
        return Response(VoiceRouteOutput(self.object).data)

    @extend_schema(
        operation_id="voice_routes_partial_update",
        summary="Change how a voice number answers (administrators)",
        description=(
            "Greeting, emergency digit, queue name, mode and on-duty numbers; the next call follows "
            "them. Audited (the on-duty numbers only as changed). 403 for other roles, 404 for "
            "another helpline's route."
        ),
        request=_VoiceRouteFieldsInput,
        responses={200: VoiceRouteOutput, 403: ErrorResponse403Serializer},
    )
    def patch(self, request: Request, voice_route_id: int) -> Response:
        data = _VoiceRouteFieldsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        route = numbers.voice_route_update(actor=request.user, voice_route=self.object, **data.validated_data)
        return Response(VoiceRouteOutput(route).data)

    @extend_schema(
        operation_id="voice_routes_destroy",
        summary="Remove a voice route (administrators)",
        description=(
            "The number answers with the defaults again (the helpline language's greeting, digit 9, "
            "the helpline's queue). Audited. 403 for other roles, 404 for another helpline's route."
        ),
        responses={204: None, 403: ErrorResponse403Serializer},
    )
    def delete(self, request: Request, voice_route_id: int) -> Response:
        numbers.voice_route_delete(actor=request.user, voice_route=self.object)
        return Response(status=status.HTTP_204_NO_CONTENT)
