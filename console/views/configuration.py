"""The administrators' pages that configure the helpline: its canned replies (supervisors too),
partner agencies (with their webhook changes waiting for a supervisor), languages and web chat
(opening hours, texts). The helpline's people and teams are in administration.py.

As the rest of the console, each page is as thin as the API view it mirrors (referrals.api.views,
channels_sms.api.canned_reply_views, helpline.api.administration): forms are validated by the API's
own input serializers and written by the apps' services, which check the policy again and write the
audit entries; the pages only turn form fields into the serializers' input. Every object is fetched
through its app's selector in the caller's scope (404 outside it)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.dates import WEEKDAYS as WEEKDAY_NAMES
from django.utils.translation import gettext as _

from channels_sms import canned_replies
from channels_sms import selectors as channel_selectors
from channels_sms.api.serializers import CannedReplyCreateInput, CannedReplyUpdateInput
from channels_sms.models import CannedReply
from helpline import selectors as helpline_selectors
from helpline import services as helpline_services
from helpline.api.serializers import HelplineUpdateInput
from helpline.chat_settings import MAX_PERIODS, WEEKDAYS
from helpline.i18n import language_codes
from helpline.vocabulary import PolicyAction
from referrals import selectors as referral_selectors
from referrals import services as referral_services
from referrals.api.serializers import AgencyCreateInput, AgencyUpdateInput
from referrals.models import AgencySector, WebhookChange, WebhookChangeState

from ..base import ConsoleView, Fetch, NoObject, Refused, Scoped
from .administration import LIST_LENGTH, _helpline_of_new, _helplines_to_name, _posted, _to
from .workspace import _valid

URGENCIES = ("emergency", "urgent", "routine")


def _lines(text: str) -> list[str]:
    """A text box of one item a line, as a list (blank lines dropped)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- canned replies ---------------------------------------------------------------------------------


class _CannedReplyPage(ConsoleView):
    """Supervisors and administrators manage canned replies ("canned_reply.manage"). The
    supervisors' rule names the object's helpline (is_helpline_member), so the page is decided on a
    reply of the caller's own helpline, as the service decides every write."""

    page = PolicyAction.CANNED_REPLY_MANAGE
    page_probe = staticmethod(lambda user: CannedReply(helpline_id=user.helpline_id))


def _reply_languages(user: Any) -> list[str]:
    """The languages a reply may be written in: the helpline's (every one of ours for a platform
    administrator)."""
    if user.helpline_id is None:
        return language_codes()
    helpline = user.helpline
    return list(dict.fromkeys([helpline.default_language, *helpline.languages]))


