from contextlib import contextmanager

from django.utils import translation
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from knox.models import AuthToken
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.vocabulary import AuditAction

from .. import selectors, services
from ..i18n import language_of
from ..models import AuditEntry
from ..throttles import SignInThrottle
from .base import APIView, NoObject, Own, Scoped
from .errors import Conflict, LockedOut
from .pagination import Pagination
from .schema import (
    ErrorResponse409Serializer,
    SignInErrorResponse401Serializer,
    SignInErrorResponse429Serializer,
)
from .serializers import (
    AuthTokenOutput,
    LoginInput,
    MeUpdateInput,
    PasswordSetInput,
    SecurityEventOutput,
    TokenOutput,
    TotpConfirmInput,
    TotpEnrolInput,
    TotpEnrolmentOutput,
    UserOutput,
)

SIGN_IN_REFUSED = {
    "invalid_credentials": (
        "authentication_failed",
        gettext_lazy("Unable to sign in with these credentials."),
    ),
    "otp_required": (
        "otp_required",
        # Translators: "otp" is the name of the request's field: keep it as it is.
        gettext_lazy("Supervisors and administrators also give the code of their authenticator app (otp)."),
    ),
    "otp_invalid": ("otp_invalid", gettext_lazy("The authenticator code is wrong, expired or already used.")),
    "otp_not_configured": (
        "otp_not_configured",
        # Translators: keep the two API paths (POST /api/v1/...) as they are.
        gettext_lazy(
            "Supervisors and administrators need an authenticator app: enrol one with your username "
            "and password (POST /api/v1/auth/totp/), then confirm it with its code "
            "(POST /api/v1/auth/totp/confirm/)."
        ),
    ),
}
ENROLMENT_REFUSED = {
    "otp_not_required": gettext_lazy("Operators and agency users sign in without an authenticator app."),
    "already_enrolled": gettext_lazy(
        "You have an authenticator already; an administrator can reset it if it is lost."
    ),
}
LINK_REFUSED = {
    "invalid": gettext_lazy("This set-password link is not valid."),
    "used": gettext_lazy("This set-password link has been used already; ask an administrator for a new one."),
    "revoked": gettext_lazy("A newer set-password link replaced this one."),
    "expired": gettext_lazy("This set-password link has expired; ask an administrator for a new one."),
}


