"""Bad input to every /api/v1/ endpoint is refused with the one error shape and changes nothing.

Every refusal must answer `{"type": ..., "errors": [{"code", "detail", "attr"}]}` as JSON, and after
a refused request nothing stored may differ: no row added, changed or removed, and no new *allowed*
audit entry (a refused case write must not leave a record of a write that never happened).

The inbound channels' endpoints are walked too: the anonymous web chat (the session's secret in the
X-Chat-Secret header), the callback queue and the repeat contacters' profiles and flags. Bodies and
fields: tests/test_malformed_bodies_are_rejected_cleanly.py and
tests/test_invalid_fields_are_rejected_cleanly.py."""

import json

import pytest
from knox.models import AuthToken

from cases.models import Case
from channels_sms.models import (
    ChatSession,
)
from helpline.models import AuditEntry, AuditOutcome

from .bad_input import (
    ALL_OPS,
    AUTHENTICATED_OPS,
    CHAT_SEND,
    CHAT_START,
    CONSENT_BODY,
    FLAG,
    FLAG_BODY,
    FLAG_NUMBER,
    NEVER_SEEN,
    Op,
    assert_error,
    assert_nothing_stored_changed,
    build_world,
    error_pairs,
    fresh_ip,
    send,
    stored,
)


@pytest.fixture
def world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in):
    return build_world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in)


# --- the control: every operation accepts its well-formed request ----------------------------------


@pytest.mark.parametrize("op", ALL_OPS, ids=str)
def test_every_operation_accepts_its_well_formed_request(world, op):
    response = send(world.client(op.who), op.method, world.fill(op.path), world.fill(op.body))
    assert response.status_code in (200, 201, 202, 204), (response.status_code, response.content[:1000])


# --- unknown ids ----------------------------------------------------------------------------------------

