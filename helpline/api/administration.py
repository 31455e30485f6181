"""The administration of people and helplines: administrators create and change users (and issue
their set-password links, reset their authenticator) and helplines, with their chat settings,
languages and wording."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.vocabulary import AuditAction, PolicyAction

from .. import policy, selectors, services
from ..models import Helpline, User
from .base import APIView, Fetch, NoObject, Scoped
from .permissions import IsAdministrator
from .serializers import (
    HelplineCreateInput,
    HelplineOutput,
    HelplineUpdateInput,
    SetPasswordLinkOutput,
    UserCreatedOutput,
    UserCreateInput,
    UserOutput,
    UserUpdateInput,
)


class UserListView(APIView):
    audit_actions = {
        "get": (AuditAction.USER_LIST, "helpline.user"),
        "post": (AuditAction.USER_CREATE, "helpline.user"),
    }
    scope = {
        "get": Scoped(selectors.user_queryset_for),
        "post": NoObject("creates a person, in the administrator's own helpline"),
    }
    permission_classes = [IsAdministrator]
    serializer_class = UserOutput
    queryset = User.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(
        operation_id="users_list",
        summary="People of the administrator's helplines (administrators)",
        description=(
            "Staff and agency users of the helplines the administrator administers, with role, team and"
            " active flag; never a password or an authenticator secret. 403 for other roles."
        ),
        responses=UserOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        return self.get_paginated_response(UserOutput(page, many=True).data)

    @extend_schema(
        operation_id="users_create",
        summary="Create a person's account (administrators)",
        description="The person has no password yet: `set_password` holds the one-time link with "
        "which they set their own (shown only here). Supervisors and administrators enrol their "
        "authenticator at their first sign-in.",
        request=UserCreateInput,
        responses={201: UserCreatedOutput},
    )
    def post(self, request: Request) -> Response:
        data = UserCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if request.user.helpline_id is not None:
            # A helpline's administrator creates people for that helpline only.
            fields["helpline"] = request.user.helpline
        user, link = services.user_create(actor=request.user, **fields)
        user.set_password_link = link
        return Response(UserCreatedOutput(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.USER_READ, "helpline.user"),
        "patch": (AuditAction.USER_UPDATE, "helpline.user"),
    }
    scope = {"get": Fetch(selectors.user_get, "user_id"), "patch": Fetch(selectors.user_get, "user_id")}
    permission_classes = [IsAdministrator]
    serializer_class = UserOutput

    @extend_schema(
        operation_id="users_retrieve",
        summary="Read one person's account (administrators)",
        description=(
            "Role, helpline, team, agency and whether the account is active. 403 for other roles, 404 "
            "for a person outside the administrator's helplines."
        ),
        responses=UserOutput,
    )
    def get(self, request: Request, user_id: int) -> Response:
        return Response(UserOutput(self.object).data)

    @extend_schema(
        operation_id="users_partial_update",
        summary="Change a person's role, team, details or deactivate them (administrators)",
        description=(
            "Administrators change a person's name, e-mail, role, team or agency, or deactivate the "
            "account (its tokens stop working). Never the password: issue a set-password link instead. "
            "403 for other roles, 404 outside the administrator's helplines."
        ),
        request=UserUpdateInput,
        responses=UserOutput,
    )
    def patch(self, request: Request, user_id: int) -> Response:
        data = UserUpdateInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=self.object, **data.validated_data)
        return Response(UserOutput(user).data)


# The chat settings' own refusals (helpline.chat_settings), besides the fields' usual codes.
def _chat_settings_errors(methods: list[str]):
    def decorate(view):
        for field, codes in (
            ("opening_hours", ["empty", "invalid", "max_length"]),
            ("chat_greeting", ["invalid", "blank", "max_length", "invalid_placeholder"]),
            ("out_of_hours_message", ["invalid", "blank", "max_length", "invalid_placeholder"]),
            ("timezone", ["invalid"]),
        ):
            view = extend_validation_errors(codes, field_name=field, methods=methods)(view)
        return view

    return decorate


@_chat_settings_errors(["post"])
class HelplineListView(APIView):
    audit_actions = {
        "get": (AuditAction.HELPLINE_LIST, "helpline.helpline"),
        "post": (AuditAction.HELPLINE_CREATE, "helpline.helpline"),
    }
    scope = {
        "get": Scoped(selectors.helpline_queryset_for),
        "post": NoObject("creates a helpline (platform administrators, checked by the policy)"),
    }
    permission_classes = [IsAdministrator]
    serializer_class = HelplineOutput
    queryset = Helpline.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(
        operation_id="helplines_list",
        summary="Helplines the caller administers",
        description=(
            "Administrators list the helplines they administer (a platform administrator: all). 403 for"
            " other roles."
        ),
        responses=HelplineOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        return self.get_paginated_response(HelplineOutput(page, many=True).data)

    @extend_schema(
        operation_id="helplines_create",
        summary="Create a helpline (platform administrators)",
        description=(
            "A platform administrator (an administrator of no helpline) creates a national helpline: "
            "code, name, country, time zone, default language, due-date policy per risk level and "
            "retention; its case categories are created with it. 403 for other roles."
        ),
        request=HelplineCreateInput,
        responses={201: HelplineOutput},
    )
    def post(self, request: Request) -> Response:
        if not policy.can(request.user, PolicyAction.HELPLINE_CREATE):
            raise PermissionDenied(_("Only platform administrators create helplines."))
        data = HelplineCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        helpline = services.helpline_create(actor=request.user, **data.validated_data)
        return Response(HelplineOutput(helpline).data, status=status.HTTP_201_CREATED)


@_chat_settings_errors(["patch"])
@extend_validation_errors(["invalid"], field_name="label_overrides", methods=["patch"])
class HelplineDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.HELPLINE_READ, "helpline.helpline"),
        "patch": (AuditAction.HELPLINE_UPDATE, "helpline.helpline"),
    }
    scope = {
        "get": Fetch(selectors.helpline_get, "helpline_id"),
        "patch": Fetch(selectors.helpline_get, "helpline_id"),
    }
    permission_classes = [IsAdministrator]
    serializer_class = HelplineOutput

    @extend_schema(
        operation_id="helplines_retrieve",
        summary="Read one helpline (administrators)",
        description=(
            "Its settings: time zone, default language, due-date policy per risk level (`due_policy`), "
            "retention. 403 for other roles, 404 for a helpline the administrator does not administer."
        ),
        responses=HelplineOutput,
    )
    def get(self, request: Request, helpline_id: int) -> Response:
        return Response(HelplineOutput(self.object).data)

    @extend_schema(
        operation_id="helplines_partial_update",
        summary="Change a helpline's settings (administrators)",
        description=(
            "Administrators change a helpline's name, time zone, default language, due-date policy "
            "(minutes per risk level), retention or deactivate it; send only the fields to change. "
            "This is also where a helpline's web chat is configured: `timezone` (IANA), `opening_hours` "
            "(weekly periods read in that time zone; null for always open, the default), "
            "`chat_greeting` (the first message a child sees, per language) and "
            "`out_of_hours_message` (shown after it outside the opening hours). Texts may use the "
            "placeholder `{helpline}` (the helpline's name); any other `{...}` is refused. "
            "Invalid values answer 400 naming the field; nothing is changed. Audited. 403 for other "
            "roles, 404 outside the administrator's helplines."
        ),
        request=HelplineUpdateInput,
        responses=HelplineOutput,
    )
    def patch(self, request: Request, helpline_id: int) -> Response:
        data = HelplineUpdateInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        helpline = services.helpline_update(actor=request.user, helpline=self.object, **data.validated_data)
        return Response(HelplineOutput(helpline).data)


class UserPasswordLinkView(APIView):
    permission_classes = [IsAdministrator]
    serializer_class = SetPasswordLinkOutput
    audit_actions = {"post": (AuditAction.USER_PASSWORD_LINK, "helpline.user")}
    scope = {"post": Fetch(selectors.user_get, "user_id")}

    @extend_schema(
        operation_id="users_password_link",
        summary="Issue a set-password link for a person (administrators): a reset",
        description="The person's password stays as it is until they use the link; earlier links stop "
        "working. The token is in this answer only: hand it to the person. Flagged for review in the "
        "audit log and shown to the person.",
        request=None,
        responses={201: SetPasswordLinkOutput},
    )
    def post(self, request: Request, user_id: int) -> Response:
        link = services.user_password_link_issue(actor=request.user, user=self.object)
        return Response(SetPasswordLinkOutput(link).data, status=status.HTTP_201_CREATED)


class UserTotpView(APIView):
    permission_classes = [IsAdministrator]
    serializer_class = None
    audit_actions = {"delete": (AuditAction.USER_SECOND_FACTOR_RESET, "helpline.user")}
    scope = {"delete": Fetch(selectors.user_get, "user_id")}

    @extend_schema(
        operation_id="users_totp_reset",
        summary="Reset a person's authenticator (administrators)",
        description="Removes the person's authenticator (a lost phone) and signs them out everywhere; "
        "they enrol a new one themselves at their next sign-in. Flagged for review in the audit log "
        "and shown to the person.",
        request=None,
        responses={204: OpenApiResponse(description="Authenticator removed")},
    )
    def delete(self, request: Request, user_id: int) -> Response:
        services.user_second_factor_reset(actor=request.user, user=self.object)
        return Response(status=status.HTTP_204_NO_CONTENT)
