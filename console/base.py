"""The base of every console page, and the gate through which it reaches its objects.

A console page is as thin as an API view and goes through the same gate (helpline.api.base): per
HTTP method it declares how it reaches stored objects (`scope`: Fetch, Scoped, Own, NoObject), and
the base fetches the path object through the app's selector, in the caller's scope, before the
handler runs (404 outside it, recorded in the audit log like the API's reads). A class that declares
no scope for a method it implements is refused when it is created. On top of that each page names
the policy action (`page`) that decides whether the caller has the page at all
(helpline.policy.can): a page of another role answers 404, like an object outside scope.

The base also: signs out after the idle timeout (settings.CONSOLE_IDLE_MINUTES; the live parts'
automatic refreshes do not count as activity), speaks the person's language, refuses form fields
the page does not take (400), answers refusals of the services in the console's one error shape
(a page, or for htmx an alert swapped into the page) and marks every answer `no-store`."""

from __future__ import annotations

import hashlib
import time
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.functional import LazyObject
from django.utils.translation import gettext as _
from django.views import View
from rest_framework.exceptions import APIException, NotFound

from helpline import policy
from helpline.api.base import Fetch, NoObject, Own, Scope, Scoped
from helpline.i18n import language_of
from helpline.services import second_factor_required, session_logout
from helpline.sign_in import session_active, session_idle
from helpline.vocabulary import PolicyAction

__all__ = ["POLL", "ConsoleView", "Fetch", "NoObject", "Own", "Scoped"]

HANDLER_METHODS = ("get", "post")
# The live parts of a page ask for news with `?poll=1` in their own address (never an inherited
# header: a form inside a live part is the person's activity): it is not the person's activity.
POLL = "poll"
# Sent with every form; never a field of the page's own.
ALWAYS_ACCEPTED = frozenset({"csrfmiddlewaretoken"})


class Refused(Exception):
    """A console answer other than the page: an error status with what to tell the person."""

    def __init__(self, status: int, messages: list[str], fields: Mapping[str, list[str]] | None = None):
        super().__init__(status, messages)
        self.status, self.messages, self.fields = status, messages, dict(fields or {})


def is_poll(request: HttpRequest) -> bool:
    """An automatic refresh of a live part, not the person's own action."""
    return request.method == "GET" and request.GET.get(POLL) == "1"


def record_once(request: HttpRequest, key: str, ids: list[int], record) -> None:
    """Records a list read, except when the same rows were recorded for this page of this session
    already (the queue refreshes itself every few seconds: the same rows shown again are not a new
    read; any change of rows is)."""
    digest = hashlib.blake2b(repr(ids).encode(), digest_size=8).hexdigest()
    if request.session.get(key) != digest:
        record()
        request.session[key] = digest


def _flatten(detail: Any) -> tuple[list[str], dict[str, list[str]]]:
    """A DRF error detail as (general messages, messages per field)."""
    if isinstance(detail, Mapping):
        general: list[str] = []
        fields: dict[str, list[str]] = {}
        for name, value in detail.items():
            messages, _inner = _flatten(value)
            if name in ("non_field_errors", "detail"):
                general += messages
            else:
                fields[name] = messages
        return general, fields
    if isinstance(detail, (list, tuple)):
        out: list[str] = []
        for item in detail:
            out += _flatten(item)[0] or [str(item)]
        return out, {}
    return [str(detail)], {}


def refused_from(exc: APIException) -> Refused:
    general, fields = _flatten(exc.detail)
    if isinstance(exc, NotFound):
        general = [_("Not found.")]
    if fields and not general:
        general = [_("Some of what you entered needs correcting.")]
    return Refused(exc.status_code, general, fields)


