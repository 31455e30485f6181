"""The API documentation is the partner agencies' and console builders' user interface, so it is
written for them, not for us.

- Tags: every operation is grouped by where it lives: the tags of the longest prefix of
  `settings.API_TAGS_BY_PATH` its path starts with, each tag defined once (with its description) in
  `settings.API_TAGS` (config/settings/api.py). A new endpoint only needs its prefix there.
- Summary and description: given with `extend_schema(summary=..., description=...)` on every
  operation. A view's docstring is for developers: it never becomes the description (drf-spectacular
  would otherwise fall back to it, inherited from our base views).
- Examples: the main operations' requests and answers, in each app's `api/examples.py`, given with
  `extend_schema(examples=...)`; every documented 400/401/403/404/409 answer gets an example of the
  one error shape here, and a list's page links to the operation itself. Every example must be
  valid against its schema (the test checks).

tests/test_api_documentation_is_written_for_integrators.py keeps every operation so."""

import re

from django.conf import settings

# The tag of an operation no prefix matches: not among settings.API_TAGS, so the test names it.
UNTAGGED = "untagged"


def tags_for(path: str) -> list[str]:
    """`/api/v1/cases/{case_id}/messages/` -> ["messages"]: the longest matching prefix wins."""
    prefixes = [prefix for prefix in settings.API_TAGS_BY_PATH if path.startswith(prefix)]
    if not prefixes:
        return [UNTAGGED]
    return list(settings.API_TAGS_BY_PATH[max(prefixes, key=len)])


def error(type_: str, code: str, detail: str, attr: str | None = None, **extra) -> dict:
    return {"type": type_, "errors": [{"code": code, "detail": detail, "attr": attr}], **extra}


# What each error status looks like, shown on every operation that documents it. Each is valid
# against the status's schema on every operation (an unknown field is refused by all of them).
ERROR_EXAMPLES = {
    "400": (
        "An undeclared field is refused; nothing was done",
        error("validation_error", "unknown_field", "Unknown field.", "colour"),
    ),
    "401": (
        "Not signed in: a wrong, expired or revoked token (or wrong credentials at sign-in)",
        error("client_error", "authentication_failed", "Incorrect authentication credentials."),
    ),
    "403": (
        "The caller's role may not do this to an object it can see",
        error("client_error", "permission_denied", "You do not have permission to perform this action."),
    ),
    "404": (
        "Unknown, or outside the caller's scope (the same answer, so ids do not leak)",
        error("client_error", "not_found", "Not found."),
    ),
    "409": (
        "The object's state does not allow it now, or a concurrent change got there first",
        error("client_error", "conflict", "The object changed meanwhile; read it again and retry."),
    ),
}


def transition_conflict_example(name: str) -> tuple[str, dict]:
    """A refused transition (TransitionConflictResponseSerializer) also says where the object stands."""
    return (
        "Not possible from the object's state now (here: withdrawn meanwhile)",
        error(
            "client_error",
            "transition_not_allowed",
            f"Transition {name!r} is not possible from state 'withdrawn'.",
            state="withdrawn",
            available_transitions=[],
        ),
    )


def document_error_examples(result, generator, request, public):
    """An example of the error shape on each documented 400/401/403/404/409 answer. An operation's
    own examples (extend_schema) are kept; a 401's are replaced, as drf-standardized-errors gives
    `not_authenticated`, which sign-in's 401 does not answer (it says `authentication_failed`)."""
    schemas = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for status_code, (summary, value) in ERROR_EXAMPLES.items():
                content = operation.get("responses", {}).get(status_code, {}).get("content", {})
                media = content.get("application/json")
                if media is None or ("examples" in media and status_code != "401"):
                    continue
                if status_code == "409" and "available_transitions" in _required(schemas, media["schema"]):
                    summary, value = transition_conflict_example(operation["operationId"].rsplit("_", 1)[-1])
                media["examples"] = {f"Error{status_code}": {"summary": summary, "value": value}}
    return result


def document_page_examples(result, generator, request, public):
    """drf-spectacular shows a list's example inside a page whose `next` is DRF's placeholder
    (`http://api.example.org/accounts/...`): the operation's own URL with a cursor instead."""
    for path, operations in result.get("paths", {}).items():
        url = "https://lifeline.example.org" + re.sub(r"\{\w+\}", "4211", path)
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            for example in content.get("application/json", {}).get("examples", {}).values():
                page = example.get("value")
                if isinstance(page, dict) and {"next", "previous", "results"} <= set(page):
                    page["next"] = f"{url}?cursor=cD0yMDI2LTEyLTA3KzA5JTNBMzAlM0EwMA%3D%3D"
                    page["previous"] = None
    return result


def _required(schemas: dict, node: dict) -> list[str]:
    while "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[-1]]
    return node.get("required", [])
