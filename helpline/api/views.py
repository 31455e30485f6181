from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from .. import policy, selectors, services
from ..models import Helpline, User
from .permissions import IsAdministrator
from .serializers import (
    HelplineCreateInput,
    HelplineOutput,
    HelplineUpdateInput,
    LoginInput,
    TokenOutput,
    UserCreateInput,
    UserOutput,
    UserUpdateInput,
)


class LoginThrottle(AnonRateThrottle):
    rate = "30/min"


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
        summary="Sign in: exchange username and password for a token",
        request=LoginInput,
        responses={200: TokenOutput},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token = services.token_login(request=request._request, **data.validated_data)
        except services.LoginFailed:
            raise AuthenticationFailed("Unable to sign in with these credentials.") from None
        return Response({"token": token})


class LogoutView(GenericAPIView):
    serializer_class = None

    @extend_schema(
        operation_id="auth_logout",
        summary="Revoke the caller's token",
        request=None,
        responses={204: OpenApiResponse(description="Token revoked")},
    )
    def post(self, request: Request) -> Response:
        services.token_logout(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(GenericAPIView):
    serializer_class = UserOutput

    @extend_schema(operation_id="auth_me", summary="Who the caller is")
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)


class UserListView(GenericAPIView):
    permission_classes = [IsAdministrator]
    serializer_class = UserOutput
    queryset = User.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(operation_id="users_list", responses=UserOutput(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.user_queryset_for(request.user))
        return self.get_paginated_response(UserOutput(page, many=True).data)

    @extend_schema(operation_id="users_create", request=UserCreateInput, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        data = UserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if request.user.helpline_id is not None:
            # A helpline's administrator creates people for that helpline only.
            fields["helpline"] = request.user.helpline
        user = services.user_create(actor=request.user, **fields)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(GenericAPIView):
    permission_classes = [IsAdministrator]
    serializer_class = UserOutput

    @extend_schema(operation_id="users_retrieve", responses=UserOutput)
    def get(self, request: Request, user_id: int) -> Response:
        return Response(UserOutput(selectors.user_get(user=request.user, user_id=user_id)).data)

    @extend_schema(operation_id="users_partial_update", request=UserUpdateInput, responses=UserOutput)
    def patch(self, request: Request, user_id: int) -> Response:
        target = selectors.user_get(user=request.user, user_id=user_id)
        data = UserUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=target, **data.validated_data)
        return Response(UserOutput(user).data)


class HelplineListView(GenericAPIView):
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
