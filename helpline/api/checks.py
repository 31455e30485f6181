"""Start-up checks of the gate (helpline.api.base): every routed API view goes through it, every
path parameter is consumed by a declared scope, and no input serializer field holds an unscoped
queryset. Registered as Django system checks, so `manage.py check`, `runserver` and every
management command refuse to start with a view that would reach objects outside the caller's scope."""

from collections.abc import Iterator

from django.core.checks import Error, Tags, register
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers
from rest_framework.views import APIView as DRFAPIView

from .base import APIView, gate_problems
from .fields import OwnHelplinePrimaryKeyRelatedField

APPS = ("helpline.", "cases.", "referrals.", "channels_sms.")
# DRF views of libraries that are routed: they serve the API's own description, no stored object.
LIBRARY_VIEWS = ("drf_spectacular.",)


def routed_views(
    patterns=None, prefix: str = "", params: tuple[str, ...] = ()
) -> Iterator[tuple[str, object, tuple[str, ...]]]:
    """(route, callback, path parameters) of every URL of the project."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        pattern = entry.pattern
        names = tuple(getattr(pattern, "converters", {})) or tuple(pattern.regex.groupindex)
        route = prefix + str(pattern)
        if isinstance(entry, URLResolver):
            yield from routed_views(entry.url_patterns, route, params + names)
        elif isinstance(entry, URLPattern):
            yield route, entry.callback, params + names


def view_problems(route: str, callback, params: tuple[str, ...]) -> list[str]:
    """Why the view routed here does not fetch through the gate (empty if it does)."""
    cls = getattr(callback, "cls", None)
    if cls is None or not issubclass(cls, DRFAPIView):
        return []  # a plain Django view (Twilio's signed webhooks, health probes): not the API
    if cls.__module__.startswith(LIBRARY_VIEWS):
        return []
    if not issubclass(cls, APIView):
        return [f"{route}: {cls.__qualname__} is not a helpline.api.base.APIView."]
    problems = [f"{route}: {problem}" for problem in gate_problems(cls)]
    if getattr(cls, "dangerously_unscoped", ""):
        return problems
    for method, scope in cls.scope.items():
        unused = set(params) - set(scope.kwargs)
        unknown = set(scope.kwargs) - set(params)
        if unused:
            problems.append(
                f"{route}: {cls.__qualname__}.{method} consumes no declared scope for {sorted(unused)}."
            )
        if unknown:
            problems.append(
                f"{route}: {cls.__qualname__}.{method} declares {sorted(unknown)}, not in the path."
            )
    return problems


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def serializer_problems(classes: list[type] | None = None) -> list[str]:
    """Writable relations of the project's serializers (or of `classes`) that would accept any row
    of the table (e.g. `User.objects.all()`): every one must look among the caller's helpline's rows
    only."""
    problems = []
    if classes is None:
        classes = sorted(set(_subclasses(serializers.Serializer)), key=lambda s: s.__qualname__)
    for serializer in classes:
        if not serializer.__module__.startswith(APPS):
            continue
        try:
            fields = serializer().fields
        # A serializer that needs arguments to build its fields is no input serializer.
        except Exception:  # nosec B112  # skipped on purpose, see above
            continue
        for name, field in fields.items():
            relation = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
            if (
                isinstance(relation, serializers.RelatedField)
                and not field.read_only
                and not isinstance(relation, OwnHelplinePrimaryKeyRelatedField)
            ):
                problems.append(
                    f"{serializer.__module__}.{serializer.__qualname__}.{name} accepts rows outside the "
                    "caller's helpline: use helpline.api.fields.OwnHelplinePrimaryKeyRelatedField."
                )
    return problems


@register(Tags.security, Tags.urls)
def every_view_fetches_through_the_gate(app_configs=None, **kwargs) -> list[Error]:
    errors = [
        Error(problem, id="helpline.E101")
        for route, callback, params in routed_views()
        for problem in view_problems(route, callback, params)
    ]
    errors += [Error(problem, id="helpline.E102") for problem in serializer_problems()]
    return errors
