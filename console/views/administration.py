"""The administrators' pages: the helpline's people (with the set-password link shown once) and its
teams, and what every administrators' page shares (the form's fields, where a new row goes). The
helpline's configuration (canned replies, agencies, languages, web chat) is in configuration.py,
its numbers and voice routes in numbers.py, its on-call rota in on_call.py.

As the rest of the console, each page is as thin as the API view it mirrors (helpline.api.
administration and teams): forms are validated by the API's own input serializers and written by
the apps' services, which check the policy again and write the audit entries; the pages only turn
form fields into the serializers' input. Every object is fetched through its app's selector in the
caller's scope (404 outside it)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline import selectors as helpline_selectors
from helpline import services as helpline_services
from helpline import teams
from helpline.api.serializers import (
    TeamCreateInput,
    TeamUpdateInput,
    UserCreateInput,
    UserUpdateInput,
)
from helpline.models import Role
from helpline.vocabulary import PolicyAction
from referrals import selectors as referral_selectors
from referrals.memberships import agency_of

from ..base import ConsoleView, Fetch, NoObject, Refused, Scoped
from .workspace import _valid

# How many rows a list shows (a helpline's people, teams, replies and agencies are far fewer).
LIST_LENGTH = 1000


def _posted(request: HttpRequest, names: frozenset[str]) -> dict[str, Any]:
    """The form's fields that were sent (a page has several small forms, each sending its own)."""
    return {name: request.POST[name] for name in names if name in request.POST}


def _helplines_to_name(user: Any) -> list:
    """The helplines a platform administrator (of no helpline) chooses from when creating something;
    none for an administrator of a helpline, who creates in their own."""
    return list(helpline_selectors.helpline_queryset_for(user)) if user.helpline_id is None else []


def _helpline_of_new(request: HttpRequest, fields: dict[str, Any]) -> Any:
    """Where a new row goes: the administrator's own helpline, or the one a platform administrator
    named (a field the serializer scoped to the helplines they administer)."""
    helpline = request.user.helpline if request.user.helpline_id is not None else fields.get("helpline")
    if helpline is None:
        raise Refused(400, [_("Choose the helpline.")], {"helpline": [_("This field is required.")]})
    return helpline


def _to(name: str, *args: Any) -> HttpResponse:
    return HttpResponseRedirect(reverse(f"console:{name}", args=args))


# --- people -----------------------------------------------------------------------------------------


def _people_choices(user: Any) -> dict[str, Any]:
    """What the person forms offer: roles, the helpline's active teams, its agencies, languages."""
    return {
        "roles": Role.choices,
        "teams": [t for t in helpline_selectors.team_queryset_for(user) if t.is_active],
        "agencies": list(referral_selectors.agency_queryset_for(user)),
        "helplines": _helplines_to_name(user),
    }


# The answer to a creation and to a new link: the set-password link, shown once.
LINK_TEMPLATE = "console/admin_password_link.html"


def link_url(link: Any) -> str:
    """The address the person opens (console/views/auth.PasswordView): the installation's public
    address, and the link's token after `#` (never sent to a server, so never in a log)."""
    return settings.PUBLIC_BASE_URL + reverse("console:password") + "#" + link.token


class UsersView(ConsoleView):
    """The people of the administrator's helpline, and the form that creates one (mirrors
    GET/POST /api/v1/users/). The answer to a creation shows the set-password link, once."""

    template_name = "console/admin_users.html"
    page = PolicyAction.USER_MANAGE
    scope = {
        "get": Scoped(helpline_selectors.user_queryset_for),
        "post": NoObject("creates a person, in the administrator's own helpline (or the one named)"),
    }
    fields = {
        "post": frozenset(
            {"username", "first_name", "last_name", "email", "role", "team", "agency", "language", "helpline"}
        )
    }

    def get(self, request: HttpRequest) -> HttpResponse:
        people = self.scoped().order_by("username", "id")[:LIST_LENGTH]
        return self.render({"people": list(people), **_people_choices(request.user)})

    def post(self, request: HttpRequest) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        fields = dict(_valid(UserCreateInput, data, context={"request": request}))
        if request.user.helpline_id is not None:
            # A helpline's administrator creates people for that helpline only; a platform
            # administrator names one (none: another platform administrator), as in the API.
            fields["helpline"] = request.user.helpline
        person, link = helpline_services.user_create(actor=request.user, **fields)
        # The link's token exists only in this answer (the database keeps its hash).
        return self.render(
            {"person": person, "link": link, "link_url": link_url(link), "created": True},
            template=LINK_TEMPLATE,
        )


