"""A typo is refused, never ignored: a body field, a query parameter or an `ordering` value that the
operation's OpenAPI schema does not declare answers 400 naming it, and nothing is done. Every
operation is taken from the schema, itself checked against the URL table
(tests/test_api_schema_describes_every_endpoint.py), so a new route cannot be left out."""

import random
import re

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from cases.models import Case
from helpline.api.base import APIView
from helpline.models import AuditEntry, AuditOutcome

from . import factories

WRITES = ("post", "put", "patch", "delete")
UNKNOWN = "zz_not_a_thing"


def operations(schema: dict):
    for path, path_operations in schema["paths"].items():
        for method, operation in path_operations.items():
            if method in ("get", *WRITES):
                yield path, method, operation


def concrete(path: str) -> str:
    """Any value for the path's ids: the refusal comes before anything is looked up."""
    return re.sub(r"\{(\w+)\}", lambda m: "987654" if m.group(1).endswith("_id") else "x1", path)


# A refusal on a case's route is itself on record (a denied entry, issue #13 leak 6): the audit log
# is checked apart, for entries that say something happened.
AUDIT_MODELS = ("helpline.AuditEntry", "helpline.AuditChainHead")


def rows() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in ("helpline", "cases", "referrals", "channels_sms")
        and not model._meta.proxy
        and model._meta.label not in AUDIT_MODELS
    }


def allowed_entries_after(last_id: int) -> list[str]:
    """Entries that record something done (not a refusal) written after `last_id`."""
    return list(
        AuditEntry.objects.filter(pk__gt=last_id)
        .exclude(outcome=AuditOutcome.DENIED)
        .values_list("action", flat=True)
    )


def last_entry_id() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def refused_naming(response, code: str, *names: str) -> bool:
    if response.status_code != 400:
        return False
    body = response.json()
    named = {(error["attr"], error["code"]) for error in body["errors"]}
    return body["type"] == "validation_error" and named == {(name, code) for name in names}


@pytest.fixture
def schema(api, operator):
    response = api(operator).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def caller(api, admin_user, settings):
    """An administrator passes every permission class (users and helplines are theirs); the sign-in
    and the anonymous chat ignore the token. From an address of its own (throttles are per address)."""
    settings.CHAT_RATES = {scope: "100000/min" for scope in settings.CHAT_RATES}
    client = api(admin_user)
    client.defaults["REMOTE_ADDR"] = f"10.{random.randrange(256)}.{random.randrange(256)}.7"
    return client


def test_every_operation_refuses_an_unknown_query_parameter(schema, caller):
    before, last = rows(), last_entry_id()
    accepted = []
    for path, method, operation in operations(schema):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        # Next to a declared parameter where there is one: only the unknown one is named.
        query = f"{UNKNOWN}=1" + ("&page_size=1" if "page_size" in declared else "")
        response = getattr(caller, method)(f"{concrete(path)}?{query}")
        if not refused_naming(response, "unknown_parameter", UNKNOWN):
            accepted.append(f"{method.upper()} {path}: {response.status_code} {response.content[:200]}")
    assert not accepted, "\n".join(accepted)
    assert rows() == before
    assert allowed_entries_after(last) == [], "a refused request recorded as done"


def test_every_write_refuses_an_unknown_body_field(schema, caller):
    """Operations with a body, and those without one (a body sent to them is refused too)."""
    before, last = rows(), last_entry_id()
    accepted = []
    writes = [(path, method) for path, method, _ in operations(schema) if method in WRITES]
    assert len(writes) > 30
    for path, method in writes:
        response = getattr(caller, method)(concrete(path), {UNKNOWN: "high"}, format="json")
        if not refused_naming(response, "unknown_field", UNKNOWN):
            accepted.append(f"{method.upper()} {path}: {response.status_code} {response.content[:200]}")
    assert not accepted, "\n".join(accepted)
    assert rows() == before
    assert allowed_entries_after(last) == [], "a refused request recorded as done"


def test_every_orderable_list_refuses_an_unknown_ordering(schema, caller):
    orderable = [
        path
        for path, method, operation in operations(schema)
        if method == "get" and any(p["name"] == "ordering" for p in operation.get("parameters", []))
    ]
    assert "/api/v1/cases/" in orderable
    for path in orderable:
        for ordering in ("risk", "-created_at,password", "created_at,", "created_at, id"):
            response = caller.get(f"{concrete(path)}?ordering={ordering}")
            assert refused_naming(response, "invalid", "ordering"), (path, ordering, response.content[:300])


def test_every_api_view_derives_from_the_base_that_refuses_undeclared_input():
    views = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and (prefix + str(entry.pattern)).startswith("api/v1/"):
                views.append(entry.callback.cls)

    walk(get_resolver().url_patterns, "")
    assert len(views) > 40
    assert [view.__name__ for view in views if not issubclass(view, APIView)] == []


# --- the examples ---------------------------------------------------------------------------


def test_a_misspelt_field_changes_nothing_and_is_not_audited_as_an_update(api, operator, walk_in):
    case = walk_in(risk_level="low")
    client = api(operator)
    for body in ({"risk": "high"}, {"risk_level": "high", "risk": "high"}):
        response = client.patch(f"/api/v1/cases/{case['id']}/", body, format="json")
        assert refused_naming(response, "unknown_field", "risk"), response.content
    assert Case.objects.get(pk=case["id"]).risk_level == "low"
    assert not AuditEntry.objects.filter(action="case.update", outcome=AuditOutcome.ALLOWED).exists()
    # The field's real name still works.
    response = client.patch(f"/api/v1/cases/{case['id']}/", {"risk_level": "high"}, format="json")
    assert response.status_code == 200
    assert Case.objects.get(pk=case["id"]).risk_level == "high"


def test_an_unknown_search_parameter_is_refused_instead_of_listing_every_case(api, operator, walk_in):
    walk_in()
    response = api(operator).get("/api/v1/cases/?search=Amina&state=intake")
    assert refused_naming(response, "unknown_parameter", "search"), response.content
    assert "search" in response.json()["errors"][0]["detail"].lower() or response.json()["errors"]


def test_unknown_fields_are_refused_at_any_depth_each_named(api, helpline):
    root = api(factories.AdminFactory(username="root", helpline=None))
    agency = factories.AgencyFactory(helpline=helpline, code="police9")
    response = root.patch(
        f"/api/v1/agencies/{agency.pk}/",
        {"response_hours": {"emergncy": 2, "urgent": 4}, "nmae": "X", "name": "Y"},
        format="json",
    )
    assert refused_naming(response, "unknown_field", "response_hours.emergncy", "nmae"), response.content
    agency.refresh_from_db()
    assert agency.name != "Y"


def test_declared_parameters_and_orderings_are_still_accepted(api, operator, walk_in):
    walk_in()
    client = api(operator)
    queries = ("ordering=-created_at", "ordering=updated_at,id", "ordering=", "state=intake&page_size=5", "")
    for query in queries:
        response = client.get(f"/api/v1/cases/?{query}")
        assert response.status_code == 200, (query, response.content[:300])