class ConsoleView(View):
    """The base of every console page. Subclasses set `template_name`, `page` (the PolicyAction
    deciding who has the page; None only for pages every signed-in person has; `post_page` when
    fewer people may POST to it), `scope` per method and `fields` per method (the form fields a
    POST takes)."""

    template_name = ""
    page: PolicyAction | None = None
    # The object the page's rule is decided on, when the rule needs one: a row of the caller's own
    # helpline (e.g. `staticmethod(lambda user: CannedReply(helpline_id=user.helpline_id))`).
    page_probe: Callable[[Any], Any] | None = None
    # Who may POST to the page, when fewer people change what it shows than read it (e.g. numbers:
    # supervisors read them, administrators change them); None: `page` decides POSTs too.
    post_page: PolicyAction | None = None
    public = False  # the sign-in page: no one is signed in yet
    scope: Mapping[str, Scope] = {}
    fields: Mapping[str, frozenset[str]] = {}
    object: Any = None
    http_method_names = ["get", "post"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method in HANDLER_METHODS:
            if callable(getattr(cls, method, None)) and not isinstance(cls.scope.get(method), Scope):
                raise ImproperlyConfigured(
                    f"{cls.__qualname__} implements {method} but declares no scope for it."
                )
        if "post" in cls.scope and "post" not in cls.fields:
            raise ImproperlyConfigured(f"{cls.__qualname__} takes POSTs but declares no `fields` for them.")

    # --- the gate ---------------------------------------------------------------------------------

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = self._answer(request, *args, **kwargs)
        finally:
            timezone.deactivate()
        # Case data never stays in a browser's or a proxy's cache.
        add_never_cache_headers(response)
        response.headers["Cache-Control"] = "no-store, private"
        return response

    def _answer(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The person themselves, not the lazy stand-ins of Django and django-otp (one inside the
        # other): services record them in the audit log.
        user = request.user
        while isinstance(user, LazyObject) and user.is_authenticated:
            user = user._wrapped
        request.user = user
        try:
            early = None if self.public else self._signed_in(request)
            if early is not None:
                return early
            self._accepts(request)
            scope = self.scope.get(request.method.lower() if request.method != "HEAD" else "get")
            if isinstance(scope, Fetch):
                self.object = scope.resolve(request, kwargs)
            return super().dispatch(request, *args, **kwargs)
        except (Http404, NotFound):
            return self.refusal(request, Refused(404, [_("Not found.")]))
        except APIException as exc:
            return self.refusal(request, refused_from(exc))
        except Refused as refused:
            return self.refusal(request, refused)
        except DjangoValidationError as exc:
            fields = exc.message_dict if hasattr(exc, "error_dict") else {}
            return self.refusal(request, Refused(400, exc.messages, fields))

    def _signed_in(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return self.to_sign_in(request)
        if second_factor_required(user) and not user.is_verified():
            # A session without the second factor (the admin site's half sign-in) is not enough.
            return self.to_sign_in(request)
        now = time.time()
        # A session that never saw our sign-in (an admin site's half sign-in) counts as idle.
        if session_idle(request, now=now):
            session_logout(request=request, idle=True)
            return self.to_sign_in(request, idle=True)
        if not is_poll(request):
            session_active(request, now=now)
        # The person's own language (their choice, else their helpline's) for every word.
        translation.activate(language_of(user))
        request.LANGUAGE_CODE = translation.get_language()
        # Times as the helpline's people read them (storage stays UTC).
        if user.helpline_id is not None:
            timezone.activate(zoneinfo.ZoneInfo(user.helpline.timezone))
        probe = type(self).page_probe
        page = self.post_page if request.method == "POST" and self.post_page is not None else self.page
        if page is not None and not policy.can(user, page, probe(user) if probe else None):
            raise Http404
        return None

    def to_sign_in(self, request: HttpRequest, *, idle: bool = False) -> HttpResponse:
        url = reverse("console:sign-in") + ("?idle=1" if idle else "")
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response.headers["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)

    def _accepts(self, request: HttpRequest) -> None:
        if request.method != "POST":
            unknown = sorted(set(request.GET) - set(self.query_fields) - {POLL})
        else:
            unknown = sorted(set(request.POST) - ALWAYS_ACCEPTED - set(self.fields.get("post", ())))
        if unknown:
            raise Refused(
                400,
                [_("This page does not take these fields: %(fields)s.") % {"fields": ", ".join(unknown)}],
            )

    query_fields: frozenset[str] = frozenset()

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = self.refusal(request, Refused(405, [_("This address does not take this method.")]))
        response.headers["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        return response

    def scoped(self, **more: Any) -> Any:
        """The read the method's `Scoped` scope declares, for the caller."""
        scope = self.scope.get(self.request.method.lower())
        if not isinstance(scope, Scoped):
            raise ImproperlyConfigured(f"{type(self).__qualname__} declares no Scoped read for this method.")
        path = {scope.param: self.kwargs[scope.kwarg]} if scope.kwarg else {}
        return scope.selector(user=self.request.user, **path, **more)

    # --- answers ------------------------------------------------------------------------------------

    def render(self, context: Mapping[str, Any] | None = None, *, template: str = "", status: int = 200):
        return render(self.request, template or self.template_name, dict(context or {}), status=status)

    def refusal(self, request: HttpRequest, refused: Refused) -> HttpResponse:
        """The console's one error shape: the status, a title and the messages (per field too)."""
        context = {"status": refused.status, "messages_": refused.messages, "field_errors": refused.fields}
        if getattr(request, "htmx", False):
            response = render(request, "console/_alert.html", context, status=refused.status)
            response.headers["HX-Retarget"] = "#alert"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        return render(request, "console/error.html", context, status=refused.status)
