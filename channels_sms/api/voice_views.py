"""Twilio's voice webhooks (signed like the SMS ones: `views._signed_params`) and the callback
queue of abandoned calls."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from twilio.twiml.voice_response import VoiceResponse

from cases.selectors import record_page_read
from helpline.api.base import APIView, Fetch, Scoped
from helpline.api.errors import DATABASE_UNAVAILABLE, error_response
from helpline.api.pagination import Pagination
from helpline.api.params import optional_bool
from helpline.api.schema import ErrorResponse409Serializer
from helpline.vocabulary import AuditAction

from .. import selectors, services, voice
from ..models import Callback, NumberChannel, PhoneNumber
from ..spool import SpoolKind
from . import spooling
from .serializers import CallbackDoneInput
from .views import TWIML, _signed_params


def _voice_webhook(
    request: HttpRequest,
    *,
    receive: Callable[..., voice.VoiceReceipt],
    answer: Callable[[PhoneNumber, voice.VoiceReceipt], str],
    kind: SpoolKind,
    fallback: bool = False,
) -> HttpResponse:
    arrived = timezone.now()  # before any wait for the database: the time it arrived
    params, refusal = _signed_params(request)
    if refusal is not None:
        return refusal
    if not (params.get("CallSid") or [""])[0]:
        return error_response(400, "validation_error", "required", _("CallSid is required."))
    address = (params.get("To") or [""])[0]
    if fallback or spooling.queued_behind_spool():
        return spooling.spool_call(request, kind=kind, params=params, address=address, arrived=arrived)
    try:
        number = selectors.phone_number_for(address=address, channels=(NumberChannel.VOICE,))
        if number is None:
            services.webhook_reject(path=request.path, reason="unknown_number")
            return error_response(
                404, "client_error", "not_found", _("This number is not a helpline number here.")
            )
        receipt = receive(number=number, params=params)
    except DATABASE_UNAVAILABLE as exc:
        # The caller still hears the greeting and waits in the queue; the call's record is spooled.
        spooling.database_unavailable(request, exc)
        return spooling.spool_call(request, kind=kind, params=params, address=address, arrived=arrived)
    return HttpResponse(answer(number, receipt), content_type=TWIML)


def _inbound_call(request: HttpRequest, *, fallback: bool) -> HttpResponse:
    return _voice_webhook(
        request,
        receive=voice.inbound_call_receive,
        answer=lambda number, _r: voice.answer_twiml(number),
        kind=SpoolKind.VOICE_CALL,
        fallback=fallback,
    )


@csrf_exempt
def voice_webhook(request: HttpRequest) -> HttpResponse:
    """Inbound call: stored, answered with the greeting, the emergency digit and the queue."""
    return _inbound_call(request, fallback=False)


@csrf_exempt
def voice_fallback_webhook(request: HttpRequest) -> HttpResponse:
    """The voice numbers' Fallback URL: the call answered from memory, its record spooled."""
    return _inbound_call(request, fallback=True)


@csrf_exempt
def voice_gather_webhook(request: HttpRequest) -> HttpResponse:
    """The digit pressed (the emergency one flags the case), then on to the queue."""
    return _voice_webhook(
        request,
        receive=voice.call_gather_receive,
        answer=lambda number, _r: voice.connect_twiml(number),
        kind=SpoolKind.VOICE_GATHER,
    )


@csrf_exempt
def voice_status_webhook(request: HttpRequest) -> HttpResponse:
    """Call status callbacks and the <Enqueue>/<Dial> results: stored; the call is over."""
    return _voice_webhook(
        request,
        receive=voice.call_status_receive,
        answer=lambda _n, _r: str(VoiceResponse()),
        kind=SpoolKind.VOICE_STATUS,
    )


class CallbackOutput(serializers.ModelSerializer):
    done = serializers.SerializerMethodField()

    class Meta:
        model = Callback
        fields = ["id", "case", "contact", "reason", "requested_at", "done", "done_at", "done_by"]
        read_only_fields = fields

    def get_done(self, obj: Callback) -> bool:
        return obj.done_at is not None


class CallbackPagination(Pagination):
    """The longest-waiting caller first."""

    ordering = ("requested_at", "id")


@extend_validation_errors(["invalid"], field_name="done", methods=["get"])
class CallbackListView(APIView):
    audit_actions = {"get": (AuditAction.CALLBACK_LIST, "channels_sms.callback")}
    scope = {"get": Scoped(selectors.callback_list)}
    serializer_class = CallbackOutput
    pagination_class = CallbackPagination
    queryset = Callback.objects.none()

    @extend_schema(
        operation_id="callbacks_list",
        description=(
            "Calls that were abandoned (no answer, busy, hung up in the queue) waiting for a call back,"
            " oldest first; `done=true|false`. Operators and supervisors see callbacks of cases they "
            "may see."
        ),
        summary="Abandoned calls waiting for an operator to call back",
        parameters=[OpenApiParameter("done", bool, description="Only done (true) or waiting (false) ones")],
        responses=CallbackOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        callbacks = self.scoped(done=optional_bool(request, "done"))
        page = self.paginate_queryset(callbacks)
        record_page_read(
            user=request.user,
            action=AuditAction.CALLBACK_LIST,
            object_type="channels_sms.callback",
            rows=page,
        )
        return self.get_paginated_response(CallbackOutput(page, many=True).data)


class CallbackDoneView(APIView):
    audit_actions = {"post": (AuditAction.CALLBACK_COMPLETE, "channels_sms.callback")}
    scope = {"post": Fetch(selectors.callback_get, "callback_id")}
    serializer_class = CallbackDoneInput

    def audit_case_id(self) -> int | None:
        return (
            Callback.objects.filter(pk=self.kwargs["callback_id"]).values_list("case_id", flat=True).first()
        )

    @extend_schema(
        operation_id="callbacks_done",
        description=(
            "Marks a callback done with an optional `outcome` note (stored encrypted). 409 "
            "`already_done`, 403 for roles that do not call back, 404 outside the caller's scope."
        ),
        summary="Mark a callback done, with an outcome note",
        request=CallbackDoneInput,
        responses={200: CallbackOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, callback_id: int) -> Response:
        data = CallbackDoneInput(data=request.data)
        data.is_valid(raise_exception=True)
        callback = voice.callback_complete(
            actor=request.user, callback=self.object, outcome=data.validated_data["outcome"]
        )
        return Response(CallbackOutput(callback).data)