UNKNOWN_IDS = [
    Op("agency", "get", "/api/v1/referrals/999999/"),
    Op("agency", "post", "/api/v1/referrals/999999/accept/", {}),
    Op("operator", "post", "/api/v1/referrals/999999/withdraw/", {"reason": "x"}),
    Op("operator", "post", "/api/v1/referrals/999999/updates/", {"body": "x"}),
    Op("operator", "get", "/api/v1/referrals/999999/deliveries/"),
    Op("operator", "post", "/api/v1/cases/999999/referrals/", {"agency": 1, "service_type": "x"}),
    Op("operator", "post", "/api/v1/cases/999999/consent/", CONSENT_BODY),
    Op("admin", "get", "/api/v1/users/999999/"),
    Op("admin", "patch", "/api/v1/users/999999/", {"first_name": "Amina"}),
    Op("admin", "get", "/api/v1/helplines/999999/"),
    Op("admin", "patch", "/api/v1/helplines/999999/", {"name": "Renamed"}),
    Op("operator", "get", "/api/v1/cases/999999/"),
    Op("operator", "get", f"/api/v1/cases/{2**70}/"),
    Op("operator", "patch", "/api/v1/cases/999999/", {"risk_level": "medium"}),
    Op("operator", "post", "/api/v1/cases/999999/transitions/", {"name": "start_assessment"}),
    Op("operator", "get", "/api/v1/cases/999999/notes/"),
    Op("operator", "post", "/api/v1/cases/999999/notes/", {"body": "A note"}),
    Op("supervisor", "get", "/api/v1/cases/999999/history/"),
    Op("operator", "get", "/api/v1/cases/999999/messages/"),
    Op("operator", "post", "/api/v1/cases/999999/messages/", {"body": "We are here."}),
    Op("operator", "get", "/api/v1/contacts/999999/"),
    Op("operator", "patch", "/api/v1/contacts/999999/", {"summary": "Called back"}),
    Op("operator", "post", "/api/v1/contacts/999999/attach/", {"case": "{case}"}),
    Op("operator", "post", "/api/v1/contacts/{loose_contact}/attach/", {"case": 999999}),
    Op("operator", "post", "/api/v1/contacts/{loose_contact}/attach/", {"case": 2**70}),
    Op("supervisor", "post", "/api/v1/escalations/999999/acknowledge/"),
    Op("supervisor", "get", "/api/v1/teams/999999/"),
    Op("admin", "patch", "/api/v1/teams/999999/", {"name": "Renamed"}),
    Op("admin", "patch", "/api/v1/teams/{outsider_team}/", {"name": "Renamed"}),
    Op("operator", "post", "/api/v1/cases/999999/transfer/", {"to_user": "{supervisor}", "note": "x"}),
    Op("operator", "delete", "/api/v1/auth/tokens/0123456789abcdef/"),
    Op("operator", "delete", "/api/v1/auth/tokens/not-a-token-id/"),
    # Another helpline's rows do not exist for the caller either.
    Op("admin", "get", "/api/v1/users/{outsider}/"),
    Op("admin", "patch", "/api/v1/users/{outsider}/", {"first_name": "Amina"}),
    # The inbound channels: callbacks, identifiers and chat sessions that are not there, or are
    # another helpline's.
    Op("operator", "post", "/api/v1/callbacks/999999/done/", {"outcome": ""}),
    Op("operator", "post", f"/api/v1/callbacks/{2**70}/done/", {"outcome": ""}),
    Op("operator", "post", "/api/v1/callbacks/{else_callback}/done/", {"outcome": ""}),
    Op("operator", "get", "/api/v1/contacters/" + "0" * 64 + "/"),
    Op("operator", "get", "/api/v1/contacters/not-a-hash/"),
    Op("operator", "get", "/api/v1/contacters/" + "A" * 64 + "/"),
    Op("operator", "get", "/api/v1/contacters/" + "a" * 5000 + "/"),
    Op("operator", "get", "/api/v1/contacters/-/"),
    Op("operator", "get", "/api/v1/contacters/%00abc/"),  # a NUL once answered 500 (its audit entry)
    Op("operator", "get", "/api/v1/contacters/" + "a" * 64 + "%0A/"),
    Op("supervisor", "post", "/api/v1/contacters/%00/flag/", FLAG_BODY),
    Op("supervisor", "delete", "/api/v1/contacters/%00/flag/"),
    Op("child", "get", "/api/v1/chat/sessions/%00/messages/"),
    Op("operator", "get", "/api/v1/contacters/{else_contacter}/"),
    Op("supervisor", "post", "/api/v1/contacters/" + "0" * 64 + "/flag/", FLAG_BODY),
    Op("supervisor", "post", "/api/v1/contacters/{else_contacter}/flag/", FLAG_BODY),
    Op("supervisor", "delete", "/api/v1/contacters/" + "0" * 64 + "/flag/"),
    Op("supervisor", "delete", "/api/v1/contacters/{else_contacter}/flag/"),
    Op("supervisor", "delete", "/api/v1/contacters/-/flag/"),
    Op("child", "get", "/api/v1/chat/sessions/00000000-0000-4000-8000-000000000000/messages/"),
    Op("child", "post", "/api/v1/chat/sessions/not-a-uuid/messages/", {"body": "hello"}),
    Op("child", "post", "/api/v1/chat/sessions/" + "f" * 5000 + "/messages/", {"body": "hello"}),
    Op("child", "post", "/api/v1/chat/sessions/00000000-0000-4000-8000-000000000000/end/"),
    Op("anon", "post", "/api/v1/chat/sessions/", {"helpline": "NOPE"}),
    Op("anon", "post", "/api/v1/chat/sessions/", {"helpline": "GONE"}),  # an inactive helpline
]


@pytest.mark.parametrize("op", UNKNOWN_IDS, ids=lambda op: f"{op} {json.dumps(op.body)}")
def test_unknown_id_is_404_and_changes_nothing(world, op):
    client, before = world.client(op.who), stored()
    response = send(client, op.method, world.fill(op.path), world.fill(op.body))
    errors = assert_error(response, 404, code="not_found")
    assert errors[0]["attr"] is None
    assert_nothing_stored_changed(before)


# --- authentication ---------------------------------------------------------------------------------------

CREDENTIALS = {
    "no header": (None, "not_authenticated"),
    "unknown token": ("Token 0123456789abcdef0123456789abcdef01234567", "authentication_failed"),
    "token keyword only": ("Token", "authentication_failed"),
    "token with spaces": ("Token abc def", "authentication_failed"),
    "inactive user's token": ("inactive", "authentication_failed"),
}


@pytest.mark.parametrize("credentials", CREDENTIALS, ids=str)
@pytest.mark.parametrize("op", AUTHENTICATED_OPS, ids=str)
def test_request_without_a_valid_token_is_401_and_changes_nothing(world, op, credentials):
    header, code = CREDENTIALS[credentials]
    client = world.client("anon")
    if header == "inactive":
        header = f"Token {AuthToken.objects.create(user=world.users['inactive'])[1]}"
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    before = stored()
    response = send(client, op.method, world.fill(op.path), world.fill(op.body))
    assert_error(response, 401, code=code)
    assert response["WWW-Authenticate"] == "Token"
    assert_nothing_stored_changed(before)


