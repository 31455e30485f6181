"""Canned replies: the helpline's staff list them (in the conversation's language) to send as
written; supervisors and administrators write, change and retire them (helpline.policy)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, NoObject, Scoped
from helpline.api.params import optional_bool
from helpline.vocabulary import AuditAction

from .. import canned_replies, selectors
from ..models import CannedReply
from .serializers import CannedReplyCreateInput, CannedReplyOutput, CannedReplyUpdateInput

OBJECT_TYPE = "channels_sms.cannedreply"


@extend_validation_errors(["invalid"], field_name="retired", methods=["get"])
@extend_validation_errors(["required"], field_name="helpline", methods=["post"])
@extend_validation_errors(["invalid_placeholder"], field_name="body", methods=["post"])
@extend_validation_errors(["unique"], field_name="title", methods=["post"])
class CannedReplyListView(APIView):
    audit_actions = {
        "get": (AuditAction.CANNED_REPLY_LIST, OBJECT_TYPE),
        "post": (AuditAction.CANNED_REPLY_CREATE, OBJECT_TYPE),
    }
    scope = {
        "get": Scoped(selectors.canned_reply_list),
        "post": NoObject(
            "writes a canned reply for the caller's helpline (or the one named, scoped by its field)"
        ),
    }
    serializer_class = CannedReplyOutput
    queryset = CannedReply.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(
        operation_id="canned_replies_list",
        summary="The helpline's canned replies, to send as written",
        description=(
            "The canned replies of the caller's helpline, ordered by language and title. An operator's "
            "console lists those in the conversation's language (`?language=`: a web chat's language, "
            "or the child's language on the case, else the helpline's default) and sends one with "
            '`POST /api/v1/cases/{id}/messages/` `{"canned_reply": <id>}`. Retired replies are left '
            "out unless `?retired=true` (only retired) is given."
        ),
        parameters=[
            OpenApiParameter("language", str, description="Only replies in this language code (e.g. en)."),
            OpenApiParameter(
                "retired", bool, description="true: only retired replies; default: usable ones."
            ),
        ],
        responses=CannedReplyOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        retired = optional_bool(request, "retired")
        replies = self.scoped(language=request.query_params.get("language") or None, retired=bool(retired))
        page = self.paginate_queryset(replies)
        return self.get_paginated_response(CannedReplyOutput(page, many=True).data)

    @extend_schema(
        operation_id="canned_replies_create",
        summary="Write a canned reply (supervisors and administrators)",
        description=(
            "A text operators can send as written in SMS, WhatsApp and web chat replies, in one "
            "language. `{helpline}` in the body is replaced by the helpline's name when sent; any other "
            "`{...}` is refused (400 `invalid_placeholder`). Titles are unique per language among "
            "active replies (400 `unique`)."
        ),
        request=CannedReplyCreateInput,
        responses={201: CannedReplyOutput, 403: ErrorResponse403Serializer},
        examples=[
            OpenApiExample(
                "A reply in English",
                value={"language": "en", "title": "Are you safe?", "body": "Are you safe right now?"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = CannedReplyCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        helpline = fields.pop("helpline", None) or request.user.helpline
        if helpline is None:
            raise ValidationError(
                {"helpline": [_("Platform administrators name the helpline.")]}, code="required"
            )
        reply = canned_replies.canned_reply_create(actor=request.user, helpline=helpline, **fields)
        return Response(CannedReplyOutput(reply).data, status=status.HTTP_201_CREATED)


@extend_validation_errors(["invalid_placeholder"], field_name="body", methods=["patch"])
@extend_validation_errors(["unique"], field_name="title", methods=["patch"])
class CannedReplyDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.CANNED_REPLY_READ, OBJECT_TYPE),
        "patch": (AuditAction.CANNED_REPLY_UPDATE, OBJECT_TYPE),
    }
    scope = {
        "get": Fetch(selectors.canned_reply_get, "reply_id"),
        "patch": Fetch(selectors.canned_reply_get, "reply_id"),
    }
    serializer_class = CannedReplyOutput

    @extend_schema(
        operation_id="canned_replies_retrieve",
        summary="One canned reply",
        description="A canned reply of the caller's helpline, retired or not (another helpline's: 404).",
        responses=CannedReplyOutput,
    )
    def get(self, request: Request, reply_id: int) -> Response:
        return Response(CannedReplyOutput(self.object).data)

    @extend_schema(
        operation_id="canned_replies_partial_update",
        summary="Change or retire a canned reply (supervisors and administrators)",
        description=(
            "Send only the fields to change. `is_active: false` retires the reply: it is no longer "
            "listed for use and a reply naming it is refused (400 `retired`); messages already sent "
            "keep the text they were sent with."
        ),
        request=CannedReplyUpdateInput,
        responses={200: CannedReplyOutput, 403: ErrorResponse403Serializer},
    )
    def patch(self, request: Request, reply_id: int) -> Response:
        data = CannedReplyUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        reply = canned_replies.canned_reply_update(
            actor=request.user, reply=self.object, **data.validated_data
        )
        return Response(CannedReplyOutput(reply).data)
