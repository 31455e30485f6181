"""OpenAPI: drf-standardized-errors documents the error shape; we add the statuses it cannot infer
(413 on every body, 503 with Retry-After on every operation, 400 for undeclared input on every
operation, and 403/409 where a view declares them), so the schema says what really happens. Request
bodies are closed (`additionalProperties: false`) and `ordering` lists its values: what the schema
does not declare is refused (helpline.api.contract reads this schema to enforce it).
tests/test_api_matches_its_schema.py holds every answer of the API to it."""

import re

import django_filters
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import (
    ClientErrorEnum,
    ServerErrorEnum,
    ValidationErrorEnum,
)
from drf_standardized_errors.openapi_utils import (
    InputDataField,
    get_django_filter_backends,
    get_filter_forms,
    get_validation_error_serializer,
)
from drf_standardized_errors.settings import package_settings
from rest_framework import serializers
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings

from ..filters import StrictBooleanField
from .contract import UNKNOWN_FIELD, UNKNOWN_PARAMETER, ordering_values
from .documentation import tags_for


class _Error(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse409Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _Error(many=True)


class TransitionConflictResponseSerializer(ErrorResponse409Serializer):
    """A refused transition also says where the case stands and what the caller may do instead."""

    state = serializers.CharField()
    available_transitions = serializers.ListField(child=serializers.CharField())


class UnknownInputErrorCode(models.TextChoices):
    UNKNOWN_FIELD = UNKNOWN_FIELD
    UNKNOWN_PARAMETER = UNKNOWN_PARAMETER


class UnknownInputError(serializers.Serializer):
    """A body field (`a.b` nested, `a.0.b` in a list) or query parameter the operation does not
    declare, named as sent: nothing was done."""

    attr = serializers.CharField(help_text="The unknown field or query parameter, as sent.")
    code = serializers.ChoiceField(choices=UnknownInputErrorCode.choices)
    detail = serializers.CharField()


class UnknownInputValidationError(serializers.Serializer):
    type = serializers.ChoiceField(choices=ValidationErrorEnum.choices)
    errors = UnknownInputError(many=True)


class ErrorResponse413Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _Error(many=True)


class ErrorCode503(models.TextChoices):
    SERVICE_UNAVAILABLE = "service_unavailable"


class _Error503(_Error):
    code = serializers.ChoiceField(choices=ErrorCode503.choices)


class ErrorResponse503Serializer(serializers.Serializer):
    """The database could not be reached or gave up on the statement (a restart, a failover, a
    timeout): nothing was stored; repeat the request after `Retry-After` seconds."""

    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = _Error503(many=True)


class SignInErrorCode401(models.TextChoices):
    AUTHENTICATION_FAILED = "authentication_failed"
    OTP_REQUIRED = "otp_required"
    OTP_INVALID = "otp_invalid"
    OTP_NOT_CONFIGURED = "otp_not_configured"


class SignInErrorCode429(models.TextChoices):
    THROTTLED = "throttled"
    LOCKED_OUT = "locked_out"


class _SignInError401(_Error):
    code = serializers.ChoiceField(choices=SignInErrorCode401.choices)


class _SignInError429(_Error):
    code = serializers.ChoiceField(choices=SignInErrorCode429.choices)


class SignInErrorResponse401Serializer(serializers.Serializer):
    """Wrong credentials, or a supervisor's or administrator's missing or wrong TOTP code."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _SignInError401(many=True)


class SignInErrorResponse429Serializer(serializers.Serializer):
    """Too many requests from this address, or too many failed sign-ins (locked out)."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = _SignInError429(many=True)


class AutoSchema(StandardizedErrorsAutoSchema):
    def get_tags(self) -> list[str]:
        return tags_for(self.path)  # by where the operation lives (helpline.api.documentation)

    def get_description(self) -> str:
        # Only what extend_schema(description=...) gives: never the view's docstring (for developers).
        return ""

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code == "413":
            return (
                status_code not in responses
                and self.method in ("POST", "PUT", "PATCH")
                and self.get_request_serializer() is not None
            )
        if status_code == "503":
            return status_code not in responses  # every operation reads the database
        return super()._should_add_error_response(responses, status_code)

    def _should_add_validation_error_response(self) -> bool:
        return True  # any operation refuses an undeclared query parameter or body field

    def _get_serializer_for_validation_error_response(self):
        codes = self._get_validation_error_codes_by_field(self._determine_fields_with_error_codes())
        if not codes:
            return UnknownInputValidationError
        # document_undeclared_input_refused adds UnknownInputError to these, once generated.
        return get_validation_error_serializer(self.get_operation_id(), codes)

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if status_code == "503":
            headers["Retry-After"] = {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds to wait before repeating the request.",
            }
        return headers

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if field.read_only and getattr(field, "allow_blank", True) is False and _blank_in_model(field):
            # A model serializer's read-only field forgets that its column may hold "": drf-spectacular
            # then documents "" as a possible value too (next to an enum, a format or a pattern).
            field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _determine_fields_with_error_codes(self) -> list[InputDataField]:
        fields = super()._determine_fields_with_error_codes()
        if self.method in ("PUT", "PATCH", "POST"):
            # The services check what a serializer cannot (the helpline's categories, a transition's
            # own required fields...) and refuse a field of the body with DRF's default code.
            separator = package_settings.NESTED_FIELD_SEPARATOR
            for data_field in fields:
                if separator not in data_field.name:
                    data_field.error_codes = {*data_field.error_codes, "invalid"}
            # A nested object sent as null (or left out when required) is refused under its own
            # name, not under `<name>.non_field_errors` where drf-standardized-errors puts it.
            suffix = separator + api_settings.NON_FIELD_ERRORS_KEY
            for data_field in list(fields):
                if data_field.name.endswith(suffix) and isinstance(data_field.field, serializers.Serializer):
                    codes = {"null"} & data_field.error_codes | (
                        {"required"} if data_field.field.required else set()
                    )
                    if codes:
                        fields.append(
                            InputDataField(data_field.name[: -len(suffix)], data_field.field, codes)
                        )
        else:
            # A filter's refusal reaches the API as the form's messages, which DRF (and django-filter's
            # own backend) re-raise under the one code "invalid", whatever the form field's own codes.
            # drf-standardized-errors also finds no code at all on the true/false filters, and would
            # leave them out.
            fields = [InputDataField(data_field.name, data_field.field, {"invalid"}) for data_field in fields]
            named = {data_field.name for data_field in fields}
            backends = get_django_filter_backends(self.get_filter_backends())
            for form in get_filter_forms(self.view, backends):
                for name, form_field in form.fields.items():
                    if isinstance(form_field, StrictBooleanField) and name not in named:
                        fields.append(InputDataField(name, form_field, {"invalid"}))
        return fields

    def _get_filter_parameters(self):
        parameters = super()._get_filter_parameters()
        if self._ordering_param():
            # The values it takes, comma-separated: anything else is refused (helpline.api.contract).
            for parameter in parameters:
                if parameter["name"] == self._ordering_param():
                    parameter["schema"] = {
                        "type": "array",
                        "items": {"type": "string", "enum": ordering_values(self.view)},
                    }
                    parameter["style"], parameter["explode"] = "form", False
                    parameter["description"] = (
                        "Order by these fields (`-` first: descending), comma-separated."
                    )
        filterset_class = getattr(self.view, "filterset_class", None)
        if filterset_class is not None:
            # django-filter's number filters take any decimal ("0.5" finds nothing), not only a whole
            # number as the column's type would suggest.
            numbers = {
                name
                for name, query_filter in filterset_class.base_filters.items()
                if isinstance(query_filter, django_filters.NumberFilter)
            }
            for parameter in parameters:
                if parameter["name"] in numbers:
                    parameter["schema"] = {**parameter["schema"], "type": "number"}
        return parameters

    def _ordering_param(self) -> str | None:
        for backend in self.get_filter_backends():
            if issubclass(backend, OrderingFilter):
                return backend.ordering_param
        return None

    def _get_extra_validation_errors(self) -> dict[str, set[str]]:
        extra = super()._get_extra_validation_errors()
        if self.method == "GET" and self._ordering_param():
            extra.setdefault(self._ordering_param(), set()).add("invalid")
        paginator = self._get_paginator()
        query_param = getattr(paginator, "page_size_query_param", None)
        if self.method == "GET" and query_param and self._is_list_view():
            extra.setdefault(query_param, set()).add("invalid")
        return extra


def _blank_in_model(field: serializers.Field) -> bool:
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source:
        return False
    try:
        return model._meta.get_field(field.source).blank
    except FieldDoesNotExist:
        return False


def document_list_item_errors(result, generator, request, public):
    """drf-standardized-errors names the errors of a list's items `<field>.INDEX`, while the API answers
    `<field>.0`, `<field>.1`...: each such `attr` lists the names the list's items can have (up to the
    list's maxItems), and the discriminator on `attr` maps each of them to the component."""
    schemas = result.get("components", {}).get("schemas", {})
    _answers_of_either_shape(schemas)
    separator = package_settings.NESTED_FIELD_SEPARATOR
    for path_operations in result.get("paths", {}).values():
        for operation in path_operations.values():
            body = _json_schema(operation.get("requestBody", {}))
            errors = _validation_errors(schemas, operation)
            if body is None or errors is None:
                continue
            mapping = errors.get("discriminator", {}).get("mapping", {})
            for variant in errors.get("oneOf", []):
                attr = _resolve(schemas, variant)["properties"]["attr"]
                template = (attr.get("enum") or [None])[0]
                if not template or package_settings.LIST_INDEX_IN_API_SCHEMA not in template.split(separator):
                    continue
                names = _item_names(schemas, body, template.split(separator))
                if names is None:
                    # A list of objects has no maxItems in the schema (a serializer's `many=True`):
                    # its items' names as a pattern, the index any whole number.
                    pattern = separator.join(
                        r"\d+" if part == package_settings.LIST_INDEX_IN_API_SCHEMA else re.escape(part)
                        for part in template.split(separator)
                    )
                    del attr["enum"]
                    attr["pattern"] = f"^{pattern}$"
                    attr["description"] = f"`{template}`: the item at that index"
                    mapping.pop(template, None)
                    continue
                attr["enum"] = names
                attr["description"] = f"`{template}`: the list's item at that index"
                mapping.pop(template, None)
                mapping.update({name: variant["$ref"] for name in names})
    return result


def _resolve(schemas: dict, node: dict) -> dict:
    while "$ref" in node or len(node.get("allOf", [])) == 1:
        node = schemas[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node["allOf"][0]
    return node


def _json_schema(container: dict) -> dict | None:
    return container.get("content", {}).get("application/json", {}).get("schema")


def _validation_errors(schemas: dict, operation: dict) -> dict | None:
    """The `errors` items of the operation's 400 validation error: a oneOf, one component per attr."""
    refused = _json_schema(operation.get("responses", {}).get("400", {}))
    for variant in _resolve(schemas, refused).get("oneOf", []) if refused else ():
        items = _resolve(schemas, variant).get("properties", {}).get("errors", {}).get("items")
        if items is not None and "attr" in (_resolve(schemas, items).get("discriminator") or {}).get(
            "propertyName", ""
        ):
            return _resolve(schemas, items)
    return None


def _item_names(schemas: dict, body: dict, parts: list[str]) -> list[str] | None:
    """`areas_served.INDEX` -> ["areas_served.0", ..., "areas_served.199"], walking the request body."""
    names, node = [""], _resolve(schemas, body)
    for part in parts:
        if part == package_settings.LIST_INDEX_IN_API_SCHEMA:
            if node.get("type") != "array" or "maxItems" not in node:
                return None
            names = [f"{name}.{index}" for name in names for index in range(node["maxItems"])]
            node = _resolve(schemas, node.get("items", {}))
        else:
            child = node.get("properties", {}).get(part)
            if child is None:
                return None
            names = [f"{name}.{part}" if name else part for name in names]
            node = _resolve(schemas, child)
    return names


def _answers_of_either_shape(schemas: dict) -> None:
    """A PolymorphicProxySerializer without a discriminator (a referral as staff or as its agency
    sees it) is a `oneOf` whose shapes overlap: the staff's answer has every field of the agency's,
    so it matches both, which `oneOf` forbids. `anyOf` says what is meant."""
    for component in schemas.values():
        variants = component.get("oneOf")
        if set(component) == {"oneOf"} and variants and all(set(v) == {"$ref"} for v in variants):
            component["anyOf"] = component.pop("oneOf")


def document_undeclared_input_refused(result, generator, request, public):
    """What an operation does not declare is refused (helpline.api.contract): every object of a
    request body is closed (`additionalProperties: false`, through its components), and every
    operation's 400 validation error may also name an unknown field or query parameter. The
    `attr` discriminator goes: the unknown names are not a closed list."""
    schemas = result.get("components", {}).get("schemas", {})
    seen: set[int] = set()
    for path_operations in result.get("paths", {}).values():
        for operation in path_operations.values():
            if not isinstance(operation, dict):
                continue
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _close(schemas, content.get("schema", {}), seen)
            errors = _validation_errors(schemas, operation)
            if errors is not None:
                errors.pop("discriminator", None)
                unknown = {"$ref": "#/components/schemas/UnknownInputError"}
                if unknown not in errors["oneOf"]:
                    errors["oneOf"].append(unknown)
    return result


def _close(schemas: dict, node: dict, seen: set[int]) -> None:
    if "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[-1]]
    if id(node) in seen:
        return
    seen.add(id(node))
    if "properties" in node:
        node.setdefault("additionalProperties", False)
        for child in node["properties"].values():
            _close(schemas, child, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _close(schemas, node[key], seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for child in node.get(key, []):
            _close(schemas, child, seen)


def document_empty_query_values(result, generator, request, public):
    """An optional query parameter sent empty (`?state=`) reads as not sent: django-filter, the
    true/false parameters, page_size and cursor all do so."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result


# --- links: what an answer lets the caller do next --------------------------------------------------

_CASE = {"case_id": "$response.body#/id"}
_REFERRAL = {"referral_id": "$response.body#/id"}
_FIRST_CASE = {"case_id": "$response.body#/results/0/id"}
_FIRST_REFERRAL = {"referral_id": "$response.body#/results/0/id"}
_ON_A_CASE = ("cases_retrieve", "cases_partial_update", "cases_transition", "cases_notes_create")
_ON_A_CASE += ("cases_notes_list", "cases_consent_record", "cases_referrals_create", "cases_referrals_list")
_ON_A_CASE += ("cases_history", "cases_access_retrieve")
_ON_A_REFERRAL = ("referrals_retrieve", "referrals_accept", "referrals_reject", "referrals_withdraw")
_ON_A_REFERRAL += ("referrals_complete", "referrals_updates_create", "referrals_updates_list")
_ON_A_REFERRAL += ("referrals_approve", "referrals_resend", "referrals_deliveries_list")
_ON_A_CHAT = {"session_id": "$response.body#/id", "header.X-Chat-Secret": "$response.body#/secret"}


def _each(operation_ids: tuple[str, ...], parameters: dict[str, str]) -> dict[str, dict[str, str]]:
    return {operation_id: parameters for operation_id in operation_ids}


# (operationId, status) -> {operationId it leads to: its parameters, from this answer}
LINKS: dict[tuple[str, str], dict[str, dict[str, str]]] = {
    ("cases_create", "201"): _each(_ON_A_CASE, _CASE),
    ("cases_list", "200"): _each(_ON_A_CASE, _FIRST_CASE),
    ("cases_partial_update", "200"): _each(_ON_A_CASE, _CASE),
    ("cases_transition", "200"): _each(_ON_A_CASE, _CASE),
    ("cases_consent_record", "201"): {"cases_referrals_create": {"case_id": "$response.body#/case"}},
    ("cases_referrals_create", "201"): _each(_ON_A_REFERRAL, _REFERRAL),
    ("referrals_list", "200"): _each(_ON_A_REFERRAL, _FIRST_REFERRAL),
    ("referrals_accept", "200"): _each(_ON_A_REFERRAL, _REFERRAL),
    ("referrals_resend", "201"): _each(_ON_A_REFERRAL, _REFERRAL),
    ("chat_sessions_create", "201"): _each(
        ("chat_sessions_messages_send", "chat_sessions_messages_list", "chat_sessions_end"), _ON_A_CHAT
    ),
    ("users_create", "201"): _each(
        (
            "users_retrieve",
            "users_partial_update",
            "users_password_link",
            "users_totp_reset",
            "users_activity",
        ),
        {"user_id": "$response.body#/id"},
    ),
    ("agencies_create", "201"): _each(
        ("agencies_retrieve", "agencies_partial_update"), {"agency_id": "$response.body#/id"}
    ),
}


def document_links(result, generator, request, public):
    """OpenAPI links from the answers that name a case, a referral, a chat, a person or an agency to
    the operations on it: open a case, then move it along, refer it, follow the referral. Clients
    (and schemathesis' stateful tests) follow them."""
    operations = {
        operation["operationId"]: operation
        for path_operations in result.get("paths", {}).values()
        for operation in path_operations.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for (source, status), targets in LINKS.items():
        response = operations[source]["responses"][status]
        response["links"] = {
            _link_name(target): {"operationId": target, "parameters": dict(parameters)}
            for target, parameters in targets.items()
            if target in operations
        }
    return result


def _link_name(operation_id: str) -> str:
    return "".join(part.title() for part in operation_id.split("_"))


# --- languages (issue #16) ---------------------------------------------------------------------------


def _accept_language(codes: list[str]) -> dict:
    return {
        "in": "header",
        "name": "Accept-Language",
        "required": False,
        "schema": {"type": "string"},
        "example": "mn, es;q=0.8",
        "description": "The languages the caller reads, by preference (quality values honoured; "
        f"`es-MX` reads as `es`). The human texts of the answer (`detail` of errors) are in the first "
        f"of {', '.join(codes)} it names; else in the caller's helpline's default language when it "
        "is one of them; else English. Codes never change with the language.",
    }


def document_languages(result, generator, request, public):
    """Every operation takes Accept-Language and answers with Content-Language (helpline.i18n)."""
    codes = [code for code, _name in settings.LANGUAGES]
    content_language = {
        "description": "The language of the answer's human texts.",
        "schema": {"type": "string", "enum": codes},
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation.setdefault("parameters", []).append(_accept_language(codes))
            for response in operation["responses"].values():
                if isinstance(response, dict) and "$ref" not in response:
                    response.setdefault("headers", {})["Content-Language"] = dict(content_language)
    return result