def test_login_with_wrong_password_is_401_and_issues_no_token(world):
    client, tokens = world.client("anon"), list(AuthToken.objects.values_list("digest", flat=True))
    response = send(
        client, "post", "/api/v1/auth/token/", {"username": "operator1", "password": "wrong-password"}
    )
    assert_error(response, 401, code="authentication_failed")
    assert list(AuthToken.objects.values_list("digest", flat=True)) == tokens


# --- routes and methods -------------------------------------------------------------------------------

UNKNOWN_ROUTES = [
    ("get", "/api/v1/nope/"),
    ("post", "/api/v1/nope/"),
    ("get", "/api/v1/cases/abc/"),
    ("get", "/api/v1/cases/-1/"),
    ("get", "/api/v1/cases/{case}/bogus/"),
    ("delete", "/api/v1/users/abc/"),
    ("get", "/api/v2/cases/"),
    ("get", "/api/"),
]


@pytest.mark.parametrize("who", ["anon", "operator"])
@pytest.mark.parametrize(
    ("method", "path"), UNKNOWN_ROUTES, ids=[f"{m.upper()} {p}" for m, p in UNKNOWN_ROUTES]
)
def test_unknown_route_is_404_in_json(world, who, method, path):
    client, before = world.client(who), stored()
    response = send(client, method, world.fill(path), {"call_type": "child"} if method == "post" else None)
    errors = assert_error(response, 404, code="not_found")
    assert errors[0]["attr"] is None
    assert_nothing_stored_changed(before)


WRONG_METHODS = [
    Op("anon", "get", "/api/v1/auth/token/"),
    Op("anon", "delete", "/api/v1/auth/token/"),
    Op("operator", "get", "/api/v1/auth/logout/"),
    Op("operator", "post", "/api/v1/auth/me/"),
    Op("operator", "put", "/api/v1/auth/me/"),
    Op("admin", "put", "/api/v1/users/"),
    Op("admin", "delete", "/api/v1/users/{operator}/"),
    Op("admin", "put", "/api/v1/users/{operator}/"),
    Op("platform_admin", "delete", "/api/v1/helplines/"),
    Op("admin", "delete", "/api/v1/helplines/{helpline}/"),
    Op("operator", "delete", "/api/v1/cases/"),
    Op("operator", "delete", "/api/v1/cases/{case}/"),
    Op("operator", "put", "/api/v1/cases/{case}/"),
    Op("operator", "get", "/api/v1/cases/{case}/transitions/"),
    Op("operator", "delete", "/api/v1/cases/{case}/notes/"),
    Op("operator", "patch", "/api/v1/cases/{case}/notes/"),
    Op("supervisor", "post", "/api/v1/cases/{case}/history/"),
    Op("operator", "delete", "/api/v1/cases/{case}/messages/"),
    Op("operator", "post", "/api/v1/contacts/"),
    Op("operator", "delete", "/api/v1/contacts/{contact}/"),
    Op("operator", "put", "/api/v1/contacts/{contact}/"),
    Op("operator", "get", "/api/v1/contacts/{loose_contact}/attach/"),
    Op("supervisor", "post", "/api/v1/escalations/"),
    Op("supervisor", "get", "/api/v1/escalations/{escalation}/acknowledge/"),
    Op("operator", "post", "/api/v1/categories/"),
    Op("operator", "post", "/api/v1/auth/tokens/"),
    Op("operator", "get", "/api/v1/auth/tokens/0123456789abcdef/"),
    Op("operator", "post", "/api/v1/callbacks/"),
    Op("operator", "delete", "/api/v1/callbacks/"),
    Op("operator", "get", "/api/v1/callbacks/{callback}/done/"),
    Op("operator", "patch", "/api/v1/callbacks/{callback}/done/"),
    Op("anon", "get", "/api/v1/chat/sessions/"),
    Op("anon", "delete", "/api/v1/chat/sessions/"),
    Op("child", "put", "/api/v1/chat/sessions/{chat}/messages/"),
    Op("child", "delete", "/api/v1/chat/sessions/{chat}/messages/"),
    Op("child", "get", "/api/v1/chat/sessions/{chat}/end/"),
    Op("supervisor", "post", "/api/v1/contacters/{contacter}/"),
    Op("supervisor", "delete", "/api/v1/contacters/{contacter}/"),
    Op("supervisor", "get", "/api/v1/contacters/{contacter}/flag/"),
    Op("supervisor", "put", "/api/v1/contacters/{contacter}/flag/"),
]