class CannedRepliesView(_CannedReplyPage):
    """The helpline's canned replies, retired ones included, and the form that writes one (mirrors
    GET/POST /api/v1/canned-replies/)."""

    template_name = "console/admin_canned_replies.html"
    scope = {
        "get": Scoped(channel_selectors.canned_reply_list),
        "post": NoObject("writes a canned reply for the caller's helpline (or the one named)"),
    }
    fields = {"post": frozenset({"language", "title", "body", "helpline"})}

    def get(self, request: HttpRequest) -> HttpResponse:
        replies = self.scoped(retired=None).order_by("-is_active", "language", "title", "id")[:LIST_LENGTH]
        return self.render(
            {
                "replies": list(replies),
                "reply_languages": _reply_languages(request.user),
                "helplines": _helplines_to_name(request.user),
            }
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        fields = dict(_valid(CannedReplyCreateInput, data, context={"request": request}))
        helpline = _helpline_of_new(request, fields)
        fields.pop("helpline", None)
        reply = canned_replies.canned_reply_create(actor=request.user, helpline=helpline, **fields)
        return _to("admin-canned-reply", reply.pk)


class CannedReplyView(_CannedReplyPage):
    """One canned reply: change its language, title or text, retire or restore it (mirrors
    PATCH /api/v1/canned-replies/{id}/; messages already sent keep their text)."""

    template_name = "console/admin_canned_reply.html"
    scope = {
        "get": Fetch(channel_selectors.canned_reply_get, "reply_id"),
        "post": Fetch(channel_selectors.canned_reply_get, "reply_id"),
    }
    fields = {"post": frozenset({"language", "title", "body", "is_active"})}

    def get(self, request: HttpRequest, reply_id: int) -> HttpResponse:
        languages = _reply_languages(request.user)
        if self.object.language not in languages:
            languages.append(self.object.language)
        return self.render({"reply": self.object, "reply_languages": languages})

    def post(self, request: HttpRequest, reply_id: int) -> HttpResponse:
        data = _posted(request, self.fields["post"])
        if not data:
            raise Refused(400, [_("Nothing to change was sent.")])
        fields = _valid(CannedReplyUpdateInput, data, partial=True)
        canned_replies.canned_reply_update(actor=request.user, reply=self.object, **fields)
        return _to("admin-canned-reply", reply_id)


# --- agencies ---------------------------------------------------------------------------------------

AGENCY_FORM_FIELDS = frozenset(
    {
        "name",
        "sector",
        "country",
        "areas_served",
        "service_types",
        "notify_email",
        "notify_sms",
        *(f"response_{urgency}" for urgency in URGENCIES),
    }
)
WEBHOOK_FORM_FIELDS = frozenset({"webhook_url", "webhook_secret"})
WAITING_STATES = (WebhookChangeState.PENDING, WebhookChangeState.APPROVED)


def _agency_input(request: HttpRequest, names: frozenset[str]) -> dict[str, Any]:
    """The agency forms' fields as the agency serializers take them: lists one item a line, the
    hours to answer per urgency as one object; a blank secret or country is left out (the current
    secret stays; a new agency takes its helpline's country)."""
    data: dict[str, Any] = {}
    hours: dict[str, str] = {}
    for name, value in _posted(request, names).items():
        if name in ("areas_served", "service_types"):
            data[name] = _lines(value)
        elif name.startswith("response_"):
            if value.strip():
                hours[name.removeprefix("response_")] = value.strip()
        elif name in ("webhook_secret", "country") and value.strip() == "":
            continue
        else:
            data[name] = value
    if hours:
        data["response_hours"] = hours
    return data


def _waiting(agency: Any) -> WebhookChange | None:
    return next((c for c in agency.webhook_changes.all() if c.state in WAITING_STATES), None)


class AgenciesView(ConsoleView):
    """The helpline's partner agencies (inactive ones included) with their webhook changes waiting
    for a supervisor's approval, and the form that registers one (mirrors GET/POST
    /api/v1/agencies/)."""

    template_name = "console/admin_agencies.html"
    page = PolicyAction.AGENCY_MANAGE
    scope = {
        "get": Scoped(referral_selectors.agency_queryset_for),
        "post": NoObject("registers an agency, in the administrator's own helpline (or the one named)"),
    }
    fields = {"post": AGENCY_FORM_FIELDS | WEBHOOK_FORM_FIELDS | {"code", "helpline"}}

    def get(self, request: HttpRequest) -> HttpResponse:
        agencies = self.scoped().order_by("-is_active", "code", "id")[:LIST_LENGTH]
        return self.render(
            {
                # Each with the change of its webhook waiting for approval or verification, if any
                # (from the changes the selector brought with it, newest first).
                "agencies": [(agency, _waiting(agency)) for agency in agencies],
                "sectors": AgencySector.choices,
                "urgencies": URGENCIES,
                "helplines": _helplines_to_name(request.user),
            }
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        data = _agency_input(request, self.fields["post"])
        fields = dict(_valid(AgencyCreateInput, data, context={"request": request}))
        helpline = _helpline_of_new(request, fields)
        fields.pop("helpline", None)
        agency = referral_services.agency_create(actor=request.user, helpline=helpline, **fields)
        return _to("admin-agency", agency.pk)


class AgencyView(ConsoleView):
    """One agency: change its details, propose a new webhook endpoint (in use once a supervisor
    approved it and it answered the challenge) or remove it, deactivate or reactivate it (mirrors
    PATCH /api/v1/agencies/{id}/)."""

    template_name = "console/admin_agency.html"
    page = PolicyAction.AGENCY_MANAGE
    scope = {
        "get": Fetch(referral_selectors.agency_get, "agency_id"),
        "post": Fetch(referral_selectors.agency_get, "agency_id"),
    }
    fields = {"post": AGENCY_FORM_FIELDS | WEBHOOK_FORM_FIELDS | {"is_active"}}

    def get(self, request: HttpRequest, agency_id: int) -> HttpResponse:
        agency = self.object
        return self.render(
            {
                "agency": agency,
                "changes": list(agency.webhook_changes.all()),
                "sectors": AgencySector.choices,
                "hours": [(urgency, agency.response_hours_for(urgency)) for urgency in URGENCIES],
                "areas_text": "\n".join(agency.areas_served),
                "service_types_text": "\n".join(agency.service_types),
            }
        )

    def post(self, request: HttpRequest, agency_id: int) -> HttpResponse:
        data = _agency_input(request, self.fields["post"])
        if not data:
            raise Refused(400, [_("Nothing to change was sent.")])
        fields = _valid(AgencyUpdateInput, data, partial=True, instance=self.object)
        referral_services.agency_update(actor=request.user, agency=self.object, **fields)
        return _to("admin-agency", agency_id)


# --- the helpline's settings: languages, web chat ----------------------------------------------------


class HelplinesView(ConsoleView):
    """The settings of the helplines the administrator administers (their own; every one for a
    platform administrator): the default language and the others a child may be answered in, and
    where their web chat's opening hours and texts are set."""

    template_name = "console/admin_helplines.html"
    page = PolicyAction.HELPLINE_MANAGE
    scope = {"get": Scoped(helpline_selectors.helpline_queryset_for)}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({"helplines": list(self.scoped()[:LIST_LENGTH])})


class HelplineLanguagesView(ConsoleView):
    """Sets a helpline's default and other languages (mirrors PATCH /api/v1/helplines/{id}/)."""

    page = PolicyAction.HELPLINE_MANAGE
    scope = {"post": Fetch(helpline_selectors.helpline_get, "helpline_id")}
    fields = {"post": frozenset({"default_language", "languages"})}

    def post(self, request: HttpRequest, helpline_id: int) -> HttpResponse:
        # The form always sends the whole choice: no box ticked is no other language.
        data = {
            "default_language": request.POST.get("default_language", ""),
            "languages": request.POST.getlist("languages"),
        }
        fields = _valid(HelplineUpdateInput, data, partial=True, context={"request": request})
        helpline_services.helpline_update(actor=request.user, helpline=self.object, **fields)
        return _to("admin-helplines")


# Rows of the opening hours' form: every period the helpline has, and a few empty ones to add.
EMPTY_PERIOD_ROWS = 3
PERIOD_FIELDS = frozenset(
    f"{name}_{index}" for name in ("weekday", "opens", "closes") for index in range(MAX_PERIODS)
)
TEXT_FIELDS = frozenset(
    f"{kind}_{code}" for kind in ("greeting", "out_of_hours") for code in language_codes()
)


def _texts(request: HttpRequest, kind: str, current: dict[str, str]) -> dict[str, str]:
    """The texts per language the form sent (an empty box: none in that language), with those in
    languages the form does not show kept as they are."""
    texts = {code: text for code, text in current.items() if code not in language_codes()}
    for code in language_codes():
        text = request.POST.get(f"{kind}_{code}", "").replace("\r\n", "\n")
        if text.strip():
            texts[code] = text
    return texts


class HelplineChatView(ConsoleView):
    """A helpline's web chat: its time zone, weekly opening hours (or always open) and the texts a
    child is shown when a chat opens, per language (mirrors PATCH /api/v1/helplines/{id}/)."""

    template_name = "console/admin_helpline_chat.html"
    page = PolicyAction.HELPLINE_MANAGE
    scope = {
        "get": Fetch(helpline_selectors.helpline_get, "helpline_id"),
        "post": Fetch(helpline_selectors.helpline_get, "helpline_id"),
    }
    fields = {"post": frozenset({"timezone", "hours"}) | PERIOD_FIELDS | TEXT_FIELDS}

    def get(self, request: HttpRequest, helpline_id: int) -> HttpResponse:
        helpline = self.object
        periods = list(helpline.opening_hours or [])
        rows = periods + [{"weekday": "", "opens": "", "closes": ""}] * EMPTY_PERIOD_ROWS
        return self.render(
            {
                "helpline": helpline,
                "always_open": helpline.opening_hours is None,
                "periods": rows[:MAX_PERIODS],
                "weekdays": list(zip(WEEKDAYS, WEEKDAY_NAMES.values(), strict=True)),
                "texts": [
                    (
                        code,
                        name,
                        helpline.chat_greeting.get(code, ""),
                        helpline.out_of_hours_message.get(code, ""),
                    )
                    for code, name in settings.LANGUAGES
                ],
            }
        )

    def post(self, request: HttpRequest, helpline_id: int) -> HttpResponse:
        helpline = self.object
        periods = []
        for index in range(MAX_PERIODS):
            opens = request.POST.get(f"opens_{index}", "").strip()
            closes = request.POST.get(f"closes_{index}", "").strip()
            if opens or closes:  # a row with no times is an unused one
                weekday = request.POST.get(f"weekday_{index}", "")
                periods.append({"weekday": weekday, "opens": opens, "closes": closes})
        data = {
            "timezone": request.POST.get("timezone", "").strip(),
            # Always open, or the periods given (none: refused, it would mean never open).
            "opening_hours": None if request.POST.get("hours") == "always" else periods,
            "chat_greeting": _texts(request, "greeting", helpline.chat_greeting),
            "out_of_hours_message": _texts(request, "out_of_hours", helpline.out_of_hours_message),
        }
        fields = _valid(HelplineUpdateInput, data, partial=True, context={"request": request})
        helpline_services.helpline_update(actor=request.user, helpline=helpline, **fields)
        return _to("admin-helpline-chat", helpline_id)
