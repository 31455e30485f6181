"""The base of every API view, and the gate through which every view reaches its objects.

Each concrete view declares, per HTTP method, how it reaches stored objects (`scope`), as data the
base enforces; a view that declares none for a method it implements, or that overrides
`get_queryset`, `get_object` or `get_permissions`, is refused when its class is created (the
import of its module, at start-up), and a system check (helpline.api.checks) walks the URL table.
The kinds of scope:

- `Fetch(selector, "case_id", action=..., for_write=...)`: the path object, fetched by the selector
  in the caller's scope for the action before the handler runs (404 outside it), as `self.object`.
- `Scoped(selector, kwarg=...)`: a list (or another read) the handler makes through `self.scoped()`,
  which calls the declared selector with the caller (and the path parameter, if any).
- `Own("why", kwarg=...)`: the handler touches only the caller's own rows (its tokens, its helpline's
  chain), confined by the service it calls; says why.
- `NoObject("why")`: the handler fetches no stored object by the caller (signing in, a chat with its
  own secret); says why.

The one way around the gate is `dangerously_unscoped = "why"`, which nothing uses. Twilio's
webhooks are plain Django views, not API views: they authenticate by Twilio's signature and fetch
the receiving number by the address Twilio posted to (channels_sms.api.views)."""

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from ..i18n import use_the_callers_language
from .contract import refuse_undeclared_query

HANDLER_METHODS = ("get", "post", "put", "patch", "delete")
# Overriding these would be a way around the gate (an unscoped queryset, an object fetched
# elsewhere, permissions that skip the declared ones).
GUARDED = ("get_queryset", "get_object", "get_permissions")


def _the_caller(request: Request) -> dict[str, Any]:
    return {"user": request.user}


class Scope:
    """How a view's handler for one method reaches stored objects."""

    kwarg: str | None = None  # the path parameter it consumes

    @property
    def kwargs(self) -> tuple[str, ...]:
        return (self.kwarg,) if self.kwarg else ()


class Fetch(Scope):
    """The path object, fetched by `selector(user=<the caller>, <param>=<path value>, **options)`
    (e.g. `action="case.update", for_write=True`) before the handler runs: outside the caller's
    scope the selector answers 404. `caller` gives the selector the caller's identity (a chat's
    secret instead of a user)."""

    def __init__(
        self,
        selector: Callable[..., Any],
        kwarg: str,
        *,
        param: str | None = None,
        caller: Callable[[Request], Mapping[str, Any]] = _the_caller,
        **options: Any,
    ):
        self.selector, self.kwarg, self.param = selector, kwarg, param or kwarg
        self.caller, self.options = caller, options

    def resolve(self, request: Request, kwargs: Mapping[str, Any]) -> Any:
        return self.selector(**self.caller(request), **{self.param: kwargs[self.kwarg]}, **self.options)


class Scoped(Scope):
    """A read the handler makes through `self.scoped(**more)`: `selector(user=<the caller>,
    [<param>=<path value>], **more)`; the selector scopes it to the caller."""

    def __init__(self, selector: Callable[..., Any], *, kwarg: str | None = None, param: str | None = None):
        self.selector, self.kwarg, self.param = selector, kwarg, param or kwarg


class Own(Scope):
    """The handler touches only the caller's own rows, confined by the service or query it calls."""

    def __init__(self, why: str, *, kwarg: str | None = None):
        if not why.strip():
            raise ImproperlyConfigured("Own(...) says why the handler reaches only the caller's own rows.")
        self.why, self.kwarg = why, kwarg


class NoObject(Scope):
    """The handler fetches no stored object in the caller's name."""

    def __init__(self, why: str):
        if not why.strip():
            raise ImproperlyConfigured("NoObject(...) says why the handler fetches no stored object.")
        self.why = why


def is_concrete(cls: type) -> bool:
    return any(callable(getattr(cls, method, None)) for method in HANDLER_METHODS)


def gate_problems(cls: type) -> list[str]:
    """Why a view class does not go through the gate (empty if it does)."""
    if getattr(cls, "dangerously_unscoped", ""):
        return []
    problems = [
        f"{cls.__qualname__} overrides {name}: declare `scope` instead (helpline.api.base)."
        for name in GUARDED
        if getattr(cls, name) is not getattr(GenericAPIView, name)
    ]
    if not is_concrete(cls):
        return problems
    scope = getattr(cls, "scope", None)
    if not isinstance(scope, Mapping):
        return [*problems, f"{cls.__qualname__} declares no `scope` (a dict of method -> Scope)."]
    for method in HANDLER_METHODS:
        if callable(getattr(cls, method, None)) and not isinstance(scope.get(method), Scope):
            problems.append(f"{cls.__qualname__} implements {method} but declares no scope for it.")
    for method in scope:
        if not callable(getattr(cls, method, None)):
            problems.append(f"{cls.__qualname__} declares a scope for {method}, which it does not implement.")
    return problems


class APIView(GenericAPIView):
    """The base of every view of the API: after authentication, permissions and throttles, it
    refuses (400) any query parameter, ordering value or body field the operation's schema does not
    declare (helpline.api.contract), before the view looks anything up or writes anything. A typo
    (`{"risk": "high"}` for `risk_level`, `?search=`) is then never an answer that ignored it. Then
    it fetches the path object through the method's declared scope (`self.object`, 404 outside the
    caller's scope), before the handler reads the body."""

    scope: Mapping[str, Scope] = {}
    object: Any = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        problems = gate_problems(cls)
        if problems:
            raise ImproperlyConfigured(" ".join(problems))

    def method_scope(self, request: Request) -> Scope | None:
        method = request.method.lower()
        if method == "head" and "head" not in self.scope:
            method = "get"  # DRF answers HEAD with the GET handler
        return self.scope.get(method)

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        # The caller known: their language (or their helpline's), unless the request asked for one of ours.
        use_the_callers_language(request._request, request.user)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        refuse_undeclared_query(self, request)
        if request.stream is not None and hasattr(self, request.method.lower()):
            # Parsed now, not when the view reads it: the JSON parser names the body's unknown
            # fields (also of an operation that takes no body, which would never read it). A method
            # the view does not have answers 405 whatever the body.
            request.data  # noqa: B018
        scope = self.method_scope(request)
        if isinstance(scope, Fetch):
            self.object = scope.resolve(request, kwargs)

    def scoped(self, **more: Any) -> Any:
        """The read the method's `Scoped` scope declares, for the caller."""
        scope = self.method_scope(self.request)
        if not isinstance(scope, Scoped):
            raise ImproperlyConfigured(f"{type(self).__qualname__} declares no Scoped read for this method.")
        path = {scope.param: self.kwargs[scope.kwarg]} if scope.kwarg else {}
        return scope.selector(user=self.request.user, **path, **more)