class TokenLoginView(APIView):
    scope = {"post": NoObject("signing in: the credentials in the body are the caller")}
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SignInThrottle]
    serializer_class = LoginInput

    def get_authenticate_header(self, request):
        # Wrong credentials answer 401 (with a challenge), not 403.
        return "Token"

    @extend_schema(
        operation_id="auth_token",
        summary="Sign in: exchange username, password and (if required) a TOTP code for a token",
        description=(
            "Every sign-in makes a new token; it expires after a period without use. Five failed "
            "attempts for one account, or from one address, lock signing in there for 30 minutes (429 "
            "`locked_out`). Supervisors and administrators also send `otp`, the current code of their "
            "authenticator app (401 `otp_required`, `otp_invalid` or `otp_not_configured` otherwise)."
        ),
        request=LoginInput,
        responses={
            200: TokenOutput,
            401: SignInErrorResponse401Serializer,
            429: SignInErrorResponse429Serializer,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        with sign_in_refusals():
            token, key = services.token_login(request=request._request, **data.validated_data)
        return Response({"token": key, "expiry": token.expiry})


@contextmanager
def sign_in_refusals():
    """A refused sign-in (or enrolment) as the API answers it: 401 with why, 429 when locked out,
    409/400 when enrolment does not apply."""
    try:
        yield
    except services.LoginLockedOut:
        raise LockedOut() from None
    except services.LoginFailed as refused:
        code, detail = SIGN_IN_REFUSED[refused.reason]
        raise AuthenticationFailed(detail, code=code) from None
    except services.EnrolmentRefused as refused:
        detail = ENROLMENT_REFUSED[refused.reason]
        if refused.reason == "already_enrolled":
            raise Conflict(detail, code=refused.reason) from None
        raise ValidationError(detail, code=refused.reason) from None


class PublicAuthView(APIView):
    """Signed-in or not: the request's own credentials (or link) are what counts."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SignInThrottle]

    def get_authenticate_header(self, request):
        return "Token"


@extend_validation_errors(["otp_not_required"], field_name="non_field_errors", methods=["post"])
class TotpEnrolView(PublicAuthView):
    scope = {"post": NoObject("the username and password in the body are the caller")}
    serializer_class = TotpEnrolInput

    @extend_schema(
        operation_id="auth_totp_enrol",
        summary="Start enrolling your authenticator app (supervisors and administrators, first sign-in)",
        description=(
            "For a supervisor or administrator with no authenticator yet (a new account, or one an "
            "administrator reset): with your username and password, answers a new secret and its "
            "`otpauth://` URL, shown only to you and only now. It counts once confirmed with "
            "`POST /api/v1/auth/totp/confirm/`. 409 `already_enrolled` if you have one; 400 "
            "`otp_not_required` for operators and agency users. Failed passwords count towards the "
            "sign-in lockout."
        ),
        request=TotpEnrolInput,
        responses={
            201: TotpEnrolmentOutput,
            401: SignInErrorResponse401Serializer,
            409: ErrorResponse409Serializer,
            429: SignInErrorResponse429Serializer,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        import base64

        data = TotpEnrolInput(data=request.data)
        data.is_valid(raise_exception=True)
        with sign_in_refusals():
            device = services.totp_enrolment_start(request=request._request, **data.validated_data)
        secret = base64.b32encode(device.bin_key).decode()
        return Response({"secret": secret, "otpauth_url": device.config_url}, status=status.HTTP_201_CREATED)


@extend_validation_errors(["otp_not_required"], field_name="non_field_errors", methods=["post"])
class TotpConfirmView(PublicAuthView):
    scope = {"post": NoObject("the username, password and code in the body are the caller")}
    serializer_class = TotpConfirmInput

    @extend_schema(
        operation_id="auth_totp_confirm",
        summary="Confirm your new authenticator with its current code, and sign in",
        description=(
            "Completes `POST /api/v1/auth/totp/`: the authenticator counts from now on, and the "
            "answer is a token as from signing in. 401 `otp_invalid` for a wrong code, "
            "`otp_not_configured` if no enrolment was started."
        ),
        request=TotpConfirmInput,
        responses={
            200: TokenOutput,
            401: SignInErrorResponse401Serializer,
            409: ErrorResponse409Serializer,
            429: SignInErrorResponse429Serializer,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TotpConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        with sign_in_refusals():
            token, key = services.totp_enrolment_confirm(request=request._request, **data.validated_data)
        return Response({"token": key, "expiry": token.expiry})


@extend_validation_errors(list(LINK_REFUSED), field_name="token", methods=["post"])
class PasswordSetView(PublicAuthView):
    scope = {"post": NoObject("the set-password link's token in the body is the caller")}
    serializer_class = PasswordSetInput

    @extend_schema(
        operation_id="auth_password_set",
        summary="Set your password with a set-password link",
        description=(
            "The token of a set-password link an administrator issued (when creating your account, "
            "or a reset) and your new password. The link works once, until it expires "
            "(`SET_PASSWORD_LINK_HOURS`); afterwards every token you held is revoked. 400 with "
            "`attr` `token` and code `invalid`, `used`, `revoked` (a newer link replaced it) or "
            "`expired`; 400 with `attr` `password` for a password the validators refuse."
        ),
        request=PasswordSetInput,
        responses={204: OpenApiResponse(description="Password set")},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = PasswordSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.password_set_with_link(**data.validated_data)
        except services.LinkRefused as refused:
            raise ValidationError({"token": [LINK_REFUSED[refused.reason]]}, code=refused.reason) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutView(APIView):
    scope = {"post": Own("revokes the token the request is signed with")}
    serializer_class = None

    @extend_schema(
        operation_id="auth_logout",
        description=(
            "Signs this device out: the token that signed the request stops working at once. Other "
            "tokens of the caller stay valid (`DELETE /api/v1/auth/tokens/{id}/` revokes one)."
        ),
        summary="Revoke the token this request is signed with",
        request=None,
        responses={204: OpenApiResponse(description="Token revoked")},
    )
    def post(self, request: Request) -> Response:
        services.token_logout(user=request.user, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenPagination(Pagination):
    ordering = "-created"


class TokenListView(APIView):
    scope = {"get": Own("the caller's own tokens: filtered by the caller")}
    serializer_class = AuthTokenOutput
    pagination_class = TokenPagination
    queryset = AuthToken.objects.none()  # the caller's own tokens only, below

    @extend_schema(
        operation_id="auth_tokens_list",
        description=(
            "Every token the caller holds (one per sign-in), newest first, with when it was created and"
            " when it expires; never the token itself."
        ),
        summary="The caller's own tokens (never the tokens themselves), newest first",
        responses=AuthTokenOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(AuthToken.objects.filter(user=request.user))
        context = {"current_digest": request.auth.digest}
        return self.get_paginated_response(AuthTokenOutput(page, many=True, context=context).data)


class TokenDetailView(APIView):
    scope = {"delete": Own("the service revokes only a token of the caller's own", kwarg="token_id")}
    serializer_class = None

    @extend_schema(
        operation_id="auth_tokens_destroy",
        description=(
            "Revokes one of the caller's tokens by its id (as listed by `GET /api/v1/auth/tokens/`): "
            "that device is signed out. 404 for an id that is not one of the caller's tokens."
        ),
        summary="Revoke one of the caller's own tokens (signs that device out)",
        request=None,
        responses={204: OpenApiResponse(description="Token revoked")},
    )
    def delete(self, request: Request, token_id: str) -> Response:
        if not services.token_revoke(user=request.user, token_id=token_id):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    audit_actions = {"patch": (AuditAction.USER_UPDATE, "helpline.user")}
    scope = {"get": Own("the caller themselves"), "patch": Own("the caller changes only their own account")}
    serializer_class = UserOutput

    @extend_schema(
        operation_id="auth_me",
        description=(
            "The signed-in caller's account: username, role, helpline, team and (for agency users) "
            "agency. Use it after signing in to learn what the console should show."
        ),
        summary="Who the caller is",
    )
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)

    @extend_schema(
        operation_id="auth_me_update",
        description=(
            "Chooses the language the caller reads: their notifications' e-mail and SMS, and the "
            "API's answers when a request names none of ours (`Accept-Language`). Empty: their "
            "helpline's default language. Recorded in the audit log as a change to their account."
        ),
        summary="Choose the language you read",
        request=MeUpdateInput,
        responses=UserOutput,
    )
    def patch(self, request: Request) -> Response:
        data = MeUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.own_language_set(user=request.user, language=data.validated_data["language"])
        if not getattr(request._request, "language_requested", None):
            translation.activate(language_of(user))  # answered in the language just chosen
        return Response(UserOutput(user).data)


class SecurityEventListView(APIView):
    scope = {"get": Scoped(selectors.security_events_for)}
    serializer_class = SecurityEventOutput
    queryset = AuditEntry.objects.none()  # the caller's own, below

    @extend_schema(
        operation_id="auth_security_events",
        summary="Changes to the caller's own sign-in, newest first",
        description="Set-password links issued for you and used, and your authenticator reset by an "
        "administrator or enrolled: who did it and when. The same entries are flagged for review in "
        "the audit log.",
        responses=SecurityEventOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        return self.get_paginated_response(SecurityEventOutput(page, many=True).data)
