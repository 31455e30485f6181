"""The API documentation (/api/schema/, Swagger UI at /api/docs/) is written for the integrators who
read it: every operation sits under one of the defined tags, has a summary and a description of its
own (never a developer's docstring of its view), and the main requests and answers have examples."""

import inspect
import re

import pytest
from django.conf import settings
from django.urls import resolve
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from helpline.api.documentation import tags_for

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# The operations an integrator starts from: (request example expected, answer examples' status).
MAIN_OPERATIONS = {
    "cases_create": (True, "201"),
    "cases_list": (False, "200"),
    "cases_transition": (True, "200"),
    "cases_referrals_create": (True, "201"),
    "referrals_list": (False, "200"),
    "referrals_accept": (True, "200"),
    "referrals_reject": (True, "200"),
    "referrals_updates_create": (True, "201"),
    "referrals_complete": (True, "200"),
    "chat_sessions_create": (True, "201"),
    "chat_sessions_messages_send": (True, "201"),
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, path_operations in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in path_operations:
                yield path, method, path_operations[method]


def docstrings_of(path: str, method: str) -> set[str]:
    """The docstrings of the view serving the path (every class it inherits from) and of its method."""
    match = resolve(re.sub(r"\{(\w+)\}", "1", path))
    view = match.func.cls
    found = {inspect.getdoc(cls) for cls in view.__mro__}
    found.add(inspect.getdoc(getattr(view, method)))
    return {" ".join(doc.split()) for doc in found if doc}


def test_the_tags_are_defined_once_with_a_description(schema):
    defined = [tag["name"] for tag in schema["tags"]]
    assert defined == list(settings.API_TAGS)
    assert all(tag["description"].strip() for tag in schema["tags"])
    assert {"cases", "contacts", "messages", "referrals", "agency API", "channels", "audit"} <= set(defined)
    assert {"administration", "authentication", "notifications"} <= set(defined)


def test_every_operation_is_tagged_by_where_it_lives(schema):
    defined = set(settings.API_TAGS)
    untagged = [
        f"{method.upper()} {path}: {operation.get('tags')}"
        for path, method, operation in operations(schema)
        if not operation.get("tags") or not set(operation["tags"]) <= defined
    ]
    assert not untagged, "add the path's prefix to API_TAGS_BY_PATH (config/settings/api.py)"
    assert len(list(operations(schema))) >= 74  # the walk found the API (a broken walk must not pass)


def test_the_agency_api_is_apart_from_the_staffs_referrals(schema):
    tags = {operation["operationId"]: operation["tags"] for _, _, operation in operations(schema)}
    for agency_only in ("referrals_accept", "referrals_reject", "referrals_complete"):
        assert tags[agency_only] == ["agency API"]
    for staff_only in ("cases_referrals_create", "referrals_withdraw", "referrals_approve"):
        assert tags[staff_only] == ["referrals"]
    assert set(tags["referrals_list"]) == {"referrals", "agency API"}


def test_a_path_no_prefix_knows_is_left_untagged_for_this_test_to_name():
    assert tags_for("/api/v1/somewhere-new/") == ["untagged"]
    assert "untagged" not in settings.API_TAGS
    assert tags_for("/api/v1/cases/{case_id}/messages/") == ["messages"]  # the longest prefix wins


def test_every_operation_has_a_summary_and_a_description_of_its_own(schema):
    missing, docstrings = [], []
    for path, method, operation in operations(schema):
        name = f"{method.upper()} {path}"
        summary, description = operation.get("summary", ""), operation.get("description", "")
        if len(summary.strip()) < 10 or len(description.strip()) < 30:
            missing.append(name)
        elif " ".join(description.split()) in docstrings_of(path, method):
            docstrings.append(name)
    assert not missing, "give extend_schema(summary=..., description=...) written for an integrator"
    assert not docstrings, "a view's docstring is for developers: write the description for integrators"


def test_a_views_docstring_never_becomes_its_description(schema):
    # The base view's docstring is inherited by every view: it must appear in no description.
    from helpline.api.base import APIView

    base = " ".join(inspect.getdoc(APIView).split())[:60]
    assert base
    assert not [op["operationId"] for _, _, op in operations(schema) if base in op.get("description", "")]


@pytest.mark.parametrize("operation_id", sorted(MAIN_OPERATIONS))
def test_the_main_operations_have_examples_of_request_and_answer(schema, operation_id):
    wants_request, status = MAIN_OPERATIONS[operation_id]
    [operation] = [op for _, _, op in operations(schema) if op["operationId"] == operation_id]
    if wants_request:
        assert operation["requestBody"]["content"]["application/json"].get("examples")
    answer = operation["responses"][status]["content"]["application/json"]
    assert answer.get("examples"), f"{operation_id}: no example of its {status} answer"


@pytest.mark.parametrize("status", ["400", "403", "404", "409"])
def test_every_documented_error_has_an_example_of_the_error_shape(schema, status):
    documented = without = 0
    for _, _, operation in operations(schema):
        answer = operation["responses"].get(status, {}).get("content", {}).get("application/json")
        if answer is None:
            continue
        documented += 1
        examples = answer.get("examples", {}).values()
        if not examples or not all({"type", "errors"} <= set(example["value"]) for example in examples):
            without += 1
    assert documented and not without


def as_json_schema(node):
    """OpenAPI 3.0's schema dialect as JSON Schema: `nullable` as a null type, `$ref`s into one
    registered document."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        converted = (
            {**converted, "type": [converted["type"], "null"]}
            if "type" in converted
            else {"anyOf": [converted, {"type": "null"}]}
        )
    if "$ref" in converted:
        converted["$ref"] = "urn:schema" + converted["$ref"]
    return converted


def test_every_example_is_valid_against_its_schema(schema):
    """An example that contradicts its schema teaches an integrator the wrong thing (a list's example
    shown inside its page, a refused transition's extra fields, sign-in's own 401 codes...)."""
    document = as_json_schema(schema)
    registry = Registry().with_resource("urn:schema", Resource(contents=document, specification=DRAFT202012))
    checked, wrong = 0, []
    for path, method, operation in operations(document):
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += [(status, answer) for status, answer in operation["responses"].items()]
        for where, body in bodies:
            media = body.get("content", {}).get("application/json", {})
            for name, example in media.get("examples", {}).items():
                checked += 1
                error = next(
                    Draft202012Validator(media["schema"], registry=registry).iter_errors(example["value"]),
                    None,
                )
                if error is not None:
                    wrong.append(f"{method.upper()} {path} {where} {name}: {error.message[:200]}")
    assert checked > 300  # every error answer of every operation has one
    assert not wrong
