"""Teams: administrators create, rename, retire and reactivate them and set their round-robin;
staff of the helpline read them and their members. People move between teams through
`PATCH /api/v1/users/{id}/` (`team`)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.vocabulary import AuditAction, PolicyAction

from .. import policy, selectors, teams
from ..models import Team
from .base import APIView, Fetch, NoObject, Scoped
from .schema import ErrorResponse409Serializer
from .serializers import TeamCreateInput, TeamOutput, TeamUpdateInput

MANAGED_BY_ADMINS = gettext_lazy("Only administrators of the helpline manage its teams.")


# A platform administrator (of no helpline) must name the helpline a new team belongs to.
@extend_validation_errors(["required"], field_name="helpline", methods=["post"])
class TeamListView(APIView):
    audit_actions = {
        "get": (AuditAction.TEAM_LIST, "helpline.team"),
        "post": (AuditAction.TEAM_CREATE, "helpline.team"),
    }
    scope = {
        "get": Scoped(selectors.team_queryset_for),
        "post": NoObject("creates a team, in the administrator's own helpline (or the one named)"),
    }
    serializer_class = TeamOutput
    queryset = Team.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(
        operation_id="teams_list",
        summary="The helpline's teams and their members",
        description=(
            "Every team of the caller's helpline, retired ones included (`is_active` false), each with "
            "its members. Operators and supervisors read them to hand a case over "
            "(`POST /api/v1/cases/{id}/transfer/`); administrators manage them. A platform "
            "administrator sees every helpline's teams. Newest first, one cursor page at a time."
        ),
        responses=TeamOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        return self.get_paginated_response(TeamOutput(page, many=True).data)

    @extend_schema(
        operation_id="teams_create",
        summary="Create a team (administrators)",
        description=(
            "A new team of the administrator's helpline (a platform administrator names the "
            "`helpline`). Names are unique per helpline, letter case aside (400 `unique`). People "
            'join it with `PATCH /api/v1/users/{id}/` `{"team": id}`. With `auto_assign`, the new '
            "intake cases the team receives are assigned to its active operators in turn. 403 for "
            "anyone but an administrator."
        ),
        request=TeamCreateInput,
        responses={201: TeamOutput, 403: ErrorResponse403Serializer},
    )
    def post(self, request: Request) -> Response:
        if not policy.can(request.user, PolicyAction.TEAM_MANAGE, Team(helpline_id=request.user.helpline_id)):
            raise PermissionDenied(MANAGED_BY_ADMINS)
        data = TeamCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        helpline = request.user.helpline if request.user.helpline_id is not None else fields.get("helpline")
        if helpline is None:
            raise ValidationError(
                {"helpline": [_("A platform administrator names the helpline.")]}, code="required"
            )
        fields["helpline"] = helpline
        team = teams.team_create(actor=request.user, **fields)
        return Response(
            TeamOutput(selectors.team_get(user=request.user, team_id=team.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class TeamDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.TEAM_READ, "helpline.team"),
        "patch": (AuditAction.TEAM_UPDATE, "helpline.team"),
    }
    scope = {"get": Fetch(selectors.team_get, "team_id"), "patch": Fetch(selectors.team_get, "team_id")}
    serializer_class = TeamOutput

    @extend_schema(
        operation_id="teams_retrieve",
        summary="One team and its members",
        description="404 for a team of another helpline, as for one that does not exist.",
        responses=TeamOutput,
    )
    def get(self, request: Request, team_id: int) -> Response:
        return Response(TeamOutput(self.object).data)

    @extend_schema(
        operation_id="teams_partial_update",
        summary="Rename, retire or reactivate a team, or set its round-robin (administrators)",
        description=(
            "`is_active: false` retires the team: it keeps its cases and history (its open cases "
            "stay with it until handed over) but receives no new members or cases. Retiring is "
            "refused (409 `team_has_members`) while anyone active is in it: move them first; and "
            "(409 `team_receives_intake`) while it is the helpline's `intake_team`. `is_active: true` "
            "reactivates it. Every change is in the audit log (`team.update`). 403 for staff who may "
            "read the team but not manage it."
        ),
        request=TeamUpdateInput,
        responses={200: TeamOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def patch(self, request: Request, team_id: int) -> Response:
        if not policy.can(request.user, PolicyAction.TEAM_MANAGE, self.object):
            raise PermissionDenied(MANAGED_BY_ADMINS)
        data = TeamUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        team = teams.team_update(actor=request.user, team=self.object, **data.validated_data)
        return Response(TeamOutput(selectors.team_get(user=request.user, team_id=team.pk)).data)
