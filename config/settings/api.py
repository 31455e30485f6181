"""The HTTP API: Django REST framework, the one error shape (drf-standardized-errors) and the
OpenAPI schema (drf-spectacular)."""

from .environment import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["helpline.api.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["helpline.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "helpline.api.pagination.Pagination",
    "DEFAULT_METADATA_CLASS": "helpline.api.metadata.Metadata",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "helpline.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Proxies in front of us (0: trust REMOTE_ADDR only), so X-Forwarded-For cannot dodge throttles.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "helpline.api.errors.ExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "ALLOWED_ERROR_STATUS_CODES": [
        *("400", "401", "403", "404", "405", "406", "413", "415", "429"),
        *("500", "503"),
    ],
    "ERROR_SCHEMAS": {
        "413": "helpline.api.schema.ErrorResponse413Serializer",
        "503": "helpline.api.schema.ErrorResponse503Serializer",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lifeline — child helpline case management API",
    "DESCRIPTION": (
        "Contacts, cases, referrals and audit for national child helplines. "
        "Every error answers one JSON shape: `{type, errors: [{code, detail, attr}]}`."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: helplines may run without outside internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "SignInErrorCode401Enum": "helpline.api.schema.SignInErrorCode401.choices",
        "SignInErrorCode429Enum": "helpline.api.schema.SignInErrorCode429.choices",
        # Two choice sets share the field name "channel": each keeps a stable name.
        "ChannelEnum": "cases.models.Channel.choices",
        "NumberChannelEnum": "channels_sms.models.NumberChannel.choices",
        # "kind" of a conversation entry, and of what a web chat shows first (channels_sms).
        "MessageKindEnum": "channels_sms.models.MessageKind.choices",
        "ChatNoticeKindEnum": ["greeting", "out_of_hours"],
        # Fields named "state" and "outcome" in several components: cases, referrals, deliveries...
        "CaseStateEnum": "cases.workflow.CaseState.choices",
        "ReferralStateEnum": "referrals.workflow.ReferralState.choices",
        "DeliveryStateEnum": "referrals.models.DeliveryState.choices",
        "ReferralOutcomeEnum": "referrals.models.Outcome.choices",
        "AuditOutcomeEnum": "helpline.models.AuditOutcome.choices",
        "DeliveryAttemptOutcomeEnum": "referrals.models.AttemptOutcome.choices",
        "ErrorCode503Enum": "helpline.api.schema.ErrorCode503.choices",
        "UnknownInputErrorCodeEnum": "helpline.api.schema.UnknownInputErrorCode.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "helpline.api.schema.document_list_item_errors",
        "helpline.api.schema.document_undeclared_input_refused",
        "helpline.api.schema.document_empty_query_values",
        "helpline.api.schema.document_links",
    ],
}