@pytest.mark.parametrize("op", WRONG_METHODS, ids=str)
def test_wrong_method_is_405_and_changes_nothing(world, op):
    client, before = world.client(op.who), stored()
    body = (
        {"call_type": "child", "name": "start_assessment"} if op.method in ("post", "put", "patch") else None
    )
    response = send(client, op.method, world.fill(op.path), body)
    errors = assert_error(response, 405, code="method_not_allowed")
    assert op.method.upper() in errors[0]["detail"]
    assert op.method.upper() not in response["Allow"].split(", ")
    assert_nothing_stored_changed(before)


# --- the inbound channels: the chat's secret, ended chats, rate limits, roles, done callbacks ----------

CHAT_PATHS = [
    ("get", "/api/v1/chat/sessions/{chat}/messages/", None),
    ("post", "/api/v1/chat/sessions/{chat}/messages/", {"body": "hello"}),
    ("post", "/api/v1/chat/sessions/{chat}/end/", None),
]
SECRETS = {
    "no secret": {},
    "empty secret": {"HTTP_X_CHAT_SECRET": ""},
    "wrong secret": {"HTTP_X_CHAT_SECRET": "not-the-secret"},
    "huge secret": {"HTTP_X_CHAT_SECRET": "s" * 8000},
    "another session's secret": "ended",
    "the secret as a query parameter": "query",
    "the secret as a body field": "body",
}


@pytest.mark.parametrize("secret", SECRETS, ids=str)
@pytest.mark.parametrize(
    ("method", "path", "body"), CHAT_PATHS, ids=[f"{m.upper()} {p}" for m, p, _ in CHAT_PATHS]
)
def test_chat_without_its_sessions_secret_in_the_header_is_refused_and_changes_nothing(
    world, method, path, body, secret
):
    """The secret is read from the X-Chat-Secret header only (never from the URL, which is logged);
    without it the session is unknown."""
    client, before, headers = world.client("anon"), stored(), SECRETS[secret]
    path = world.fill(path)
    real = world.secrets["child"]
    if headers == "ended":
        client, headers = world.client("ended"), {}
    elif headers == "query":
        path, headers = f"{path}?secret={real}&X-Chat-Secret={real}", {}
    elif headers == "body":
        body, headers = {**(body or {}), "secret": real, "X-Chat-Secret": real}, {}
    response = send(client, method, path, body, **headers)
    if secret in ("the secret as a query parameter", "the secret as a body field"):
        # Not a way in: refused as undeclared input, whatever the session (so it tells nothing of
        # it), naming the names, never echoing the secret.
        # (The test client sends a GET's "body" as its query string.)
        in_query = secret.endswith("parameter") or method == "get"
        code = "unknown_parameter" if in_query else "unknown_field"
        assert error_pairs(response) == {("secret", code), ("X-Chat-Secret", code)}
        assert real not in response.content.decode()
    else:
        assert_error(response, 404, code="not_found")
        assert response.json()["errors"][0]["detail"] == "Not found."  # the same as an unknown session
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize("who", ["ended", "expired"])
def test_message_to_an_ended_or_expired_chat_is_409_and_changes_nothing(world, who):
    client, before = world.client(who), stored()
    response = send(
        client, "post", f"/api/v1/chat/sessions/{world.ids[f'{who}_chat']}/messages/", {"body": "hi"}
    )
    assert_error(response, 409, code="conflict")
    assert_nothing_stored_changed(before)


def test_message_to_a_chat_whose_case_was_closed_is_409_and_changes_nothing(world):
    session = ChatSession.objects.get(pk=world.ids["chat"])
    Case.objects.filter(pk=session.contact.case_id).update(state="closed")
    client, before = world.client("child"), stored()
    response = send(client, "post", world.fill(CHAT_SEND.path), CHAT_SEND.body)
    assert_error(response, 409, code="conflict")
    assert_nothing_stored_changed(before)


def test_chat_rate_limits_answer_429_in_the_one_shape_and_store_nothing(world, settings):
    settings.CHAT_RATES = {
        "chat_session_create": "1/min",
        "chat_message_session": "1/min",
        "chat_message_ip": "1/min",
    }
    address = fresh_ip()
    client = world.client("child")
    assert (
        send(client, "post", world.fill(CHAT_SEND.path), CHAT_SEND.body, REMOTE_ADDR=address).status_code
        == 201
    )
    assert (
        send(world.client("anon"), "post", CHAT_START.path, CHAT_START.body, REMOTE_ADDR=address).status_code
        == 201
    )
    before = stored()
    refusals = [
        send(client, "post", world.fill(CHAT_SEND.path), CHAT_SEND.body),  # this session's limit
        send(
            world.client("ended"),
            "post",
            f"/api/v1/chat/sessions/{world.ids['ended_chat']}/messages/",
            CHAT_SEND.body,
            REMOTE_ADDR=address,
        ),  # this address's limit
        send(world.client("anon"), "post", CHAT_START.path, CHAT_START.body, REMOTE_ADDR=address),
        # Refused before the body is read, however bad it is.
        send(client, "post", world.fill(CHAT_SEND.path), raw='{"body": '),
    ]
    for response in refusals:
        assert_error(response, 429, code="throttled")
        assert int(response["Retry-After"]) > 0
    assert_nothing_stored_changed(before)
    # Reading the conversation is not limited by the message limits.
    assert send(client, "get", world.fill(CHAT_SEND.path)).status_code == 200


