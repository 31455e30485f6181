"""A client's X-Request-ID is never taken as ours (issue #13, leak 8c): every request gets an id we
generate, stored as the audit entries' `request_id` and returned in the X-Request-ID header; what
the client sent, if anything, is kept beside it in `extra.client_request_id`, cut to 64 safe
characters."""

import re

from helpline.models import AuditEntry

OURS = re.compile(r"^[0-9a-f]{32}$")


def _read(api, operator, walk_in, **headers):
    case = walk_in()
    response = api(operator).get(f"/api/v1/cases/{case['id']}/", **headers)
    assert response.status_code == 200
    (entry,) = AuditEntry.objects.filter(action="case.read", case_id=case["id"])
    return response, entry


def test_the_clients_id_is_kept_apart(api, operator, walk_in):
    response, entry = _read(api, operator, walk_in, HTTP_X_REQUEST_ID="client-chosen-1")

    assert OURS.match(entry.request_id)
    assert response.headers["X-Request-ID"] == entry.request_id
    assert entry.extra["client_request_id"] == "client-chosen-1"


def test_two_requests_naming_the_same_id_get_their_own(api, operator, walk_in):
    _, first = _read(api, operator, walk_in, HTTP_X_REQUEST_ID="same")
    _, second = _read(api, operator, walk_in, HTTP_X_REQUEST_ID="same")

    assert first.request_id != second.request_id
    assert first.extra["client_request_id"] == second.extra["client_request_id"] == "same"


def test_a_hostile_client_id_is_cut_and_cleaned(api, operator, walk_in):
    _, entry = _read(api, operator, walk_in, HTTP_X_REQUEST_ID="=cmd|calc <script>" + "x" * 200)

    assert OURS.match(entry.request_id)
    assert entry.extra["client_request_id"] == ("cmdcalcscript" + "x" * 200)[:64]


def test_without_a_client_id_nothing_is_added(api, operator, walk_in):
    response, entry = _read(api, operator, walk_in)

    assert OURS.match(entry.request_id)
    assert response.headers["X-Request-ID"] == entry.request_id
    assert "client_request_id" not in entry.extra
