"""Repeat contacters: an identifier's profile (its contacts and cases the caller may see) and the
supervisors' blocked/abusive flags on it (channels_sms.contacters)."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response

from cases.models import Case, Contact
from helpline.api.base import APIView, Fetch, Own
from helpline.crypto import normalise_phone
from helpline.vocabulary import AuditAction

from .. import contacters
from ..models import ContacterFlag, ContacterFlagKind


class ContacterFlagOutput(serializers.ModelSerializer):
    class Meta:
        model = ContacterFlag
        fields = ["id", "identifier_hash", "flag", "reason", "expires_at", "set_by", "set_at", "lifted_at"]
        read_only_fields = fields


class ContacterContactOutput(serializers.ModelSerializer):
    flagged = serializers.SerializerMethodField(help_text="blocked or abusive if it came in under a flag")

    class Meta:
        model = Contact
        fields = ["id", "case", "channel", "direction", "call_type", "started_at", "ended_at", "flagged"]
        read_only_fields = fields

    def get_flagged(self, obj: Contact) -> str | None:
        mark = getattr(obj, "contacter_mark", None)
        return mark.kind if mark is not None else None


class ContacterCaseOutput(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["id", "reference", "state", "risk_level", "created_at"]
        read_only_fields = fields


class ContacterProfileOutput(serializers.Serializer):
    identifier_hash = serializers.CharField()
    flag = ContacterFlagOutput(allow_null=True)
    contacts = ContacterContactOutput(many=True)
    cases = ContacterCaseOutput(many=True)


BY_NUMBER = "-"  # the path's identifier when the body names a phone number instead


class ContacterFlagInput(serializers.Serializer):
    flag = serializers.ChoiceField(choices=ContacterFlagKind.choices)
    expires_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=2000)
    phone_number = serializers.CharField(
        required=False,
        max_length=32,
        help_text=(
            f"Flag this number (E.164, +254712345678), seen before or not, instead of a hash: the "
            f'path\'s identifier is then "{BY_NUMBER}".'
        ),
    )

    def validate_phone_number(self, value: str) -> str:
        try:
            return normalise_phone(value)
        except ValueError:
            raise serializers.ValidationError(
                _("Not a phone number in E.164 form."), code="invalid"
            ) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        by_number = self.context.get("identifier_hash") == BY_NUMBER
        if by_number and "phone_number" not in attrs:
            raise serializers.ValidationError(
                {
                    "phone_number": ErrorDetail(
                        _('Required when the identifier is "%(identifier)s".') % {"identifier": BY_NUMBER},
                        "required",
                    )
                }
            )
        if not by_number and "phone_number" in attrs:
            raise serializers.ValidationError(
                {
                    "phone_number": ErrorDetail(
                        _(
                            'Give an identifier hash or a phone number (identifier "%(identifier)s"), '
                            "not both."
                        )
                        % {"identifier": BY_NUMBER},
                        "invalid",
                    )
                }
            )
        return attrs


class ContacterProfileView(APIView):
    audit_actions = {"get": (AuditAction.CONTACTER_READ, "contacter")}
    scope = {"get": Fetch(contacters.contacter_profile, "identifier_hash")}
    serializer_class = ContacterProfileOutput

    @extend_schema(
        operation_id="contacters_retrieve",
        description=(
            "Everything the caller may see from one sender: `{hash}` is the keyed hash of the sender's "
            "number (HMAC-SHA256 of its E.164 form with the deployment's key), never the number. Its "
            "contacts and cases within the caller's scope and its flag. Operators and supervisors; 404 "
            "for an unknown hash, another helpline's, or none visible."
        ),
        summary="A sender identifier's contacts and cases the caller may see, and its flag",
        responses=ContacterProfileOutput,
    )
    def get(self, request: Request, identifier_hash: str) -> Response:
        return Response(ContacterProfileOutput(self.object).data)


class ContacterFlagView(APIView):
    audit_actions = {
        "post": (AuditAction.CONTACTER_FLAG, "contacter"),
        "delete": (AuditAction.CONTACTER_UNFLAG, "contacter"),
    }
    # The services find the identifier among the contacts the caller may see (a number flagged by
    # number: in the caller's helpline), in the same transaction as the flag.
    scope = {
        "post": Own(
            "the flag services confine the identifier to the caller's scope", kwarg="identifier_hash"
        ),
        "delete": Own(
            "the flag services confine the identifier to the caller's scope", kwarg="identifier_hash"
        ),
    }
    serializer_class = ContacterFlagInput

    @extend_schema(
        operation_id="contacters_flag",
        summary="Flag an identifier blocked or abusive until an expiry (supervisors)",
        description=(
            "The identifier is a sender hash with contacts the caller can see, or "
            f'"{BY_NUMBER}" with `phone_number` in the body: a number is flagged whether or not it '
            "ever wrote or called, and the answer does not tell which."
        ),
        parameters=[
            OpenApiParameter(
                "identifier_hash",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description=f'A sender identifier\'s hash, or "{BY_NUMBER}" to flag `phone_number`.',
            )
        ],
        request=ContacterFlagInput,
        responses={201: ContacterFlagOutput, 403: ErrorResponse403Serializer},
    )
    def post(self, request: Request, identifier_hash: str) -> Response:
        data = ContacterFlagInput(data=request.data, context={"identifier_hash": identifier_hash})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        phone_number = values.pop("phone_number", None)
        if phone_number is not None:
            flag = contacters.contacter_flag_set_by_number(
                actor=request.user, phone_number=phone_number, **values
            )
        else:
            flag = contacters.contacter_flag_set(
                actor=request.user, identifier_hash=identifier_hash, **values
            )
        return Response(ContacterFlagOutput(flag).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="contacters_unflag",
        description=(
            "Removes the flag of the identifier: its messages and calls are taken again. Supervisors "
            "only (403 otherwise); 404 when the identifier has no flag the caller can see."
        ),
        summary="Lift an identifier's flag (supervisors)",
        responses={204: None, 403: ErrorResponse403Serializer},
    )
    def delete(self, request: Request, identifier_hash: str) -> Response:
        contacters.contacter_flag_lift(actor=request.user, identifier_hash=identifier_hash)
        return Response(status=status.HTTP_204_NO_CONTENT)
