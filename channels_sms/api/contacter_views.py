"""Repeat contacters: an identifier's profile (its contacts and cases the caller may see) and the
supervisors' blocked/abusive flags on it (channels_sms.contacters)."""

from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from cases.models import Case, Contact

from .. import contacters
from ..models import ContacterFlag, ContacterFlagKind


class ContacterFlagOutput(serializers.ModelSerializer):
    class Meta:
        model = ContacterFlag
        fields = ["id", "flag", "reason", "expires_at", "set_by", "set_at", "lifted_at"]
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


class ContacterFlagInput(serializers.Serializer):
    flag = serializers.ChoiceField(choices=ContacterFlagKind.choices)
    expires_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=2000)


class ContacterProfileView(GenericAPIView):
    audit_actions = {"get": ("contacter.read", "contacter")}
    serializer_class = ContacterProfileOutput

    @extend_schema(
        operation_id="contacters_retrieve",
        summary="A sender identifier's contacts and cases the caller may see, and its flag",
        responses=ContacterProfileOutput,
    )
    def get(self, request: Request, identifier_hash: str) -> Response:
        profile = contacters.contacter_profile(user=request.user, identifier_hash=identifier_hash)
        return Response(ContacterProfileOutput(profile).data)


class ContacterFlagView(GenericAPIView):
    audit_actions = {"post": ("contacter.flag", "contacter"), "delete": ("contacter.unflag", "contacter")}
    serializer_class = ContacterFlagInput

    @extend_schema(
        operation_id="contacters_flag",
        summary="Flag an identifier blocked or abusive until an expiry (supervisors)",
        request=ContacterFlagInput,
        responses={201: ContacterFlagOutput, 403: ErrorResponse403Serializer},
    )
    def post(self, request: Request, identifier_hash: str) -> Response:
        data = ContacterFlagInput(data=request.data)
        data.is_valid(raise_exception=True)
        flag = contacters.contacter_flag_set(
            actor=request.user, identifier_hash=identifier_hash, **data.validated_data
        )
        return Response(ContacterFlagOutput(flag).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="contacters_unflag",
        summary="Lift an identifier's flag (supervisors)",
        responses={204: None, 403: ErrorResponse403Serializer},
    )
    def delete(self, request: Request, identifier_hash: str) -> Response:
        contacters.contacter_flag_lift(actor=request.user, identifier_hash=identifier_hash)
        return Response(status=status.HTTP_204_NO_CONTENT)
