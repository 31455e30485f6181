"""OpenAPI: drf-standardized-errors documents the error shape; we add the statuses it cannot infer
(413 on every body, and 403/409 where a view declares them), so the schema says what really happens."""

from django.db import models
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum
from rest_framework import serializers


class _Error(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse409Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _Error(many=True)


class TransitionConflictResponseSerializer(ErrorResponse409Serializer):
    """A refused transition also says where the case stands and what the caller may do instead."""

    state = serializers.CharField()
    available_transitions = serializers.ListField(child=serializers.CharField())


class ErrorResponse413Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _Error(many=True)


class SignInErrorCode401(models.TextChoices):
    AUTHENTICATION_FAILED = "authentication_failed"
    OTP_REQUIRED = "otp_required"
    OTP_INVALID = "otp_invalid"
    OTP_NOT_CONFIGURED = "otp_not_configured"


class SignInErrorCode429(models.TextChoices):
    THROTTLED = "throttled"
    LOCKED_OUT = "locked_out"


class _SignInError401(_Error):
    code = serializers.ChoiceField(choices=SignInErrorCode401.choices)


class _SignInError429(_Error):
    code = serializers.ChoiceField(choices=SignInErrorCode429.choices)


class SignInErrorResponse401Serializer(serializers.Serializer):
    """Wrong credentials, or a supervisor's or administrator's missing or wrong TOTP code."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _SignInError401(many=True)


class SignInErrorResponse429Serializer(serializers.Serializer):
    """Too many requests from this address, or too many failed sign-ins (locked out)."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _SignInError429(many=True)


class AutoSchema(StandardizedErrorsAutoSchema):
    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code == "413":
            return (
                status_code not in responses
                and self.method in ("POST", "PUT", "PATCH")
                and self.get_request_serializer() is not None
            )
        return super()._should_add_error_response(responses, status_code)