class UserView(ConsoleView):
    """One person: change their details, role, team, agency or language, deactivate or reactivate
    them (mirrors PATCH /api/v1/users/{id}/)."""

    template_name = "console/admin_user.html"
    page = PolicyAction.USER_MANAGE
    scope = {
        "get": Fetch(helpline_selectors.user_get, "user_id"),
        "post": Fetch(helpline_selectors.user_get, "user_id"),
    }
    fields = {
        "post": frozenset(
            {"first_name", "last_name", "email", "role", "team", "agency", "language", "is_active"}
        )
    }

    def get(self, request: HttpRequest, user_id: int) -> HttpResponse:
        person = self.object
        return self.render(
            {
                "person": person,
                "person_agency": agency_of(person),
                "needs_second_factor": helpline_services.second_factor_required(person),
                "has_authenticator": TOTPDevice.objects.filter(user=person, confirmed=True).exists(),
                **_people_choices(request.user),
            }
        )

    def post(self, request: HttpRequest, user_id: int) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        if not data:
            raise Refused(400, [_("Nothing to change was sent.")])
        fields = _valid(UserUpdateInput, data, partial=True, context={"request": request})
        helpline_services.user_update(actor=request.user, user=self.object, **fields)
        return _to("admin-user", user_id)


class UserPasswordLinkView(ConsoleView):
    """A new set-password link for the person (a reset; mirrors POST .../password-link/): shown
    once, in this answer; their password works until they use it, earlier links stop working."""

    template_name = LINK_TEMPLATE
    page = PolicyAction.USER_MANAGE
    scope = {"post": Fetch(helpline_selectors.user_get, "user_id")}
    fields = {"post": frozenset()}

    def post(self, request: HttpRequest, user_id: int) -> HttpResponse:
        link = helpline_services.user_password_link_issue(actor=request.user, user=self.object)
        return self.render(
            {"person": self.object, "link": link, "link_url": link_url(link), "created": False}
        )


class UserSecondFactorView(ConsoleView):
    """Removes the person's authenticator (a lost phone) and signs them out everywhere (mirrors
    DELETE .../totp/); they enrol a new one at their next sign-in."""

    page = PolicyAction.USER_MANAGE
    scope = {"post": Fetch(helpline_selectors.user_get, "user_id")}
    fields = {"post": frozenset()}

    def post(self, request: HttpRequest, user_id: int) -> HttpResponse:
        helpline_services.user_second_factor_reset(actor=request.user, user=self.object)
        return _to("admin-user", user_id)


# --- teams ------------------------------------------------------------------------------------------


class TeamsView(ConsoleView):
    """The helpline's teams (retired ones included) and the form that creates one (mirrors
    GET/POST /api/v1/teams/)."""

    template_name = "console/admin_teams.html"
    page = PolicyAction.TEAM_MANAGE
    scope = {
        "get": Scoped(helpline_selectors.team_queryset_for),
        "post": NoObject("creates a team, in the administrator's own helpline (or the one named)"),
    }
    fields = {"post": frozenset({"name", "auto_assign", "helpline"})}

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = self.scoped().order_by("-is_active", "name", "id")[:LIST_LENGTH]
        return self.render({"teams": list(rows), "helplines": _helplines_to_name(request.user)})

    def post(self, request: HttpRequest) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        fields = dict(_valid(TeamCreateInput, data, context={"request": request}))
        fields["helpline"] = _helpline_of_new(request, fields)
        team = teams.team_create(actor=request.user, **fields)
        return _to("admin-team", team.pk)


class TeamView(ConsoleView):
    """One team and its members: rename it, set its round-robin, retire or reactivate it (mirrors
    PATCH /api/v1/teams/{id}/; retiring is refused while anyone active is in it)."""

    template_name = "console/admin_team.html"
    page = PolicyAction.TEAM_MANAGE
    scope = {
        "get": Fetch(helpline_selectors.team_get, "team_id"),
        "post": Fetch(helpline_selectors.team_get, "team_id"),
    }
    fields = {"post": frozenset({"name", "auto_assign", "is_active"})}

    def get(self, request: HttpRequest, team_id: int) -> HttpResponse:
        return self.render({"team": self.object, "members": list(self.object.members.all())})

    def post(self, request: HttpRequest, team_id: int) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        if not data:
            raise Refused(400, [_("Nothing to change was sent.")])
        fields = _valid(TeamUpdateInput, data, partial=True)
        teams.team_update(actor=request.user, team=self.object, **fields)
        return _to("admin-team", team_id)
