"""What each API operation accepts is what its OpenAPI schema declares, and nothing else: a query
parameter, a body field (at any depth) or an `ordering` value the schema does not name answers 400
`validation_error`, one error per unknown name (`attr`: the name as sent; `code`: `unknown_parameter`,
`unknown_field` or `invalid` for an ordering value), before the operation does anything.

The contract is read from the schema itself (drf-spectacular's generator, once per process and URL
configuration; gunicorn's master builds it before forking its workers), so the API cannot accept
what the schema does not say, and a new serializer, filter or documented parameter is covered
without a line here. Enforced by `base.APIView` (query and body, right after authentication and
permissions) and by the JSON parser (a body read by any other view).
Twilio's webhooks are plain Django views, outside this: Twilio adds form fields over time."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError
from rest_framework.filters import OrderingFilter

UNKNOWN_PARAMETER = "unknown_parameter"
UNKNOWN_FIELD = "unknown_field"
MAX_NAMED = 50  # a body of thousands of keys is refused naming the first ones, not echoed in full


@dataclass(frozen=True)
class Operation:
    query: frozenset[str]
    body: dict[str, Any] | None  # the JSON body's schema; None: the operation takes no body
    components: dict[str, Any] = field(repr=False, default_factory=dict)


_lock = threading.Lock()
_contracts: dict[str, dict[tuple[type, str], Operation]] = {}


def operation_for(view_class: type, method: str) -> Operation | None:
    """The operation a view answers for a method, as the schema declares it (None: not in the schema,
    e.g. a method the view does not have: it answers 405 on its own)."""
    method = "GET" if method == "HEAD" else method
    return _contract().get((view_class, method))


def operations() -> dict[tuple[type, str], Operation]:
    """{(view class, method): what it accepts}; built at the first call (config.gunicorn builds it
    in the master, before the workers fork)."""
    return _contract()


def _contract() -> dict[tuple[type, str], Operation]:
    key = str(settings.ROOT_URLCONF)
    contract = _contracts.get(key)
    if contract is None:
        with _lock:
            contract = _contracts.get(key)
            if contract is None:
                contract = _contracts[key] = _build()
    return contract


def _build() -> dict[tuple[type, str], Operation]:
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    contract: dict[tuple[type, str], Operation] = {}
    for path, _path_regex, method, callback in generator.endpoints:
        operation = schema["paths"].get(path, {}).get(method.lower())
        view_class = getattr(callback, "cls", None)
        if operation is None or view_class is None:
            continue
        query = frozenset(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
        content = operation.get("requestBody", {}).get("content", {})
        body = content.get("application/json", {}).get("schema") if content else None
        contract[view_class, method] = Operation(query=query, body=body, components=components)
    return contract


# --- the checks -------------------------------------------------------------------------------------


def refuse_undeclared_query(view, request) -> None:
    """400 naming every query parameter the operation does not declare, and every `ordering` term
    outside the view's ordering fields."""
    operation = operation_for(type(view), request.method)
    if operation is None:
        return
    errors: dict[str, list[ErrorDetail]] = {}
    for name in request.query_params:
        if name not in operation.query:
            errors[name] = [ErrorDetail(_("Unknown query parameter."), code=UNKNOWN_PARAMETER)]
    for backend in getattr(view, "filter_backends", ()):
        if isinstance(backend, type) and issubclass(backend, OrderingFilter):
            param = backend.ordering_param
            if param in operation.query and param not in errors:
                wrong = _bad_ordering_terms(view, request.query_params.getlist(param))
                if wrong:
                    allowed = ", ".join(ordering_values(view))
                    named = ", ".join(term[:64] for term in wrong[:MAX_NAMED])
                    detail = _("Unknown ordering: %(named)s. One or more of: %(allowed)s.") % {
                        "named": named,
                        "allowed": allowed,
                    }
                    errors[param] = [ErrorDetail(detail, code="invalid")]
    if errors:
        raise ValidationError(dict(list(errors.items())[:MAX_NAMED]))


def ordering_values(view) -> list[str]:
    fields = [f for f in getattr(view, "ordering_fields", ()) or ()]
    return [value for name in fields for value in (name, f"-{name}")]


def _bad_ordering_terms(view, values: list[str]) -> list[str]:
    """As the schema has it: comma-separated values of its enum, exactly (an empty `?ordering=` reads
    as not sent)."""
    allowed = set(ordering_values(view))
    terms = [term for value in values if value for term in value.split(",")]
    return [repr(term) if not term.strip() else term for term in terms if term not in allowed]


def refuse_unknown_fields(view, method: str, data: Any) -> None:
    """400 naming every body field (`a.b` when nested, `a.0.b` in a list) the operation's schema does
    not declare; a body sent to an operation that takes none names each of its keys."""
    if view is None:
        return
    operation = operation_for(type(view), method)
    if operation is None:
        return
    if operation.body is None:
        unknown = list(data) if isinstance(data, Mapping) else []
        if data not in (None, {}, [], "") and not isinstance(data, Mapping):
            raise ParseError(_("This operation takes no body."))
    else:
        unknown = _unknown(operation.components, operation.body, data, "")
    if unknown:
        raise ValidationError(
            {name: [ErrorDetail(_("Unknown field."), code=UNKNOWN_FIELD)] for name in unknown[:MAX_NAMED]}
        )


def _resolve(components: dict, node: dict) -> dict:
    while isinstance(node, dict) and ("$ref" in node or len(node.get("allOf", [])) == 1):
        node = components[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node["allOf"][0]
    return node if isinstance(node, dict) else {}


def _unknown(components: dict, node: dict, data: Any, prefix: str) -> list[str]:
    node = _resolve(components, node)
    if isinstance(data, Mapping) and ("properties" in node or "additionalProperties" in node):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        unknown: list[str] = []
        for key, value in data.items():
            name = f"{prefix}{key}"
            if key in properties:
                unknown += _unknown(components, properties[key], value, f"{name}.")
            elif extra is False:
                unknown.append(name)
            elif isinstance(extra, dict):
                unknown += _unknown(components, extra, value, f"{name}.")
        return unknown
    if isinstance(data, list) and isinstance(node.get("items"), dict):
        unknown = []
        for index, item in enumerate(data):
            unknown += _unknown(components, node["items"], item, f"{prefix}{index}.")
        return unknown
    return []
