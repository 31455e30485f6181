"""The OpenAPI schema describes the API that is really served: every /api/v1/ route and method, the
authentication each needs, and the one error shape for every error status the API really answers."""

import json
import random
import re
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls import resolve as resolve_url
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from cases.models import Contact, Escalation
from cases.services import escalate_overdue_cases

from . import factories

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def to_openapi(route: str) -> str:
    """A Django route as an OpenAPI path: api/v1/cases/<int:case_id>/ -> /api/v1/cases/{case_id}/."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def registered_api_v1_operations() -> dict[str, set[str]]:
    """{OpenAPI path: methods its view implements} for every route Django resolves under /api/v1/."""
    found: dict[str, set[str]] = {}

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
                view = entry.callback.cls
                found.setdefault(to_openapi(route), set()).update(m for m in HTTP_METHODS if hasattr(view, m))

    walk(get_resolver().url_patterns, "")
    return found


def fetch_schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def has_properties(schema: dict, node: dict, names: set[str]) -> bool:
    """The node (through $ref, and every variant of a oneOf/anyOf) is an object with these properties."""
    node = resolve(schema, node)
    variants = node.get("oneOf") or node.get("anyOf")
    if variants:
        return all(has_properties(schema, variant, names) for variant in variants)
    return names <= set(node.get("properties", {}))


def has_error_shape(schema: dict, node: dict) -> bool:
    """The node is `{type, errors: [{code, detail, attr}]}` (with `type` and `errors` required)."""
    node = resolve(schema, node)
    variants = node.get("oneOf") or node.get("anyOf")
    if variants:
        return all(has_error_shape(schema, variant) for variant in variants)
    if not {"type", "errors"} <= set(node.get("properties", {})) & set(node.get("required", [])):
        return False
    errors = resolve(schema, node["properties"]["errors"])
    return errors.get("type") == "array" and has_properties(
        schema, errors["items"], {"code", "detail", "attr"}
    )


def documented_error(schema: dict, path: str, method: str, status: int) -> dict | None:
    response = schema["paths"].get(path, {}).get(method, {}).get("responses", {}).get(str(status))
    if response is None:
        return None
    return response.get("content", {}).get("application/json", {}).get("schema", {})


@pytest.fixture
def schema(api, operator):
    return fetch_schema(api(operator))


# --- serving the schema and the docs ------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed in", "anonymous"])
def test_schema_is_served_as_openapi_3_to_anyone(api, operator, signed_in):
    # The schema view keeps drf-spectacular's SERVE_PERMISSIONS default (AllowAny): it is public.
    schema = fetch_schema(api(operator if signed_in else None))
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] and schema["info"]["version"]


def test_schema_is_served_as_yaml_by_default(api, operator):
    response = api(operator).get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed in", "anonymous"])
def test_docs_page_is_swagger_ui_pointing_at_the_schema(api, operator, signed_in):
    response = api(operator if signed_in else None).get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "swagger-ui" in page.lower()
    assert "/api/schema/" in page


# --- every route and method -----------------------------------------------------------------------


def test_schema_lists_exactly_the_routes_registered_under_api_v1(schema):
    registered = registered_api_v1_operations()
    assert len(registered) == 86  # the walk itself found the API (a broken walk must not pass)
    assert set(schema["paths"]) == set(registered)


def test_schema_lists_exactly_the_methods_each_route_answers(schema):
    registered = registered_api_v1_operations()
    documented = {path: set(operations) - {"parameters"} for path, operations in schema["paths"].items()}
    assert documented == registered


def test_every_operation_has_a_unique_operation_id(schema):
    ids = [
        op["operationId"] for ops in schema["paths"].values() for op in ops.values() if "operationId" in op
    ]
    assert len(ids) == sum(len(set(ops) - {"parameters"}) for ops in schema["paths"].values())
    assert len(ids) == len(set(ids))


def test_every_operation_but_sign_in_requires_a_token_and_documents_401(schema):
    """Sign-in (and enrolling one's authenticator, which signs in) needs no token; its 401 is about
    the credentials and second factor it was given. Setting one's password with a set-password link
    needs no token either: the link is the credential, refused with a 400 on `token`."""
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path == "/api/v1/auth/password/":
                assert not operation.get("security"), (method, path)
                assert has_error_shape(schema, documented_error(schema, path, method, 400))
                assert "401" not in operation["responses"], (method, path)
            elif path in ("/api/v1/auth/token/", "/api/v1/auth/totp/", "/api/v1/auth/totp/confirm/"):
                assert not operation.get("security"), (method, path)
                refused = documented_error(schema, path, method, 401)
                assert has_error_shape(schema, refused)
                error = resolve(schema, resolve(schema, refused)["properties"]["errors"]["items"])
                assert set(resolve(schema, error["properties"]["code"])["enum"]) == {
                    "authentication_failed",
                    "otp_required",
                    "otp_invalid",
                    "otp_not_configured",
                }
            elif path.startswith("/api/v1/chat/"):
                # Web chat is anonymous: no token; a session is opened by its secret (404 without it).
                assert not operation.get("security"), (method, path)
                assert has_error_shape(schema, documented_error(schema, path, method, 404)), (method, path)
            else:
                assert operation.get("security") == [{"tokenAuth": []}], (method, path)
                assert has_error_shape(schema, documented_error(schema, path, method, 401)), (method, path)


# --- the error shape --------------------------------------------------------------------------------


def test_schema_has_components_describing_the_error_shape(schema):
    shaped = [name for name, node in schema["components"]["schemas"].items() if has_error_shape(schema, node)]
    assert {"ErrorResponse401", "ErrorResponse404", "ErrorResponse405", "ErrorResponse415"} <= set(shaped)
    assert "ParseErrorResponse" in shaped
    item = resolve(
        schema, schema["components"]["schemas"]["ErrorResponse404"]["properties"]["errors"]["items"]
    )
    assert item["properties"]["attr"].get("nullable") is True
    assert "{type, errors: [{code, detail, attr}]}" in schema["info"]["description"]


def test_every_documented_error_response_has_the_error_shape(schema):
    unshaped = [
        f"{method.upper()} {path} {status}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
        if int(status) >= 400
        and not has_error_shape(schema, documented_error(schema, path, method, status) or {})
    ]
    assert not unshaped, f"documented without the error shape: {unshaped}"


def test_body_validation_errors_name_the_input_fields(schema):
    """A 400 on a write lists the fields of that operation's input as possible `attr` values."""
    node = resolve(schema, documented_error(schema, "/api/v1/cases/", "post", 400))
    validation = resolve(schema, next(v for v in node["oneOf"] if "ValidationError" in v["$ref"]))
    item = resolve(schema, validation["properties"]["errors"]["items"])
    attrs = {resolve(schema, v)["properties"]["attr"].get("enum", [None])[0] for v in item["oneOf"]}
    assert {"call_type", "risk_level", "categories", "child_age", "non_field_errors"} <= attrs
    # ... and any other name, refused as unknown (tests/test_unknown_fields_and_parameters_are_refused.py).
    unknown = resolve(schema, {"$ref": "#/components/schemas/UnknownInputError"})
    assert {"$ref": "#/components/schemas/UnknownInputError"} in item["oneOf"]
    codes = set(resolve(schema, unknown["properties"]["code"])["enum"])
    assert codes == {"unknown_field", "unknown_parameter"}


def test_every_operation_documents_the_refusal_of_undeclared_input(schema):
    """Any operation refuses an unknown query parameter (400); bodies are closed objects."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert has_error_shape(schema, documented_error(schema, path, method, 400)), (method, path)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                assert resolve(schema, body["schema"]).get("additionalProperties") is False, (method, path)


# --- error statuses the API really answers are documented -----------------------------------------


def openapi_path(url: str) -> str:
    """The schema's path for a concrete URL: /api/v1/cases/7/ -> /api/v1/cases/{case_id}/."""
    return to_openapi(resolve_url(url).route)


@pytest.fixture
def answers(api, helpline, operator, supervisor, admin_user, walk_in):
    """Requests that really answer 403, 409 or 413: [(status, client, method, url, body)]."""
    case = walk_in(risk_level="high")
    op, sup, adm = api(operator), api(supervisor), api(admin_user)
    root = api(factories.AdminFactory(username="root", helpline=None))
    anonymous = api()
    # Sign-in is throttled per client address in the shared cache: not from the usual 127.0.0.1.
    anonymous.defaults["REMOTE_ADDR"] = (
        f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    )
    case_url = f"/api/v1/cases/{case['id']}/"
    started = op.post(f"{case_url}transitions/", {"name": "start_assessment"}, format="json")
    assert started.status_code == 200
    contact_url = f"/api/v1/contacts/{Contact.objects.get(case_id=case['id']).pk}/"
    escalate_overdue_cases(now=timezone.now() + timedelta(days=30))
    acknowledge_url = f"/api/v1/escalations/{Escalation.objects.get(case_id=case['id']).pk}/acknowledge/"
    assert sup.post(acknowledge_url).status_code == 200
    user_url, helpline_url = f"/api/v1/users/{operator.pk}/", f"/api/v1/helplines/{helpline.pk}/"
    big = {"padding": "a" * 300 * 1024}
    return [
        (403, op, "get", "/api/v1/users/", None),
        (403, op, "post", "/api/v1/users/", {"username": "x1", "role": "admin"}),
        (403, op, "get", user_url, None),
        (403, op, "patch", user_url, {"role": "admin"}),
        (403, op, "get", "/api/v1/helplines/", None),
        (403, adm, "post", "/api/v1/helplines/", {"code": "X1", "name": "X", "country": "KE"}),
        (403, op, "get", helpline_url, None),
        (403, op, "patch", helpline_url, {"name": "X"}),
        (403, adm, "post", "/api/v1/cases/", {"call_type": "child"}),
        (403, op, "patch", case_url, {"restricted": True}),
        (403, op, "post", f"{case_url}transitions/", {"name": "close", "reason": "Safe"}),  # high risk
        (403, op, "post", acknowledge_url, None),
        (409, op, "post", f"{case_url}transitions/", {"name": "reopen", "reason": "Again"}),
        (409, op, "post", f"{contact_url}attach/", {"case": case["id"]}),
        (409, sup, "post", acknowledge_url, None),
        (413, anonymous, "post", "/api/v1/auth/token/", big),
        (413, adm, "post", "/api/v1/users/", big),
        (413, adm, "patch", user_url, big),
        (413, root, "post", "/api/v1/helplines/", big),
        (413, adm, "patch", helpline_url, big),
        (413, op, "post", "/api/v1/cases/", big),
        (413, op, "patch", case_url, big),
        (413, op, "post", f"{case_url}transitions/", big),
        (413, op, "post", f"{case_url}notes/", big),
        (413, op, "patch", contact_url, big),
    ]


@pytest.mark.parametrize("status", [403, 409, 413])
def test_error_status_the_api_really_answers_is_documented_with_the_error_shape(schema, answers, status):
    undocumented = []
    for expected, client, method, url, body in answers:
        if expected != status:
            continue
        if body is None:
            response = getattr(client, method)(url)
        else:
            response = getattr(client, method)(url, data=json.dumps(body), content_type="application/json")
        assert response.status_code == status, (method, url, response.content[:300])
        assert set(response.json()) >= {"type", "errors"}
        documented = documented_error(schema, openapi_path(url), method, status)
        if documented is None or not has_error_shape(schema, documented):
            undocumented.append(f"{method.upper()} {openapi_path(url)}")
    assert not undocumented, f"{status} answered but not documented with the error shape: {undocumented}"


def test_every_operation_documents_the_database_outage_503_with_retry_after(schema):
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "Retry-After" not in operation["responses"].get("503", {}).get("headers", {})
        or not has_error_shape(schema, documented_error(schema, path, method, 503) or {})
    ]
    assert not undocumented, f"503 not documented with Retry-After and the error shape: {undocumented}"