def test_chat_cursor_beyond_any_message_id_reads_nothing(world):
    client, before = world.client("child"), stored()
    for after in (2**63, 2**70, -(2**70)):
        response = send(client, "get", world.fill(CHAT_SEND.path) + f"?after={after}")
        assert response.status_code == 200, response.content[:500]
    assert send(client, "get", world.fill(CHAT_SEND.path) + f"?after={2**70}").json()["results"] == []
    assert_nothing_stored_changed(before)


def test_a_callback_already_done_is_409_and_changes_nothing(world):
    client, before = world.client("operator"), stored()
    response = send(
        client, "post", world.fill("/api/v1/callbacks/{done_callback}/done/"), {"outcome": "again"}
    )
    assert_error(response, 409, code="already_done")
    assert_nothing_stored_changed(before)


FORBIDDEN = [
    # Callbacks are helpline staff's: anyone else finds none.
    (Op("agency", "post", "/api/v1/callbacks/{callback}/done/", {"outcome": ""}), 404),
    (Op("admin", "post", "/api/v1/callbacks/{callback}/done/", {"outcome": ""}), 404),
    # An identifier is nothing to who may not see contacters; operators see it but may not flag.
    (Op("agency", "get", "/api/v1/contacters/{contacter}/"), 404),
    (Op("admin", "get", "/api/v1/contacters/{contacter}/"), 404),
    (FLAG._replace(who="operator"), 403),
    (FLAG._replace(who="agency"), 404),
    (FLAG._replace(who="admin"), 404),
    (Op("operator", "delete", "/api/v1/contacters/{contacter}/flag/"), 403),
    (Op("agency", "delete", "/api/v1/contacters/{contacter}/flag/"), 404),
    # By number, every caller who may not flag gets the same 403, whether the number is known or not.
    (FLAG_NUMBER._replace(who="operator"), 403),
    (FLAG_NUMBER._replace(who="agency"), 403),
    (FLAG_NUMBER._replace(who="admin"), 403),
    (Op("operator", "post", FLAG_NUMBER.path, {**FLAG_BODY, "phone_number": "+254712345678"}), 403),
    (Op("agency", "post", FLAG_NUMBER.path, {**FLAG_BODY, "phone_number": "+254712345678"}), 403),
]


@pytest.mark.parametrize(
    ("op", "status"), FORBIDDEN, ids=lambda v: f"{v.who} {v}" if isinstance(v, Op) else str(v)
)
def test_a_role_without_the_right_is_refused_and_changes_nothing(world, op, status):
    client, before = world.client(op.who), stored()
    response = send(client, op.method, world.fill(op.path), world.fill(op.body))
    errors = assert_error(response, status, code={403: "permission_denied", 404: "not_found"}[status])
    assert errors[0]["attr"] is None
    assert_nothing_stored_changed(before)


def test_flag_refusal_by_number_does_not_tell_whether_the_number_ever_wrote(world):
    answers = [
        send(world.client("operator"), "post", FLAG_NUMBER.path, {**FLAG_BODY, "phone_number": number})
        for number in ("+254712345678", NEVER_SEEN)
    ]
    assert answers[0].status_code == answers[1].status_code == 403
    assert answers[0].json() == answers[1].json()


def test_an_identifier_that_is_no_hash_is_refused_without_recording_it(world):
    """Refusals on a contacter are audited with a prefix of its hash; raw input that is no hash
    (a phone number typed into the URL, a NUL the database would refuse) is not recorded at all."""
    client = world.client("operator")
    for raw in ("+254712345678", "%00abc", "0" * 63 + "%0A"):
        response = send(client, "get", f"/api/v1/contacters/{raw}/")
        assert_error(response, 404, code="not_found")
    denied = AuditEntry.objects.filter(action="contacter.read", outcome=AuditOutcome.DENIED)
    assert list(denied.values_list("object_id", flat=True)) == ["", "", ""]
