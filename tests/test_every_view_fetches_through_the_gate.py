"""Every API view reaches its objects through one gate (helpline.api.base, issue #13): it declares,
per method, the selector that fetches its path object in the caller's scope (or that it fetches
none, and why). A view that does not is refused when its class is created, i.e. at start-up, and
a system check walks the URL table. Throwaway views show each bad shape refused."""

import gc

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response

from cases import selectors
from cases.models import Case
from helpline.api.base import APIView, Fetch, NoObject, Own, Scoped
from helpline.api.checks import routed_views, serializer_problems, view_problems
from helpline.models import User

from . import factories


def _handler(self, request, **kwargs):
    return Response({})


def test_a_view_that_declares_no_scope_is_refused_at_class_creation():
    with pytest.raises(ImproperlyConfigured, match="implements get but declares no scope"):

        class Leaky(APIView):
            get = _handler

    with pytest.raises(ImproperlyConfigured, match="declares no `scope`"):

        class NotADict(APIView):
            scope = Fetch(selectors.case_get, "case_id")
            get = _handler


def test_a_view_without_a_scope_for_a_method_it_implements_is_refused():
    with pytest.raises(ImproperlyConfigured, match="implements patch but declares no scope"):

        class HalfDeclared(APIView):
            scope = {"get": Fetch(selectors.case_get, "case_id")}
            get = patch = _handler


def test_a_scope_for_a_method_the_view_lacks_is_refused():
    with pytest.raises(ImproperlyConfigured, match="does not implement"):

        class Stale(APIView):
            scope = {"get": Scoped(selectors.case_list), "delete": NoObject("nothing")}
            get = _handler


@pytest.mark.parametrize("name", ["get_queryset", "get_object", "get_permissions"])
def test_a_view_that_overrides_a_guarded_method_is_refused(name):
    with pytest.raises(ImproperlyConfigured, match=f"overrides {name}"):
        type(
            "Overriding",
            (APIView,),
            {
                "__module__": __name__,
                "scope": {"get": Scoped(selectors.case_list)},
                "get": _handler,
                name: lambda self: Case.objects.all(),
            },
        )


def test_an_intermediate_base_that_overrides_a_guarded_method_is_refused_too():
    with pytest.raises(ImproperlyConfigured, match="overrides get_queryset"):

        class Base(APIView):
            def get_queryset(self):
                return Case.objects.all()


def test_a_scope_must_say_why_when_it_fetches_nothing():
    with pytest.raises(ImproperlyConfigured):
        NoObject(" ")
    with pytest.raises(ImproperlyConfigured):
        Own("")


def test_the_escape_hatch_is_named_and_unused():
    class Hatch(APIView):
        dangerously_unscoped = "a test of the hatch itself"
        get = _handler

        def get_queryset(self):
            return Case.objects.all()

    for route, callback, _params in routed_views():
        cls = getattr(callback, "cls", None)
        assert not getattr(cls, "dangerously_unscoped", ""), route


class _CaseView(APIView):
    scope = {"get": Fetch(selectors.case_get, "case_id")}
    get = _handler


class _ListView(APIView):
    scope = {"get": Scoped(selectors.case_list)}
    get = _handler


def _route(view, route: str):
    pattern = path(route, view.as_view())
    return next(iter(routed_views([pattern])))


def test_a_path_parameter_no_scope_consumes_is_refused_at_start_up():
    assert view_problems(*_route(_CaseView, "cases/<int:case_id>/")) == []
    problems = view_problems(*_route(_ListView, "cases/<int:case_id>/"))
    assert problems and "consumes no declared scope for ['case_id']" in problems[0]
    problems = view_problems(*_route(_CaseView, "cases/<int:id>/"))
    assert any("not in the path" in p for p in problems)


def test_a_routed_drf_view_that_is_not_the_gates_is_refused():
    from rest_framework.views import APIView as DRFAPIView

    class Plain(DRFAPIView):
        get = _handler

    problems = view_problems(*_route(Plain, "plain/"))
    assert problems and "is not a helpline.api.base.APIView" in problems[0]


def test_an_input_serializer_with_an_unscoped_queryset_is_refused():
    class Unscoped(serializers.Serializer):
        user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())

    Unscoped.__module__ = "helpline.api.serializers"  # as if it were one of the project's
    try:
        assert any("Unscoped.user" in problem for problem in serializer_problems([Unscoped]))
    finally:
        # Gone before the next test's start-up check walks every serializer class: a class lives
        # in its base's subclass list until collected, and collection is not at once.
        del Unscoped
        gc.collect()


def test_every_routed_view_fetches_through_the_gate():
    """The real URL table: every API view is the gate's, every path parameter is consumed by a
    declared scope, no input serializer holds an unscoped queryset (the system check, as at start-up)."""
    errors = [e for e in run_checks() if e.id in ("helpline.E101", "helpline.E102")]
    assert errors == []
    api_views = [cb.cls for _r, cb, _p in routed_views() if issubclass(getattr(cb, "cls", object), APIView)]
    assert len(api_views) > 40  # the walk reaches the API


@pytest.mark.django_db
def test_a_fetched_object_outside_scope_answers_404_before_the_handler(api, operator):
    """The gate, not the handler, fetches: a case of another helpline is 404 for GET and PATCH."""
    other = factories.CaseFactory()
    client = api(operator)
    assert client.get(f"/api/v1/cases/{other.pk}/").status_code == 404
    assert client.patch(f"/api/v1/cases/{other.pk}/", {}, format="json").status_code == 404
