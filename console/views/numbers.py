"""The helpline's Twilio numbers and how its voice numbers answer (voice routes): administrators add,
change and retire them; supervisors read them, to know which number a child wrote to and how calls
are answered (helpline.policy: phone_number.view and phone_number.manage).

As the rest of the console, each page is as thin as the API view it mirrors (channels_sms.api.
number_views): forms are validated by the API's own input serializers and written by
channels_sms.numbers, which checks the policy again and writes the audit entries. Every number and
route is fetched through its selector in the caller's scope (404 outside it)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from channels_sms import numbers
from channels_sms.api.serializers import (
    PhoneNumberCreateInput,
    PhoneNumberUpdateInput,
    VoiceRouteCreateInput,
    _VoiceRouteFieldsInput,
)
from channels_sms.models import NumberChannel, VoiceMode
from helpline import policy
from helpline.i18n import language_codes
from helpline.vocabulary import PolicyAction

from ..base import ConsoleView, Fetch, NoObject, Refused, Scoped
from .administration import LIST_LENGTH, _helpline_of_new, _helplines_to_name, _posted, _to
from .workspace import _valid

ROUTE_FIELDS = frozenset({"greeting", "mode", "queue_name", "dial_numbers", "emergency_digit"})
# Retiring a number or a route is asked for twice: the form's box says what follows.
CONFIRM = "confirm"


def _may_manage(user: Any) -> bool:
    """Whether the page shows its forms (the administrators'); a supervisor reads it only."""
    return policy.can(user, PolicyAction.PHONE_NUMBER_MANAGE)


def _number_languages(user: Any, helpline: Any = None) -> list[tuple[str, str]]:
    """The languages a number may speak, as (code, name): its helpline's (every one of ours for a
    platform administrator adding one); "" is the helpline's default."""
    helpline = helpline or (user.helpline if user.helpline_id is not None else None)
    codes = helpline.children_languages if helpline is not None else language_codes()
    names = dict(settings.LANGUAGES)
    return [(code, str(names.get(code, code))) for code in codes]


def _confirmed(request: HttpRequest) -> None:
    if request.POST.get(CONFIRM) != "yes":
        raise Refused(400, [_("Tick the box to confirm.")], {CONFIRM: [_("This field is required.")]})


def _route_input(request: HttpRequest, names: frozenset[str]) -> dict[str, Any]:
    """The route forms' fields as the route serializers take them: the on-duty numbers one a line;
    a blank emergency digit is left out (a new route: 9; a route: the one it has)."""
    data: dict[str, Any] = {}
    for name, value in _posted(request, names).items():
        if name == "dial_numbers":
            data[name] = [line.strip() for line in value.splitlines() if line.strip()]
        elif name == "emergency_digit" and not value.strip():
            continue
        else:
            data[name] = value.strip() if name in ("queue_name", "emergency_digit") else value
    return data


class _NumbersPage(ConsoleView):
    """Supervisors and administrators read these pages; only administrators post to them."""

    page = PolicyAction.PHONE_NUMBER_VIEW
    post_page = PolicyAction.PHONE_NUMBER_MANAGE


# --- numbers ----------------------------------------------------------------------------------------


class NumbersView(_NumbersPage):
    """The helpline's numbers, suspended ones included, with their voice routes, and the form that
    adds one (mirrors GET/POST /api/v1/phone-numbers/)."""

    template_name = "console/admin_numbers.html"
    scope = {
        "get": Scoped(numbers.phone_number_queryset_for),
        "post": NoObject("adds a number, to the administrator's own helpline (or the one named)"),
    }
    fields = {"post": frozenset({"channel", "number", "acknowledgement", "language", "helpline"})}

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = self.scoped().order_by("helpline_id", "-is_active", "number", "channel", "id")[:LIST_LENGTH]
        return self.render(
            {
                "numbers": list(rows),
                "may_manage": _may_manage(request.user),
                "channels": NumberChannel.choices,
                "number_languages": _number_languages(request.user),
                "helplines": _helplines_to_name(request.user),
            }
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        fields = dict(_valid(PhoneNumberCreateInput, data, context={"request": request}))
        helpline = _helpline_of_new(request, fields)
        fields.pop("helpline", None)
        number = numbers.phone_number_create(actor=request.user, helpline=helpline, **fields)
        return _to("admin-number", number.pk)


class NumberView(_NumbersPage):
    """One number: its acknowledgement and language, suspend or reactivate it (mirrors PATCH
    /api/v1/phone-numbers/{id}/); its voice route, or the form that routes it."""

    template_name = "console/admin_number.html"
    scope = {
        "get": Fetch(numbers.phone_number_get, "number_id", param="phone_number_id"),
        "post": Fetch(numbers.phone_number_get, "number_id", param="phone_number_id"),
    }
    fields = {"post": frozenset({"acknowledgement", "language", "is_active"})}

    def get(self, request: HttpRequest, number_id: int) -> HttpResponse:
        number = self.object
        languages = _number_languages(request.user, number.helpline)
        if number.language and number.language not in dict(languages):
            languages.append((number.language, number.language))  # no longer one of the helpline's
        return self.render(
            {
                "number": number,
                "route": getattr(number, "voice_route", None),
                "is_voice": number.channel == NumberChannel.VOICE,
                "may_manage": _may_manage(request.user),
                "number_languages": languages,
                "modes": VoiceMode.choices,
            }
        )

    def post(self, request: HttpRequest, number_id: int) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        if not data:
            raise Refused(400, [_("Nothing to change was sent.")])
        fields = _valid(PhoneNumberUpdateInput, data, partial=True)
        numbers.phone_number_update(actor=request.user, phone_number=self.object, **fields)
        return _to("admin-number", number_id)


class NumberRemoveView(ConsoleView):
    """Retires a number for good, with its voice route (mirrors DELETE /api/v1/phone-numbers/{id}/);
    its messages and calls stay with their cases."""

    page = PolicyAction.PHONE_NUMBER_MANAGE
    scope = {"post": Fetch(numbers.phone_number_get, "number_id", param="phone_number_id")}
    fields = {"post": frozenset({CONFIRM})}

    def post(self, request: HttpRequest, number_id: int) -> HttpResponse:
        _confirmed(request)
        numbers.phone_number_delete(actor=request.user, phone_number=self.object)
        return _to("admin-numbers")


# --- voice routes -----------------------------------------------------------------------------------


class VoiceRoutesView(_NumbersPage):
    """How the helpline's voice numbers answer, and the form that routes a voice number without a
    route (mirrors GET/POST /api/v1/voice-routes/)."""

    template_name = "console/admin_voice_routes.html"
    scope = {
        "get": Scoped(numbers.voice_route_queryset_for),
        "post": NoObject("routes a number; the serializer finds it among the caller's helpline's"),
    }
    fields = {"post": ROUTE_FIELDS | {"number"}}

    def get(self, request: HttpRequest) -> HttpResponse:
        routes = self.scoped()[:LIST_LENGTH]
        unrouted = numbers.phone_number_queryset_for(request.user).filter(
            channel=NumberChannel.VOICE, voice_route__isnull=True
        )
        return self.render(
            {
                "routes": list(routes),
                "unrouted": list(unrouted[:LIST_LENGTH]),
                "may_manage": _may_manage(request.user),
                "modes": VoiceMode.choices,
                "helplines": _helplines_to_name(request.user),
            }
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        data = _route_input(request, self.fields["post"])
        fields = _valid(VoiceRouteCreateInput, data, context={"request": request})
        route = numbers.voice_route_create(actor=request.user, **fields)
        return _to("admin-voice-route", route.pk)


class VoiceRouteView(_NumbersPage):
    """One voice route: greeting, emergency digit, queue, and whether the on-duty numbers are rung
    (mirrors PATCH /api/v1/voice-routes/{id}/); the next call follows it."""

    template_name = "console/admin_voice_route.html"
    scope = {
        "get": Fetch(numbers.voice_route_get, "voice_route_id"),
        "post": Fetch(numbers.voice_route_get, "voice_route_id"),
    }
    fields = {"post": ROUTE_FIELDS}

    def get(self, request: HttpRequest, voice_route_id: int) -> HttpResponse:
        route = self.object
        dial_numbers = [line.strip() for line in route.dial_numbers.splitlines() if line.strip()]
        return self.render(
            {
                "route": route,
                "dial_numbers": dial_numbers,
                "dial_text": "\n".join(dial_numbers),
                "may_manage": _may_manage(request.user),
                "modes": VoiceMode.choices,
            }
        )

    def post(self, request: HttpRequest, voice_route_id: int) -> HttpResponse:
        data = _route_input(request, self.fields["post"])
        if not data:
            raise Refused(400, [_("Nothing to change was sent.")])
        fields = _valid(_VoiceRouteFieldsInput, data, partial=True)
        numbers.voice_route_update(actor=request.user, voice_route=self.object, **fields)
        return _to("admin-voice-route", voice_route_id)


class VoiceRouteRemoveView(ConsoleView):
    """Removes a voice route: the number answers with the defaults again (mirrors DELETE
    /api/v1/voice-routes/{id}/)."""

    page = PolicyAction.PHONE_NUMBER_MANAGE
    scope = {"post": Fetch(numbers.voice_route_get, "voice_route_id")}
    fields = {"post": frozenset({CONFIRM})}

    def post(self, request: HttpRequest, voice_route_id: int) -> HttpResponse:
        _confirmed(request)
        number_id = self.object.number_id
        numbers.voice_route_delete(actor=request.user, voice_route=self.object)
        return _to("admin-number", number_id)
