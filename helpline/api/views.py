from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from .. import policy, selectors, services
from ..models import Helpline, User
from .errors import LockedOut
from .pagination import Pagination
from .permissions import IsAdministrator
from .schema import SignInErrorResponse401Serializer, SignInErrorResponse429Serializer
from .serializers import (
    AuthTokenOutput,
    HelplineCreateInput,
    HelplineOutput,
    HelplineUpdateInput,
    LoginInput,
    TokenOutput,
    TotpEnrolmentOutput,
    UserCreateInput,
    UserOutput,
    UserUpdateInput,
)


class LoginThrottle(AnonRateThrottle):
    rate = "30/min"


SIGN_IN_REFUSED = {
    "invalid_credentials": ("authentication_failed", "Unable to sign in with these credentials."),
    "otp_required": (
        "otp_required",
        "Supervisors and administrators also give the code of their authenticator app (otp).",
    ),
    "otp_invalid": ("otp_invalid", "The authenticator code is wrong, expired or already used."),
    "otp_not_configured": (
        "otp_not_configured",
        "Supervisors and administrators need an authenticator app: ask an administrator to set one up.",
    ),
}


class TokenLoginView(GenericAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]
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
        try:
            token, key = services.token_login(request=request._request, **data.validated_data)
        except services.LoginLockedOut:
            raise LockedOut() from None
        except services.LoginFailed as refused:
            code, detail = SIGN_IN_REFUSED[refused.reason]
            raise AuthenticationFailed(detail, code=code) from None
        return Response({"token": key, "expiry": token.expiry})


class LogoutView(GenericAPIView):
    serializer_class = None

    @extend_schema(
        operation_id="auth_logout",
        summary="Revoke the token this request is signed with",
        request=None,
        responses={204: OpenApiResponse(description="Token revoked")},
    )
    def post(self, request: Request) -> Response:
        services.token_logout(user=request.user, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenPagination(Pagination):
    ordering = "-created"


class TokenListView(GenericAPIView):
    serializer_class = AuthTokenOutput
    pagination_class = TokenPagination
    queryset = AuthToken.objects.none()  # the caller's own tokens only, below

    @extend_schema(
        operation_id="auth_tokens_list",
        summary="The caller's own tokens (never the tokens themselves), newest first",
        responses=AuthTokenOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(AuthToken.objects.filter(user=request.user))
        context = {"current_digest": request.auth.digest}
        return self.get_paginated_response(AuthTokenOutput(page, many=True, context=context).data)


class TokenDetailView(GenericAPIView):
    serializer_class = None

    @extend_schema(
        operation_id="auth_tokens_destroy",
        summary="Revoke one of the caller's own tokens (signs that device out)",
        request=None,
        responses={204: OpenApiResponse(description="Token revoked")},
    )
    def delete(self, request: Request, token_id: str) -> Response:
        if not services.token_revoke(user=request.user, token_id=token_id):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(GenericAPIView):
    serializer_class = UserOutput

    @extend_schema(operation_id="auth_me", summary="Who the caller is")
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)


class UserListView(GenericAPIView):
    audit_actions = {"get": ("user.list", "helpline.user"), "post": ("user.create", "helpline.user")}
    permission_classes = [IsAdministrator]
    serializer_class = UserOutput
    queryset = User.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(operation_id="users_list", responses=UserOutput(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.user_queryset_for(request.user))
        return self.get_paginated_response(UserOutput(page, many=True).data)

    @extend_schema(operation_id="users_create", request=UserCreateInput, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        data = UserCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if request.user.helpline_id is not None:
            # A helpline's administrator creates people for that helpline only.
            fields["helpline"] = request.user.helpline
        user = services.user_create(actor=request.user, **fields)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(GenericAPIView):
    audit_actions = {"get": ("user.read", "helpline.user"), "patch": ("user.update", "helpline.user")}
    permission_classes = [IsAdministrator]
    serializer_class = UserOutput

    @extend_schema(operation_id="users_retrieve", responses=UserOutput)
    def get(self, request: Request, user_id: int) -> Response:
        return Response(UserOutput(selectors.user_get(user=request.user, user_id=user_id)).data)

    @extend_schema(operation_id="users_partial_update", request=UserUpdateInput, responses=UserOutput)
    def patch(self, request: Request, user_id: int) -> Response:
        target = selectors.user_get(user=request.user, user_id=user_id)
        data = UserUpdateInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=target, **data.validated_data)
        return Response(UserOutput(user).data)


class HelplineListView(GenericAPIView):
    audit_actions = {
        "get": ("helpline.list", "helpline.helpline"),
        "post": ("helpline.create", "helpline.helpline"),
    }
    permission_classes = [IsAdministrator]
    serializer_class = HelplineOutput
    queryset = Helpline.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(operation_id="helplines_list", responses=HelplineOutput(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.helpline_queryset_for(request.user))
        return self.get_paginated_response(HelplineOutput(page, many=True).data)

    @extend_schema(
        operation_id="helplines_create", request=HelplineCreateInput, responses={201: HelplineOutput}
    )
    def post(self, request: Request) -> Response:
        if not policy.can(request.user, "helpline.create"):
            raise PermissionDenied("Only platform administrators create helplines.")
        data = HelplineCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        helpline = services.helpline_create(actor=request.user, **data.validated_data)
        return Response(HelplineOutput(helpline).data, status=status.HTTP_201_CREATED)


class HelplineDetailView(GenericAPIView):
    audit_actions = {
        "get": ("helpline.read", "helpline.helpline"),
        "patch": ("helpline.update", "helpline.helpline"),
    }
    permission_classes = [IsAdministrator]
    serializer_class = HelplineOutput

    @extend_schema(operation_id="helplines_retrieve", responses=HelplineOutput)
    def get(self, request: Request, helpline_id: int) -> Response:
        return Response(
            HelplineOutput(selectors.helpline_get(user=request.user, helpline_id=helpline_id)).data
        )

    @extend_schema(
        operation_id="helplines_partial_update", request=HelplineUpdateInput, responses=HelplineOutput
    )
    def patch(self, request: Request, helpline_id: int) -> Response:
        helpline = selectors.helpline_get(user=request.user, helpline_id=helpline_id)
        data = HelplineUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        helpline = services.helpline_update(actor=request.user, helpline=helpline, **data.validated_data)
        return Response(HelplineOutput(helpline).data)


def healthz(request):
    """The process is alive (no dependencies checked: a liveness probe must not flap with the DB)."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Ready to serve: PostgreSQL and Redis both answer."""
    import redis
    from django.conf import settings

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


class UserTotpView(GenericAPIView):
    permission_classes = [IsAdministrator]
    serializer_class = TotpEnrolmentOutput
    audit_actions = {"post": ("user.totp_enrol", "helpline.user")}

    @extend_schema(
        operation_id="users_totp_enrol",
        summary="Give a person a new authenticator (administrators)",
        description="Replaces any authenticator the person had and signs them out everywhere. The secret "
        "is in this answer only; supervisors and administrators need it to sign in.",
        request=None,
        responses={201: TotpEnrolmentOutput},
    )
    def post(self, request: Request, user_id: int) -> Response:
        import base64

        target = selectors.user_get(user=request.user, user_id=user_id)
        device = services.user_totp_enrol(actor=request.user, user=target)
        secret = base64.b32encode(device.bin_key).decode()
        return Response({"secret": secret, "otpauth_url": device.config_url}, status=status.HTTP_201_CREATED)
