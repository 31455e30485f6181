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

# Sign-in attempts per address (helpline.throttles.SignInThrottle): the API's and the console's
# counted together. DRF's rate format: "30/min", "5/s", "500/hour".
SIGN_IN_RATE = env("SIGN_IN_RATE", default="30/min")

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

# The API documentation's groups, for the integrators who read it (Swagger UI at /api/docs/): every
# operation gets the tags of the longest path prefix below that its path starts with
# (helpline.api.documentation). A new endpoint: add its path prefix here, under one of these tags.
# tests/test_api_documentation_is_written_for_integrators.py fails for an operation left without.
API_TAGS = {
    "cases": "Open, read, assess, move and close cases; notes, history, need-to-know access and "
    "break-glass; the escalation queue and the helpline's categories. Helpline staff (operators, "
    "supervisors) only.",
    "contacts": "Each call, message or chat turn that reached the helpline (a contact), classified and "
    "put into a case; repeat contacters (by the keyed hash of their number) and their flags.",
    "messages": "A case's SMS/WhatsApp conversation and the operator's replies.",
    "referrals": "Helpline staff refer a child to a partner agency: consent, the referral itself, "
    "supervisors' approval, withdrawal, resending, and what was delivered to the agency.",
    "agency API": "For partner agencies' systems: list and read the referrals sent to your agency, accept "
    "or reject them, post progress updates and complete them with an outcome. Sign in as the agency's "
    "user (`POST /api/v1/auth/token/`) and send `Authorization: Token <token>`. Agencies with a "
    "webhook are also notified by signed POSTs (docs/agency-webhooks.md).",
    "channels": "How children reach the helpline besides a phone call answered live: the anonymous web "
    "chat (no sign-in; the session's `X-Chat-Secret`) and the callback queue of abandoned calls. "
    "Twilio's SMS, WhatsApp and voice webhooks (`/webhooks/twilio/...`) are called by Twilio, signed "
    "with `X-Twilio-Signature`, and are not part of this API: see the README.",
    "audit": "The tamper-evident audit log of every read and write: search, CSV export, verification "
    "of its hash chain, one person's activity and the review of break-glass accesses. Supervisors.",
    "administration": "Helplines, people (users) and partner agencies: administrators create and change "
    "them; staff may list their helpline's active agencies and an agency user its own agency.",
    "authentication": "Sign in for a token, list and revoke your tokens, enrol your authenticator (TOTP; "
    "supervisors and administrators), set your password with a set-password link, choose the language "
    "you read.",
    "notifications": "Your in-app notifications: unread count, marking read, the live stream.",
    "reports": "The helpline's numbers for its supervisors: contacts by channel, call type, language, "
    "day, hour and weekday on the helpline's clock, read from roll-ups kept up to date within seconds; "
    "cases opened and closed; Child Helpline International's annual figures; and exports of the "
    "records (pseudonymised by default, encrypted, downloadable by their requester only).",
    "reference": "The labels of the codes the API stores and answers (states, channels, risk levels, "
    "sectors...), in the caller's language with the helpline's own wording. Any signed-in user.",
}
API_TAGS_BY_PATH = {
    "/api/v1/reports/": ("reports",),
    "/api/v1/exports/": ("reports",),
    "/api/v1/cases/": ("cases",),
    "/api/v1/case-links/": ("cases",),
    "/api/v1/escalations/": ("cases",),
    "/api/v1/categories/": ("cases",),
    "/api/v1/break-glass/": ("audit",),
    "/api/v1/contacts/": ("contacts",),
    "/api/v1/contacters/": ("contacts",),
    "/api/v1/cases/{case_id}/messages/": ("messages",),
    "/api/v1/cases/{case_id}/consent/": ("referrals",),
    "/api/v1/cases/{case_id}/referrals/": ("referrals",),
    # Staff and agencies both list and read referrals, and read their updates and deliveries.
    "/api/v1/referrals/": ("referrals", "agency API"),
    "/api/v1/referrals/{referral_id}/accept/": ("agency API",),
    "/api/v1/referrals/{referral_id}/reject/": ("agency API",),
    "/api/v1/referrals/{referral_id}/complete/": ("agency API",),
    "/api/v1/referrals/{referral_id}/withdraw/": ("referrals",),
    "/api/v1/referrals/{referral_id}/approve/": ("referrals",),
    "/api/v1/referrals/{referral_id}/resend/": ("referrals",),
    "/api/v1/chat/": ("channels",),
    "/api/v1/callbacks/": ("channels",),
    "/webhooks/": ("channels",),
    "/api/v1/audit/": ("audit",),
    "/api/v1/users/{user_id}/activity/": ("audit",),
    "/api/v1/helplines/": ("administration",),
    "/api/v1/users/": ("administration",),
    "/api/v1/agencies/": ("administration",),
    "/api/v1/teams/": ("administration",),
    "/api/v1/canned-replies/": ("administration",),
    "/api/v1/phone-numbers/": ("administration",),
    "/api/v1/voice-routes/": ("administration",),
    "/api/v1/auth/": ("authentication",),
    "/api/v1/notifications/": ("notifications",),
    "/api/v1/vocabularies/": ("reference",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lifeline — child helpline case management API",
    "DESCRIPTION": (
        "Contacts, cases, referrals and audit for national child helplines. "
        "Every error answers one JSON shape: `{type, errors: [{code, detail, attr}]}`."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "TAGS": [{"name": name, "description": description} for name, description in API_TAGS.items()],
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
        # A helpline's default and other languages, and a person's (settings.LANGUAGES).
        "LanguageEnum": "helpline.i18n.language_codes",
        # Two choice sets share the field name "channel": each keeps a stable name.
        "ChannelEnum": "cases.models.Channel.choices",
        "CaseLinkKindEnum": "cases.models.CaseLinkKind.choices",
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
        # Staff notifications: "kind" and "channel" are names other components use too.
        "NotificationKindEnum": "notifications.models.NotificationKind.choices",
        "NotificationChannelEnum": "notifications.models.Channel.choices",
        # Exports (reports) and voice routes: "mode" and "state" are names other components use too.
        "ExportModeEnum": "reports.models.ExportMode.choices",
        "ExportStateEnum": "reports.models.ExportState.choices",
        "VoiceModeEnum": "channels_sms.models.VoiceMode.choices",
        "ErrorCode503Enum": "helpline.api.schema.ErrorCode503.choices",
        "UnknownInputErrorCodeEnum": "helpline.api.schema.UnknownInputErrorCode.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "helpline.api.schema.document_list_item_errors",
        "helpline.api.schema.document_undeclared_input_refused",
        "helpline.api.schema.document_empty_query_values",
        "helpline.api.schema.document_links",
        "helpline.api.schema.document_languages",
        "helpline.api.documentation.document_error_examples",
        "helpline.api.documentation.document_page_examples",
    ],
}
