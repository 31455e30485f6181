"""Twilio webhooks, public (no login, no CSRF) but signed by Twilio: check the signature, find our
number, call one service, answer TwiML; refusals answer the API's one error shape. And the read of
a case's conversation."""

import logging
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from cases.selectors import case_get
from helpline.api.base import APIView, Fetch, Scoped
from helpline.api.errors import DATABASE_UNAVAILABLE, error_response
from helpline.api.pagination import Pagination
from helpline.api.schema import ErrorResponse409Serializer
from helpline.vocabulary import AuditAction

from .. import outbound, selectors, senders, services, sms
from ..models import Message, PhoneNumber
from ..spool import SpoolKind
from . import spooling
from .serializers import MessageInput, MessageOutput

logger = logging.getLogger(__name__)

TWIML = "text/xml; charset=utf-8"


def _twiml(reply: str = "") -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type=TWIML)


def _signed_params(request: HttpRequest) -> tuple[dict[str, list[str]] | None, HttpResponse | None]:
    """The POST parameters if Twilio signed them for our public URL; else the refusal to answer."""
    if request.method != "POST":
        return None, error_response(
            405,
            "client_error",
            "method_not_allowed",
            _('Method "%(method)s" not allowed.') % {"method": request.method},
        )
    try:
        post = request.POST
    except RequestDataTooBig:
        return None, error_response(413, "client_error", "payload_too_large", _("Request body is too large."))
    # Twilio signs the URL it called: ours as the public sees it, whatever Host a proxy passes on;
    # a Fallback URL on the base `manage.py twilio_webhooks` set (a second node's, usually).
    bases = [settings.PUBLIC_BASE_URL]
    if settings.TWILIO_FALLBACK_BASE_URL and settings.TWILIO_FALLBACK_BASE_URL != settings.PUBLIC_BASE_URL:
        bases.append(settings.TWILIO_FALLBACK_BASE_URL)
    signature = request.headers.get("X-Twilio-Signature", "")
    reason = ""
    if not settings.TWILIO_AUTH_TOKEN:
        reason = "not_configured"
    elif not signature:
        reason = "missing_signature"
    elif not any(
        RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(base + request.get_full_path(), post, signature)
        for base in bases
    ):
        reason = "bad_signature"
    if reason:
        services.webhook_reject(path=request.path, reason=reason)
        return None, error_response(
            403, "client_error", "permission_denied", _("Invalid or missing Twilio signature.")
        )
    return dict(post.lists()), None


def _webhook(
    request: HttpRequest,
    *,
    address_param: str,
    receive: Callable[..., services.Receipt],
    kind: SpoolKind,
    fallback: bool = False,
) -> HttpResponse:
    arrived = timezone.now()  # before any wait for the database: the time it arrived
    params, refusal = _signed_params(request)
    if refusal is not None:
        return refusal
    if not (params.get("MessageSid") or [""])[0]:
        return error_response(400, "validation_error", "required", _("MessageSid is required."))
    address = (params.get(address_param) or [""])[0]
    channels = (senders.channel_of(address),)
    if fallback or spooling.queued_behind_spool():
        # The fallback URL (Twilio tried us and failed), or earlier requests still wait in this
        # node's spool: this one queues behind them, so a sender's messages keep their order.
        return spooling.spool_message(
            request, kind=kind, params=params, address=address, channels=channels, arrived=arrived
        )
    try:
        number: PhoneNumber | None = selectors.phone_number_for(address=address, channels=channels)
        if number is None:
            services.webhook_reject(path=request.path, reason="unknown_number")
            return error_response(
                404, "client_error", "not_found", _("This number is not a helpline number here.")
            )
        receipt = receive(number=number, params=params)
    except DATABASE_UNAVAILABLE as exc:
        spooling.database_unavailable(request, exc)
        return spooling.spool_message(
            request, kind=kind, params=params, address=address, channels=channels, arrived=arrived
        )
    return _twiml(receipt.event.reply)


@csrf_exempt
def sms_webhook(request: HttpRequest) -> HttpResponse:
    """Inbound SMS, MMS and WhatsApp message: stored (spooled while the database is away),
    answered, threaded after."""
    return _webhook(request, address_param="To", receive=sms.inbound_message_receive, kind=SpoolKind.SMS)


@csrf_exempt
def sms_fallback_webhook(request: HttpRequest) -> HttpResponse:
    """The numbers' SMS Fallback URL (`manage.py twilio_webhooks`): Twilio calls it when the main
    URL failed; it spools without trying the database (the drain stores it, once)."""
    return _webhook(
        request, address_param="To", receive=sms.inbound_message_receive, kind=SpoolKind.SMS, fallback=True
    )


@csrf_exempt
def sms_status_webhook(request: HttpRequest) -> HttpResponse:
    """Delivery status of an outbound message (`From` is our number; `?m=` our message id)."""
    receive = partial(outbound.status_callback_receive, message_ref=request.GET.get("m", ""))
    return _webhook(request, address_param="From", receive=receive, kind=SpoolKind.SMS_STATUS)


class ConversationPagination(Pagination):
    """A conversation reads in the order its messages were sent or received."""

    ordering = ("at", "id")


@extend_validation_errors(
    ["does_not_exist", "retired", "wrong_language"], field_name="canned_reply", methods=["post"]
)
@extend_validation_errors(["required"], field_name="body", methods=["post"])  # neither body nor canned_reply
class CaseMessagesView(APIView):
    audit_actions = {
        "get": (AuditAction.MESSAGE_LIST, "cases.case"),
        "post": (AuditAction.MESSAGE_SEND, "cases.case"),
    }
    scope = {
        "get": Scoped(selectors.case_message_list, kwarg="case_id"),
        "post": Fetch(case_get, "case_id", action=AuditAction.MESSAGE_SEND, for_write=True),
    }

    def audit_case_id(self) -> int | None:
        return self.kwargs.get("case_id")

    serializer_class = MessageOutput
    pagination_class = ConversationPagination
    queryset = Message.objects.none()

    @extend_schema(
        operation_id="cases_messages_list",
        summary="A case's conversation (SMS, WhatsApp, web chat), oldest first",
        description=(
            "Every message of the case's conversations, both directions, in the order they happened. "
            "Entries have a `kind`: `message` (written by the child or an operator), and for a web "
            "chat `greeting` and `out_of_hours` (what the child was shown when the chat opened) and "
            "`session_ended` (the child ended the chat, or it expired: from then on a reply answers "
            "409 `chat_ended`)."
        ),
        responses=MessageOutput(many=True),
    )
    def get(self, request: Request, case_id: int) -> Response:
        messages = self.scoped()
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageOutput(page, many=True).data)

    @extend_schema(
        operation_id="cases_messages_send",
        summary="Reply to the case's SMS/WhatsApp sender or web chat",
        description=(
            "Replies to the conversation's latest sender: an SMS or WhatsApp reply is stored queued "
            "and sent by a task; a web chat reply is delivered at once (the child reads it on their "
            "next poll). Give exactly one of `body` (the text) and `canned_reply` (the id of one of "
            "the helpline's active canned replies in the conversation's language, sent as written; "
            "400 `does_not_exist`, `retired` or `wrong_language` otherwise). 409 when the case has "
            "no SMS/WhatsApp sender or chat to reply to, and `chat_ended` when its web chat ended."
        ),
        request=MessageInput,
        responses={201: MessageOutput, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = outbound.message_send(actor=request.user, case=self.object, **data.validated_data)
        return Response(MessageOutput(message).data, status=status.HTTP_201_CREATED)