@pytest.mark.parametrize("path", ["/api/v1/cases/", "/api/v1/auth/token/"])
def test_a_database_outage_answers_the_documented_503(schema, api, operator, path):
    def unreachable(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    client = api(operator) if path == "/api/v1/cases/" else api()
    client.raise_request_exception = False  # the answer is under test, not the logged error
    with connection.execute_wrapper(unreachable):
        if path == "/api/v1/cases/":
            response = client.get(path)
        else:
            response = client.post(path, {"username": "op1", "password": "x"}, format="json")
    assert response.status_code == 503, response.content[:300]
    documented = schema["paths"][path]["get" if path == "/api/v1/cases/" else "post"]["responses"]["503"]
    assert int(response["Retry-After"]) >= documented["headers"]["Retry-After"]["schema"]["minimum"]
    body = response.json()
    shape = resolve(schema, documented["content"]["application/json"]["schema"])
    assert body["type"] in resolve(schema, shape["properties"]["type"])["enum"]
    codes = resolve(schema, resolve(schema, shape["properties"]["errors"]["items"])["properties"]["code"])
    assert [error["code"] for error in body["errors"]] == ["service_unavailable"]
    assert "service_unavailable" in codes["enum"]
    assert body["errors"][0]["attr"] is None


# --- the schema as `manage.py spectacular --validate --fail-on-warn` builds it ------------------------


def test_generated_schema_is_valid_openapi_and_generates_without_warnings(capsys):
    GENERATOR_STATS.reset()
    capsys.readouterr()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(generated)  # raises on any OpenAPI 3 violation
    assert capsys.readouterr().err == ""
    assert not GENERATOR_STATS
    assert set(generated["paths"]) == set(registered_api_v1_operations())
