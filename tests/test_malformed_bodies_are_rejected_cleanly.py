"""A request body that is not the JSON object an operation takes is refused with the one error
shape and changes nothing: malformed JSON, deeply nested JSON, JSON that is not an object, another
content type, a body over the upload limit, fields the operation does not declare. Every operation
the OpenAPI schema gives a body is walked (the schema is checked against the URL table)."""

import json

import pytest

from .bad_input import (
    ADD_NOTE,
    CREATE_CASE,
    DATA_UPLOAD_MAX_MEMORY_SIZE,
    FLAG_NUMBER,
    LOGIN,
    WALKED,
    assert_error,
    assert_nothing_stored_changed,
    build_world,
    error_pairs,
    route_of,
    schema_operations,
    send,
    stored,
)


@pytest.fixture
def world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in):
    return build_world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in)


def test_every_operation_that_takes_a_body_gets_the_body_walk():
    with_body = {name for name, operation in schema_operations().items() if "requestBody" in operation}
    assert "POST /api/v1/cases/{}/consent/" in with_body  # the walk found the API
    # FLAG_NUMBER is the flag operation again, its path naming the contacter by number ("-").
    walked = {route_of(op) for op in WALKED if op is not FLAG_NUMBER}
    assert sorted(with_body - walked) == [], "operations taking a body that the walk never sends one to"
    assert sorted(walked - with_body) == [], "walked operations the schema gives no body"


# --- the request body --------------------------------------------------------------------------------


MALFORMED_JSON = {
    "truncated": '{"name": ',
    "trailing comma": '{"a": 1,}',
    "single quotes": "{'a': 1}",
    "not json at all": "hello",
    "NaN": '{"a": NaN}',
    "invalid utf-8": b'{"a": "\xff\xfe"}',
}


@pytest.mark.parametrize("op", WALKED, ids=str)
def test_malformed_json_body_is_a_parse_error_and_changes_nothing(world, op):
    """Every kind of malformed body in one test per operation (one world each, not one per kind)."""
    client, before = world.client(op.who), stored()
    for kind, raw in MALFORMED_JSON.items():
        response = send(client, op.method, world.fill(op.path), raw=raw)
        errors = assert_error(response, 400, code="parse_error")
        assert errors[0]["attr"] is None, kind
        assert response.json()["type"] == "client_error", kind
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize("op", [LOGIN, CREATE_CASE], ids=str)
def test_deeply_nested_json_is_a_parse_error_not_a_crash(world, op):
    client, before = world.client(op.who), stored()
    raw = "[" * 50_000 + "]" * 50_000  # 100 kB: well under the size limit
    response = send(client, op.method, world.fill(op.path), raw=raw)
    assert_error(response, 400, code="parse_error")
    assert_nothing_stored_changed(before)


NOT_AN_OBJECT = {
    "list": ("[1, 2]", "invalid"),
    "string": ('"text"', "invalid"),
    "number": ("42", "invalid"),
    "null": ("null", "null"),
}


@pytest.mark.parametrize("op", WALKED, ids=str)
def test_json_body_that_is_not_an_object_is_refused_and_changes_nothing(world, op):
    client, before = world.client(op.who), stored()
    for kind, (raw, code) in NOT_AN_OBJECT.items():
        response = send(client, op.method, world.fill(op.path), raw=raw)
        assert error_pairs(response) == {("non_field_errors", code)}, kind
    assert_nothing_stored_changed(before)


UNSUPPORTED = {
    "text/plain": "call_type=child",
    "application/x-www-form-urlencoded": "call_type=child&name=start_assessment",
    "multipart/form-data; boundary=xyz": (
        '--xyz\r\nContent-Disposition: form-data; name="call_type"\r\n\r\nchild\r\n--xyz--\r\n'
    ),
    "application/xml": "<case><call_type>child</call_type></case>",
}


@pytest.mark.parametrize("op", WALKED, ids=str)
def test_unsupported_content_type_is_415_and_changes_nothing(world, op):
    client, before = world.client(op.who), stored()
    for content_type, raw in UNSUPPORTED.items():
        response = send(client, op.method, world.fill(op.path), raw=raw, content_type=content_type)
        assert_error(response, 415, code="unsupported_media_type")
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize("op", WALKED, ids=str)
def test_body_over_the_upload_limit_is_413_and_changes_nothing(world, op):
    client, before = world.client(op.who), stored()
    body = {**world.fill(op.body), "padding": "a" * DATA_UPLOAD_MAX_MEMORY_SIZE}
    raw = json.dumps(body)
    assert len(raw.encode()) > DATA_UPLOAD_MAX_MEMORY_SIZE
    response = send(client, op.method, world.fill(op.path), raw=raw)
    errors = assert_error(response, 413, code="payload_too_large")
    assert errors[0]["attr"] is None
    assert_nothing_stored_changed(before)


def test_body_just_under_the_upload_limit_is_read_and_validated(world):
    client, before = world.client("operator"), stored()
    raw = json.dumps({"body": "a" * (DATA_UPLOAD_MAX_MEMORY_SIZE - 100)})
    assert len(raw.encode()) <= DATA_UPLOAD_MAX_MEMORY_SIZE
    response = send(client, "post", world.fill(ADD_NOTE.path), raw=raw)
    assert error_pairs(response) == {("body", "max_length")}
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize("op", WALKED, ids=str)
def test_unknown_body_fields_are_refused_each_named_and_change_nothing(world, op):
    """A field the operation does not declare is a typo or a guess, never silently dropped
    (tests/test_unknown_fields_and_parameters_are_refused.py walks every operation)."""
    client, before = world.client(op.who), stored()
    body = {
        **world.fill(op.body),
        "unknown_field": "x" * 1000,
        "is_superuser": True,
        "set_by": world.ids["outsider"],
    }
    response = send(client, op.method, world.fill(op.path), body)
    assert error_pairs(response) == {
        ("unknown_field", "unknown_field"),
        ("is_superuser", "unknown_field"),
        ("set_by", "unknown_field"),
    }, response.content[:1000]
    assert b"x" * 1000 not in response.content
    assert_nothing_stored_changed(before)
