"""A forged case-list cursor is answered 404 (as DRF's own cursors are), never 500: deeply nested
JSON, values at the edges of PostgreSQL's ranges, and the mixed-direction order's cursor."""

import base64
import json

import pytest


def _token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


FORGED = {
    "nested lists": "[" * 2_000 + "]" * 2_000,
    "nested objects": '{"a":' * 2_000 + "1" + "}" * 2_000,
    "year one in a far zone": json.dumps(
        [["urgency"], [0, "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+14:00", 1], 0, 0]
    ),
    "year 9999 in a far zone": json.dumps(
        [["urgency"], [0, "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59-14:00", 1], 0, 1]
    ),
    "a rank beyond smallint": json.dumps(
        [["risk_level", "created_at"], [2**62, "2026-01-01T00:00:00+00:00", 1], 0, 0]
    ),
    "a rank beyond smallint, one way": json.dumps(
        [["urgency"], [2**62, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", 1], 1, 1]
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(FORGED))
def test_a_forged_cursor_is_not_a_server_error(api, supervisor, walk_in, name):
    walk_in(supervisor)
    terms = json.loads(FORGED[name])[0] if not name.startswith("nested") else ["urgency"]
    ordering = ",".join(terms)

    response = api(supervisor).get("/api/v1/cases/", {"ordering": ordering, "cursor": _token(FORGED[name])})

    assert response.status_code in (200, 404), response.content[:300]
