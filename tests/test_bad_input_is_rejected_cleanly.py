"""Bad input to every /api/v1/ endpoint is refused with the one error shape and changes nothing.

Every refusal must answer `{"type": ..., "errors": [{"code", "detail", "attr"}]}` as JSON, and after
a refused request nothing stored may differ: no row added, changed or removed, and no new *allowed*
audit entry (a refused case write must not leave a record of a write that never happened).

The inbound channels' endpoints are walked too: the anonymous web chat (the session's secret in the
X-Chat-Secret header), the callback queue and the repeat contacters' profiles and flags. Unknown
body fields are refused, each named (helpline.api.contract)."""

import json
import random
import re
from datetime import timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.generators import SchemaGenerator
from knox.models import AuthToken

from cases.models import Case, CaseAccess, CaseReferenceCounter, Category, Contact, Escalation, Note
from cases.services import escalate_overdue_cases
from channels_sms import chat
from channels_sms.models import (
    Callback,
    ChatSession,
    ContacterFlag,
    FlaggedContact,
    InboundEvent,
    Message,
    PhoneNumber,
    VoiceRoute,
)
from channels_sms.senders import sender_hash
from channels_sms.voice import callback_complete, callback_request
from helpline.models import AuditEntry, AuditOutcome, Helpline, SetPasswordLink, Team, User
from referrals.models import Agency, Consent, Delivery, Referral, ReferralUpdate, WebhookChange

from . import factories

DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
ERROR_TYPES = {"validation_error", "client_error", "server_error"}


# --- helpers ----------------------------------------------------------------------------------------


def assert_error(response, status: int, *, code: str | None = None) -> list[dict[str, Any]]:
    """The response is `status` with the one error shape; returns its errors."""
    assert response.status_code == status, (response.status_code, response.content[:1000])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    assert body["type"] in ERROR_TYPES, body
    assert isinstance(body["errors"], list) and body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}, error
        assert isinstance(error["code"], str) and error["code"], error
        assert isinstance(error["detail"], str) and error["detail"], error
        assert error["attr"] is None or isinstance(error["attr"], str), error
    if code is not None:
        assert [e["code"] for e in body["errors"]] == [code], body
    return body["errors"]


def error_pairs(response) -> set[tuple[str | None, str]]:
    return {(e["attr"], e["code"]) for e in assert_error(response, 400)}


STORED_MODELS = (
    Consent,
    Referral,
    ReferralUpdate,
    Delivery,
    Helpline,
    Team,
    User,
    AuthToken,
    Agency,
    Category,
    Case,
    Contact,
    Note,
    Escalation,
    CaseReferenceCounter,
    PhoneNumber,
    VoiceRoute,
    InboundEvent,
    Message,
    Callback,
    ChatSession,
    ContacterFlag,
    FlaggedContact,
    SetPasswordLink,
    TOTPDevice,
    CaseAccess,
    WebhookChange,
)


def stored() -> dict[str, list]:
    """Everything the API can write, row by row, plus the allowed audit entries."""
    state = {model._meta.label: list(model.objects.order_by("pk").values()) for model in STORED_MODELS}
    state["allowed audit entries"] = list(
        AuditEntry.objects.filter(outcome=AuditOutcome.ALLOWED)
        .order_by("pk")
        .values_list("action", "object_type", "object_id")
    )
    return state


def assert_nothing_stored_changed(before: dict[str, list], *, except_read_audit: bool = False) -> None:
    """`except_read_audit`: a read refused after its access check may still have been recorded."""
    after = stored()
    if except_read_audit:
        after["allowed audit entries"] = before["allowed audit entries"]
    changed = {
        name: {"before": before[name], "after": after[name]} for name in before if before[name] != after[name]
    }
    assert not changed, changed


def fresh_ip() -> str:
    # The login endpoint is throttled per client address (in the shared Redis cache): every request
    # comes from its own address so runs never throttle each other.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def send(
    client,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: str | bytes | None = None,
    content_type: str = "application/json",
    **extra,
):
    extra.setdefault("REMOTE_ADDR", fresh_ip())  # also a fresh allowance of the chat's per-address limits
    call = getattr(client, method)
    if raw is not None:
        return call(path, data=raw, content_type=content_type, **extra)
    if body is None:
        return call(path, **extra)
    return call(path, body, format="json", **extra)


class Op(NamedTuple):
    """One operation, the user allowed to call it, and a body it accepts."""

    who: str
    method: str
    path: str
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def __hash__(self) -> int:  # usable as a key although its body is a dict
        return hash(str(self))


PASSWORD = factories.PASSWORD
NEW_USER = {"username": "newbie", "role": "operator"}
NEW_HELPLINE = {"code": "NEWHL", "name": "New helpline", "country": "UG"}
CHILD = {"call_type": "child"}

LOGIN = Op("anon", "post", "/api/v1/auth/token/", {"username": "operator1", "password": PASSWORD})
CREATE_USER = Op("admin", "post", "/api/v1/users/", NEW_USER)
NEW_PASSWORD = "Their-own-passphrase-42"
SET_PASSWORD = Op("anon", "post", "/api/v1/auth/password/", {"token": "x" * 43, "password": NEW_PASSWORD})
TOTP_ENROL = Op("anon", "post", "/api/v1/auth/totp/", {"username": "supervisor1", "password": PASSWORD})
CONFIRMATION = {"username": "supervisor1", "password": PASSWORD, "otp": "123456"}
TOTP_CONFIRM = Op("anon", "post", "/api/v1/auth/totp/confirm/", CONFIRMATION)
UPDATE_USER = Op("admin", "patch", "/api/v1/users/{operator}/", {"first_name": "Amina"})
CREATE_HELPLINE = Op("platform_admin", "post", "/api/v1/helplines/", NEW_HELPLINE)
UPDATE_HELPLINE = Op("admin", "patch", "/api/v1/helplines/{helpline}/", {"name": "Renamed"})
CREATE_CASE = Op("operator", "post", "/api/v1/cases/", CHILD)
UPDATE_CASE = Op("operator", "patch", "/api/v1/cases/{case}/", {"risk_level": "medium"})
TRANSITION = Op("operator", "post", "/api/v1/cases/{case}/transitions/", {"name": "start_assessment"})
ADD_NOTE = Op("operator", "post", "/api/v1/cases/{case}/notes/", {"body": "Called the school."})
SEND_MESSAGE = Op("operator", "post", "/api/v1/cases/{case}/messages/", {"body": "We are here."})
UPDATE_CONTACT = Op("operator", "patch", "/api/v1/contacts/{contact}/", {"summary": "Called back"})
ATTACH = Op("operator", "post", "/api/v1/contacts/{loose_contact}/attach/", {"case": "{case}"})
# The inbound channels. "child" is an anonymous client holding the web chat session's secret.
CHAT_START = Op("anon", "post", "/api/v1/chat/sessions/", {"helpline": "DEMO", "language": "sw"})
CHAT_SEND = Op("child", "post", "/api/v1/chat/sessions/{chat}/messages/", {"body": "my uncle hits me"})
CALLBACK_DONE = Op("operator", "post", "/api/v1/callbacks/{callback}/done/", {"outcome": "Child is safe."})
IN_A_WEEK = (timezone.now() + timedelta(days=7)).isoformat()
FLAG_BODY = {"flag": "blocked", "expires_at": IN_A_WEEK, "reason": "Prank calls every night"}
NEVER_SEEN = "+254733000999"
FLAG = Op("supervisor", "post", "/api/v1/contacters/{contacter}/flag/", FLAG_BODY)
FLAG_NUMBER = Op(
    "supervisor", "post", "/api/v1/contacters/-/flag/", {**FLAG_BODY, "phone_number": NEVER_SEEN}
)

# Referrals: consent and a referral on a case in assessment; an agency's answers and updates.
CONSENT_BODY = {"given_by": "child", "given_at": "2026-01-01T10:00:00Z", "scope": ["referral"]}
RECORD_CONSENT = Op("operator", "post", "/api/v1/cases/{assessed}/consent/", CONSENT_BODY)
REFER = Op(
    "operator",
    "post",
    "/api/v1/cases/{assessed}/referrals/",
    {
        "agency": "{agency}",
        "service_type": "investigation",
        "urgency": "emergency",
        "reason": "Beaten at home",
        "summary": "Needs protection tonight.",
    },
)
REJECT = Op("agency", "post", "/api/v1/referrals/{referral}/reject/", {"reason": "Not our district"})
WITHDRAW = Op("operator", "post", "/api/v1/referrals/{referral}/withdraw/", {"reason": "Family moved"})
REFERRAL_UPDATE = Op("operator", "post", "/api/v1/referrals/{referral}/updates/", {"body": "She moved."})
ACCEPT = Op("agency", "post", "/api/v1/referrals/{referral}/accept/", {"expected_state": "sent"})
COMPLETE = Op("agency", "post", "/api/v1/referrals/{accepted_referral}/complete/", {"outcome": "child_safe"})
APPROVE = Op(
    "supervisor",
    "post",
    "/api/v1/referrals/{awaiting_referral}/approve/",
    {"expected_state": "awaiting_approval"},
)
RESEND = Op("operator", "post", "/api/v1/referrals/{expired_referral}/resend/", {"agency": "{second_agency}"})
RESTRICT = Op("supervisor", "put", "/api/v1/cases/{case}/access/", {"users": ["{operator}"]})
BREAK_GLASS = Op(
    "supervisor", "post", "/api/v1/cases/{restricted}/break-glass/", {"reason": "Child in danger"}
)
CREATE_AGENCY = Op(
    "admin", "post", "/api/v1/agencies/", {"code": "shelter", "name": "Safe House", "sector": "shelter"}
)
UPDATE_AGENCY = Op("admin", "patch", "/api/v1/agencies/{agency}/", {"name": "Renamed"})
APPROVE_WEBHOOK = Op(
    "supervisor", "post", "/api/v1/agencies/{agency}/webhook/approve/", {"change": "{webhook_change}"}
)

BODY_OPS = [
    LOGIN,
    CREATE_USER,
    UPDATE_USER,
    CREATE_HELPLINE,
    UPDATE_HELPLINE,
    CREATE_CASE,
    UPDATE_CASE,
    TRANSITION,
    ADD_NOTE,
    UPDATE_CONTACT,
    ATTACH,
    CHAT_START,
    CHAT_SEND,
    CALLBACK_DONE,
    FLAG,
    FLAG_NUMBER,
    RECORD_CONSENT,
    REFER,
    REJECT,
    WITHDRAW,
    REFERRAL_UPDATE,
    ACCEPT,
    COMPLETE,
    APPROVE,
    RESEND,
    RESTRICT,
    BREAK_GLASS,
    CREATE_AGENCY,
    UPDATE_AGENCY,
    APPROVE_WEBHOOK,
    TOTP_ENROL,
]
# Operations whose body is walked although their well-formed request is refused here (a set-password
# link's token, an authenticator's code, an SMS sender the world lacks): the body is refused first.
BODY_WALK_ONLY = [SET_PASSWORD, TOTP_CONFIRM, SEND_MESSAGE]
WALKED = BODY_OPS + BODY_WALK_ONLY
OTHER_OPS = [
    Op("operator", "post", "/api/v1/auth/logout/"),
    Op("operator", "get", "/api/v1/auth/me/"),
    Op("operator", "get", "/api/v1/auth/tokens/"),
    Op("admin", "get", "/api/v1/users/"),
    Op("admin", "get", "/api/v1/users/{operator}/"),
    Op("platform_admin", "get", "/api/v1/helplines/"),
    Op("admin", "get", "/api/v1/helplines/{helpline}/"),
    Op("operator", "get", "/api/v1/cases/"),
    Op("operator", "get", "/api/v1/cases/{case}/"),
    Op("operator", "get", "/api/v1/cases/{case}/notes/"),
    Op("supervisor", "get", "/api/v1/cases/{case}/history/"),
    Op("operator", "get", "/api/v1/cases/{case}/messages/"),
    Op("operator", "get", "/api/v1/contacts/"),
    Op("operator", "get", "/api/v1/contacts/{contact}/"),
    Op("supervisor", "get", "/api/v1/escalations/"),
    Op("supervisor", "post", "/api/v1/escalations/{escalation}/acknowledge/"),
    Op("operator", "get", "/api/v1/categories/"),
    Op("child", "get", "/api/v1/chat/sessions/{chat}/messages/"),
    Op("child", "post", "/api/v1/chat/sessions/{chat}/end/"),
    Op("operator", "get", "/api/v1/callbacks/"),
    Op("operator", "get", "/api/v1/contacters/{contacter}/"),
    Op("supervisor", "delete", "/api/v1/contacters/{contacter}/flag/"),
    Op("agency", "get", "/api/v1/referrals/"),
    Op("agency", "get", "/api/v1/referrals/{referral}/"),
    Op("operator", "get", "/api/v1/cases/{assessed}/referrals/"),
    Op("operator", "get", "/api/v1/cases/{assessed}/consent/"),
    Op("operator", "get", "/api/v1/referrals/{referral}/deliveries/"),
]
ALL_OPS = BODY_OPS + OTHER_OPS
ANONYMOUS = ("anon", "child")  # the web chat needs no login: a token is neither asked for nor read
AUTHENTICATED_OPS = [op for op in ALL_OPS if op.who not in ANONYMOUS]


@pytest.fixture
def world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in):
    """A helpline with one case (its contact, an escalation, a callback waiting and one done, a
    sender identifier with a flag), a contact in no case, web chat sessions (open, ended, expired),
    and a second helpline with a callback and a sender to point at across the boundary.
    `world.client(who)` answers 500s as responses."""
    settings.CHAT_RATES = {  # the walk is no flood; test_chat_rate_limit_* sets its own
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }
    platform_admin = factories.AdminFactory(username="root", helpline=None)
    inactive = factories.OperatorFactory(username="gone", helpline=helpline, is_active=False)
    other = factories.HelplineFactory(code="OTHER")
    outsider = factories.OperatorFactory(username="outsider", helpline=other)
    other_agency = factories.AgencyFactory(helpline=other)
    factories.HelplineFactory(code="GONE", is_active=False)
    case = walk_in(risk_level="low")
    assessed = factories.CaseFactory(
        helpline=helpline, team=operator.team, assigned_to=operator, state="assessment", risk_level="medium"
    )
    referral = factories.ReferralFactory(case=assessed, agency=agency_user.agency, created_by=operator)
    Consent.objects.create(
        case=assessed, given_by="child", given_at=timezone.now(), scope=["referral"], recorded_by=operator
    )

    def referral_in(state: str) -> Referral:
        return factories.ReferralFactory(
            case=assessed, agency=agency_user.agency, created_by=operator, state=state
        )

    accepted_referral, awaiting_referral, expired_referral = (
        referral_in("accepted"),
        referral_in("awaiting_approval"),
        referral_in("expired"),
    )
    second_agency = factories.AgencyFactory(helpline=helpline)
    restricted = factories.CaseFactory(helpline=helpline, restricted=True)
    # An administrator's proposal (a name that never resolves: the verification fails fast).
    webhook_change = WebhookChange.objects.create(
        agency=agency_user.agency,
        url="https://hooks.police.invalid/lifeline",
        secret="police-signing-secret",
        proposed_by=admin_user,
    )
    loose_contact = factories.ContactFactory(helpline=helpline, case=None, channel="voice")
    contact = Contact.objects.get(case_id=case["id"])
    escalate_overdue_cases(now=timezone.now() + timedelta(days=30))

    # The inbound channels.
    def callback(case: Case, *, done: bool = False) -> Callback:
        call = factories.ContactFactory(case=case, channel="voice", call_type="")
        made = callback_request(contact=call, reason="no-answer", at=timezone.now())
        return callback_complete(actor=operator, callback=made, outcome="tried") if done else made

    case_row = Case.objects.get(pk=case["id"])
    waiting, done = callback(case_row), callback(case_row, done=True)
    else_case = factories.CaseFactory(helpline=other, state="assessment")
    else_callback = callback(else_case)
    contacter, else_contacter = sender_hash("+254712345678"), sender_hash("+254722000111")
    for helpline_case, hashed in ((case_row, contacter), (else_case, else_contacter)):
        Message.objects.create(
            helpline_id=helpline_case.helpline_id,
            case=helpline_case,
            contact=Contact.objects.filter(case=helpline_case).first()
            or factories.ContactFactory(case=helpline_case, channel="sms"),
            channel="sms",
            direction="inbound",
            sender_hash=hashed,
            body="hello",
            at=timezone.now(),
        )
    ContacterFlag.objects.create(
        helpline=helpline,
        identifier_hash=contacter,
        flag="abusive",
        reason="Insults the counsellors",
        expires_at=timezone.now() + timedelta(days=1),
        set_by=supervisor,
        set_at=timezone.now(),
    )
    open_chat = chat.chat_session_create(helpline_code=helpline.code, language="en")
    chat.chat_message_receive(session=open_chat.session, body="hello?")
    ended_chat = chat.chat_session_create(helpline_code=helpline.code, language="en")
    chat.chat_session_end(session=ended_chat.session)
    expired_chat = chat.chat_session_create(helpline_code=helpline.code, language="en")
    ChatSession.objects.filter(pk=expired_chat.session.pk).update(expires_at=timezone.now())
    secrets = {"child": open_chat.secret, "ended": ended_chat.secret, "expired": expired_chat.secret}

    users = {
        "operator": operator,
        "supervisor": supervisor,
        "admin": admin_user,
        "platform_admin": platform_admin,
        "agency": agency_user,
        "inactive": inactive,
    }
    ids = {
        "helpline": helpline.pk,
        "operator": operator.pk,
        "case": case["id"],
        "assessed": assessed.pk,
        "agency": agency_user.agency_id,
        "second_agency": second_agency.pk,
        "accepted_referral": accepted_referral.pk,
        "awaiting_referral": awaiting_referral.pk,
        "expired_referral": expired_referral.pk,
        "restricted": restricted.pk,
        "webhook_change": webhook_change.pk,
        "referral": referral.pk,
        "contact": contact.pk,
        "loose_contact": loose_contact.pk,
        "escalation": Escalation.objects.get(case_id=case["id"]).pk,
        "outsider": outsider.pk,
        "outsider_team": outsider.team_id,
        "other_agency": other_agency.pk,
        "agency_user": agency_user.pk,
        "callback": waiting.pk,
        "done_callback": done.pk,
        "else_callback": else_callback.pk,
        "contacter": contacter,
        "else_contacter": else_contacter,
        "chat": str(open_chat.session.pk),
        "ended_chat": str(ended_chat.session.pk),
        "expired_chat": str(expired_chat.session.pk),
    }

    def client(who: str):
        """`who` is a user's role, "anon", or a web chat's holder: "child" (the open session's
        secret), "ended" or "expired" (those sessions' secrets)."""
        made = api(None if who in ("anon", *secrets) else users[who])
        if who in secrets:
            made.credentials(HTTP_X_CHAT_SECRET=secrets[who])
        made.raise_request_exception = False  # a crash is a 500 answer to assert on, not a traceback
        return made

    def fill(value):
        if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        if isinstance(value, str) and "{" in value:
            return value.format(**ids)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return SimpleNamespace(client=client, fill=fill, ids=ids, users=users, secrets=secrets)


# --- which operations take a body: the schema says ---------------------------------------------------


PARAMETER = re.compile(r"{\w+}")


@cache
def the_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def schema_operations() -> dict[str, dict]:
    """ "METHOD /path/{}/" -> the operation, from the OpenAPI schema (itself checked against the URL
    table by tests/test_api_schema_describes_every_endpoint.py), so a new route cannot be left out."""
    schema = the_schema()
    return {
        f"{method.upper()} {PARAMETER.sub('{}', path)}": operation
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def route_of(op: Op) -> str:
    return PARAMETER.sub("{}", str(op))


def test_every_operation_that_takes_a_body_gets_the_body_walk():
    with_body = {name for name, operation in schema_operations().items() if "requestBody" in operation}
    assert "POST /api/v1/cases/{}/consent/" in with_body  # the walk found the API
    # FLAG_NUMBER is the flag operation again, its path naming the contacter by number ("-").
    walked = {route_of(op) for op in WALKED if op is not FLAG_NUMBER}
    assert sorted(with_body - walked) == [], "operations taking a body that the walk never sends one to"
    assert sorted(walked - with_body) == [], "walked operations the schema gives no body"


def writable_fields(op: Op) -> dict[str, dict]:
    """The fields of the operation's request body, from its schema: name -> property."""
    schema = the_schema()
    operation = schema_operations()[route_of(op)]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].split("/")[-1]]
    return {name: prop for name, prop in component.get("properties", {}).items() if not prop.get("readOnly")}


def wrong_type(prop: dict) -> Any:
    """A value of the wrong JSON type for a property: a string for a list or an object, an object
    for anything else (a string, a number, a choice, a date, a boolean, an id)."""
    return "wrong type" if prop.get("type") in ("array", "object") else {"wrong": "type"}


# --- the control: every operation accepts its well-formed request ----------------------------------


@pytest.mark.parametrize("op", ALL_OPS, ids=str)
def test_every_operation_accepts_its_well_formed_request(world, op):
    response = send(world.client(op.who), op.method, world.fill(op.path), world.fill(op.body))
    assert response.status_code in (200, 201, 204), (response.status_code, response.content[:1000])


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


# --- fields: missing, wrong types, unknown choices, unknown references --------------------------------

# operation -> [(body, {attr: code} the answer must name, exactly)]
INVALID_FIELDS = {
    LOGIN: [
        ({}, {"username": "required", "password": "required"}),
        ({"username": "operator1"}, {"password": "required"}),
        ({"username": ["operator1"], "password": {"a": 1}}, {"username": "invalid", "password": "invalid"}),
        ({"username": None, "password": PASSWORD}, {"username": "null"}),
        ({"username": "u" * 151, "password": PASSWORD}, {"username": "max_length"}),
    ],
    CREATE_USER: [
        ({}, {"username": "required", "role": "required"}),
        ({**NEW_USER, "username": "new user!"}, {"username": "invalid"}),
        ({**NEW_USER, "username": "operator1"}, {"username": "invalid"}),
        ({**NEW_USER, "role": "god"}, {"role": "invalid_choice"}),
        ({**NEW_USER, "role": 5}, {"role": "invalid_choice"}),
        ({**NEW_USER, "email": "not-an-email"}, {"email": "invalid"}),
        ({**NEW_USER, "team": "x"}, {"team": "incorrect_type"}),
        ({**NEW_USER, "team": 999999}, {"team": "does_not_exist"}),
        # Another helpline's team or agency: as for one that does not exist (issue #13, leak 8b).
        ({**NEW_USER, "team": "{outsider_team}"}, {"team": "does_not_exist"}),
        ({**NEW_USER, "helpline": 999999}, {"helpline": "does_not_exist"}),
        ({**NEW_USER, "agency": 999999}, {"agency": "does_not_exist"}),
        ({**NEW_USER, "role": "agency"}, {"agency": "invalid"}),
        ({**NEW_USER, "role": "agency", "agency": "{other_agency}"}, {"agency": "does_not_exist"}),
    ],
    SET_PASSWORD: [
        ({}, {"token": "required", "password": "required"}),
        ({"token": ["x"], "password": NEW_PASSWORD}, {"token": "invalid"}),
        ({"token": "x" * 129, "password": NEW_PASSWORD}, {"token": "max_length"}),
        ({"token": "x" * 43, "password": NEW_PASSWORD}, {"token": "invalid"}),  # no such link
        ({"token": "x" * 43, "password": None}, {"password": "null"}),
    ],
    TOTP_ENROL: [
        ({}, {"username": "required", "password": "required"}),
        ({"username": None, "password": PASSWORD}, {"username": "null"}),
    ],
    TOTP_CONFIRM: [
        ({"username": "supervisor1", "password": PASSWORD}, {"otp": "required"}),
        ({"username": "supervisor1", "password": PASSWORD, "otp": "12ab56"}, {"otp": "invalid"}),
    ],
    UPDATE_USER: [
        ({"role": "god"}, {"role": "invalid_choice"}),
        ({"role": "agency"}, {"agency": "invalid"}),
        ({"is_active": "sometimes"}, {"is_active": "invalid"}),
        ({"email": "nope"}, {"email": "invalid"}),
        ({"first_name": ["Amina"]}, {"first_name": "invalid"}),
        ({"team": 999999}, {"team": "does_not_exist"}),
        ({"team": "{outsider_team}"}, {"team": "does_not_exist"}),
    ],
    CREATE_HELPLINE: [
        ({}, {"code": "required", "name": "required", "country": "required"}),
        ({**NEW_HELPLINE, "code": "a b"}, {"code": "invalid"}),
        ({**NEW_HELPLINE, "code": "DEMO"}, {"code": "invalid"}),
        ({**NEW_HELPLINE, "country": "UGA"}, {"country": "invalid"}),
        ({**NEW_HELPLINE, "country": 5}, {"country": "invalid"}),
        ({**NEW_HELPLINE, "timezone": "Mars/Olympus"}, {"timezone": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": "fast"}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"closed": {"low": 5}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": {"extreme": 5}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": {"critical": "15"}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": {"critical": True}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": 15}}, {"due_policy": "invalid"}),
    ],
    UPDATE_HELPLINE: [
        ({"name": ""}, {"name": "blank"}),
        ({"country": "K1"}, {"country": "invalid"}),
        ({"timezone": "Africa/Atlantis"}, {"timezone": "invalid"}),
        ({"is_active": "perhaps"}, {"is_active": "invalid"}),
        ({"due_policy": None}, {"due_policy": "null"}),
        ({"due_policy": {"intake": {"critical": 0}}}, {"due_policy": "invalid"}),
    ],
    CREATE_CASE: [
        ({}, {"call_type": "required"}),
        ({"call_type": "martian"}, {"call_type": "invalid_choice"}),
        (
            {**CHILD, "risk_level": 5, "categories": "x", "child_age": "old"},
            {"risk_level": "invalid_choice", "categories": "not_a_list", "child_age": "invalid"},
        ),
        ({**CHILD, "categories": ["no-such-category"]}, {"categories": "invalid"}),
        ({**CHILD, "categories": ["bullying", "Not A Slug"]}, {"categories.1": "invalid"}),
        ({**CHILD, "categories": ["bullying"] * 21}, {"categories": "max_length"}),
        ({**CHILD, "child_age": 26}, {"child_age": "max_value"}),
        ({**CHILD, "child_age": -1}, {"child_age": "min_value"}),
        ({**CHILD, "child_age": 1.5}, {"child_age": "invalid"}),
        ({**CHILD, "channel": "pigeon"}, {"channel": "invalid_choice"}),
        ({**CHILD, "started_at": "yesterday"}, {"started_at": "invalid"}),
        ({**CHILD, "vulnerability_flags": ["homeless-ish"]}, {"vulnerability_flags.0": "invalid_choice"}),
        (
            {**CHILD, "child_gender": "x", "child_age_range": "x", "reporter_relation": "x"},
            {
                "child_gender": "invalid_choice",
                "child_age_range": "invalid_choice",
                "reporter_relation": "invalid_choice",
            },
        ),
        ({**CHILD, "restricted": "maybe"}, {"restricted": "invalid"}),
        ({**CHILD, "summary": "s" * 10001}, {"summary": "max_length"}),
        ({**CHILD, "summary": "a\u0000b"}, {"summary": "null_characters_not_allowed"}),
        ({**CHILD, "assigned_to": 999999}, {"assigned_to": "does_not_exist"}),
        ({**CHILD, "assigned_to": 2**70}, {"assigned_to": "does_not_exist"}),
        # Another helpline's user or team: as for one that does not exist (issue #13, leak 8b).
        ({**CHILD, "assigned_to": "{outsider}"}, {"assigned_to": "does_not_exist"}),
        ({**CHILD, "assigned_to": "{agency_user}"}, {"assigned_to": "invalid"}),
        ({**CHILD, "team": "{outsider_team}"}, {"team": "does_not_exist"}),
    ],
    UPDATE_CASE: [
        ({"risk_level": 5}, {"risk_level": "invalid_choice"}),
        ({"categories": "x"}, {"categories": "not_a_list"}),
        ({"child_age": "old"}, {"child_age": "invalid"}),
        ({"categories": ["bullying", "no-such-category"]}, {"categories": "invalid"}),
        ({"assigned_to": "{outsider}"}, {"assigned_to": "does_not_exist"}),
        ({"team": 999999}, {"team": "does_not_exist"}),
        ({"child_language": "l" * 17}, {"child_language": "max_length"}),
    ],
    TRANSITION: [
        ({}, {"name": "required"}),
        ({"name": "fly"}, {"name": "invalid_choice"}),
        ({"name": 5}, {"name": "invalid_choice"}),
        ({"name": "start_follow_up"}, {"follow_up_due_at": "invalid"}),
        ({"name": "start_follow_up", "follow_up_due_at": "tomorrow"}, {"follow_up_due_at": "invalid"}),
        (
            {"name": "start_follow_up", "follow_up_due_at": "2000-01-01T00:00:00Z"},
            {"follow_up_due_at": "invalid"},
        ),
        (
            {"name": "start_follow_up", "follow_up_due_at": "9999-12-31T23:59:59-12:00"},
            {"follow_up_due_at": "overflow"},
        ),
        ({"name": "close"}, {"reason": "invalid"}),
        ({"name": "close", "reason": ""}, {"reason": "blank"}),
        ({"name": "close", "reason": "r" * 501}, {"reason": "max_length"}),
    ],
    ADD_NOTE: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": "   "}, {"body": "blank"}),
        ({"body": None}, {"body": "null"}),
        ({"body": ["a note"]}, {"body": "invalid"}),
        ({"body": "n" * 20001}, {"body": "max_length"}),
    ],
    SEND_MESSAGE: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": None}, {"body": "null"}),
        ({"body": ["hello"]}, {"body": "invalid"}),
        ({"body": "m" * 1601}, {"body": "max_length"}),
        ({"body": "a\u0000b"}, {"body": "null_characters_not_allowed"}),
    ],
    UPDATE_CONTACT: [
        ({"call_type": "martian"}, {"call_type": "invalid_choice"}),
        ({"ended_at": "later"}, {"ended_at": "invalid"}),
        ({"summary": {"text": "x"}}, {"summary": "invalid"}),
    ],
    ATTACH: [
        ({}, {"case": "required"}),
        ({"case": "abc"}, {"case": "invalid"}),
        ({"case": 0}, {"case": "min_value"}),
        ({"case": None}, {"case": "null"}),
    ],
    CHAT_START: [
        ({}, {"helpline": "required"}),
        ({"helpline": ""}, {"helpline": "blank"}),
        ({"helpline": None}, {"helpline": "null"}),
        ({"helpline": ["DEMO"]}, {"helpline": "invalid"}),
        ({"helpline": {"code": "DEMO"}}, {"helpline": "invalid"}),
        ({"helpline": True}, {"helpline": "invalid"}),
        ({"helpline": "H" * 21}, {"helpline": "max_length"}),
        ({"helpline": "H" * 100_000}, {"helpline": "max_length"}),
        ({"helpline": "DE\u0000MO"}, {"helpline": "null_characters_not_allowed"}),
        ({"helpline": "DEMO", "language": "l" * 17}, {"language": "max_length"}),
        ({"helpline": "DEMO", "language": None}, {"language": "null"}),
        ({"helpline": "DEMO", "language": ["en"]}, {"language": "invalid"}),
        ({"helpline": "DEMO", "language": "e\u0000n"}, {"language": "null_characters_not_allowed"}),
    ],
    CHAT_SEND: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": "   "}, {"body": "blank"}),
        ({"body": None}, {"body": "null"}),
        ({"body": ["hello"]}, {"body": "invalid"}),
        ({"body": {"text": "hello"}}, {"body": "invalid"}),
        ({"body": False}, {"body": "invalid"}),
        ({"body": "m" * 2001}, {"body": "max_length"}),
        ({"body": "a\u0000b"}, {"body": "null_characters_not_allowed"}),
    ],
    CALLBACK_DONE: [
        ({"outcome": None}, {"outcome": "null"}),
        ({"outcome": ["called"]}, {"outcome": "invalid"}),
        ({"outcome": "o" * 2001}, {"outcome": "max_length"}),
        ({"outcome": "a\u0000b"}, {"outcome": "null_characters_not_allowed"}),
    ],
    FLAG: [
        ({}, {"flag": "required", "expires_at": "required", "reason": "required"}),
        ({**FLAG_BODY, "flag": "banned"}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": "BLOCKED"}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": 1}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": ["blocked"]}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": None}, {"flag": "null"}),
        ({**FLAG_BODY, "expires_at": "next week"}, {"expires_at": "invalid"}),
        ({**FLAG_BODY, "expires_at": 1_900_000_000}, {"expires_at": "invalid"}),
        ({**FLAG_BODY, "expires_at": "9999-12-31T23:59:59-12:00"}, {"expires_at": "overflow"}),
        ({**FLAG_BODY, "expires_at": "2000-01-01T00:00:00Z"}, {"expires_at": "invalid"}),
        ({**FLAG_BODY, "reason": ""}, {"reason": "blank"}),
        ({**FLAG_BODY, "reason": "r" * 2001}, {"reason": "max_length"}),
        ({**FLAG_BODY, "reason": "a\u0000b"}, {"reason": "null_characters_not_allowed"}),
        ({**FLAG_BODY, "reason": {"why": "pranks"}}, {"reason": "invalid"}),
        # A hash in the path and a number in the body: one or the other.
        ({**FLAG_BODY, "phone_number": NEVER_SEEN}, {"phone_number": "invalid"}),
    ],
    FLAG_NUMBER: [
        (FLAG_BODY, {"phone_number": "required"}),  # neither a hash nor a number
        ({**FLAG_BODY, "phone_number": ""}, {"phone_number": "blank"}),
        ({**FLAG_BODY, "phone_number": None}, {"phone_number": "null"}),
        ({**FLAG_BODY, "phone_number": "call me maybe"}, {"phone_number": "invalid"}),
        ({**FLAG_BODY, "phone_number": "0733000999"}, {"phone_number": "invalid"}),  # not E.164
        ({**FLAG_BODY, "phone_number": 254733000999}, {"phone_number": "invalid"}),
        ({**FLAG_BODY, "phone_number": [NEVER_SEEN]}, {"phone_number": "invalid"}),
        ({**FLAG_BODY, "phone_number": "+" + "2" * 40}, {"phone_number": "max_length"}),
        ({**FLAG_BODY, "phone_number": "+2547\u0000330"}, {"phone_number": "null_characters_not_allowed"}),
        (
            {**FLAG_BODY, "phone_number": NEVER_SEEN, "flag": "muted"},
            {"flag": "invalid_choice"},
        ),
        (
            {**FLAG_BODY, "phone_number": NEVER_SEEN, "expires_at": "2000-01-01T00:00:00Z"},
            {"expires_at": "invalid"},
        ),
    ],
}
REFERRAL_BODY = REFER.body
INVALID_FIELDS |= {
    RECORD_CONSENT: [
        ({}, {"given_by": "required", "given_at": "required", "scope": "required"}),
        ({**CONSENT_BODY, "given_by": "neighbour"}, {"given_by": "invalid_choice"}),
        ({**CONSENT_BODY, "given_at": "yesterday"}, {"given_at": "invalid"}),
        ({**CONSENT_BODY, "scope": ["publicity"]}, {"scope.0": "invalid_choice"}),
        (
            {**CONSENT_BODY, "scope": ["referral", "referral", "referral", "referral", "referral"]},
            {"scope": "max_length"},
        ),
    ],
    REFER: [
        (
            {},
            {
                "agency": "required",
                "service_type": "required",
                "urgency": "required",
                "reason": "required",
                "summary": "required",
            },
        ),
        ({**REFERRAL_BODY, "agency": 0}, {"agency": "min_value"}),
        ({**REFERRAL_BODY, "agency": 987654}, {"agency": "invalid"}),
        ({**REFERRAL_BODY, "urgency": "whenever"}, {"urgency": "invalid_choice"}),
        ({**REFERRAL_BODY, "service_type": "not a slug"}, {"service_type": "invalid"}),
        ({**REFERRAL_BODY, "reason": ""}, {"reason": "blank"}),
        ({**REFERRAL_BODY, "summary": "s" * 5001}, {"summary": "max_length"}),
        ({**REFERRAL_BODY, "reported_urls": ["not a url"]}, {"reported_urls.0": "invalid"}),
        ({**REFERRAL_BODY, "platform": "p" * 101}, {"platform": "max_length"}),
        ({**REFERRAL_BODY, "override_reason": "o" * 501}, {"override_reason": "max_length"}),
    ],
    REJECT: [
        ({}, {"reason": "required"}),
        ({"reason": ""}, {"reason": "blank"}),
        ({"reason": "r" * 1001}, {"reason": "max_length"}),
        ({"reason": "Not ours", "expected_state": "lost"}, {"expected_state": "invalid_choice"}),
    ],
    WITHDRAW: [
        ({}, {"reason": "required"}),
        ({"reason": None}, {"reason": "null"}),
        ({"reason": "w" * 1001}, {"reason": "max_length"}),
        ({"reason": "Moved", "expected_state": "lost"}, {"expected_state": "invalid_choice"}),
    ],
    REFERRAL_UPDATE: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": "u" * 5001}, {"body": "max_length"}),
    ],
    ACCEPT: [({"expected_state": "lost"}, {"expected_state": "invalid_choice"})],
    APPROVE: [({"expected_state": "lost"}, {"expected_state": "invalid_choice"})],
    COMPLETE: [
        ({}, {"outcome": "required"}),
        ({"outcome": "fine"}, {"outcome": "invalid_choice"}),
        ({"outcome": "child_safe", "outcome_note": "n" * 2001}, {"outcome_note": "max_length"}),
    ],
    RESEND: [
        ({}, {"agency": "required"}),
        ({"agency": 987654}, {"agency": "invalid"}),
        ({"agency": "{second_agency}", "service_type": "not a slug"}, {"service_type": "invalid"}),
    ],
    RESTRICT: [
        ({}, {"users": "required"}),
        ({"users": [987654]}, {"users": "does_not_exist"}),
        ({"users": "{operator}"}, {"users": "not_a_list"}),
    ],
    BREAK_GLASS: [
        ({}, {"reason": "required"}),
        ({"reason": ""}, {"reason": "blank"}),
    ],
    CREATE_AGENCY: [
        ({}, {"code": "required", "name": "required", "sector": "required"}),
        ({**CREATE_AGENCY.body, "sector": "bakery"}, {"sector": "invalid_choice"}),
        ({**CREATE_AGENCY.body, "code": "not a slug"}, {"code": "invalid"}),
        ({**CREATE_AGENCY.body, "notify_email": "nobody"}, {"notify_email": "invalid"}),
        ({**CREATE_AGENCY.body, "webhook_url": "not a url"}, {"webhook_url": "invalid"}),
        ({**CREATE_AGENCY.body, "response_hours": {"urgent": 0}}, {"response_hours.urgent": "min_value"}),
        ({**CREATE_AGENCY.body, "country": "K1"}, {"country": "invalid"}),
    ],
    UPDATE_AGENCY: [
        ({"name": ""}, {"name": "blank"}),
        ({"sector": "bakery"}, {"sector": "invalid_choice"}),
        ({"is_active": "maybe"}, {"is_active": "invalid"}),
        ({"areas_served": "Nairobi"}, {"areas_served": "not_a_list"}),
    ],
    APPROVE_WEBHOOK: [
        ({}, {"change": "required"}),
        ({"change": "first"}, {"change": "invalid"}),
    ],
}


@pytest.mark.parametrize("op", list(INVALID_FIELDS), ids=str)
def test_invalid_field_is_refused_naming_the_field_and_changes_nothing(world, op):
    """Each of the operation's rows in turn (one world per operation, not one per row)."""
    client, before = world.client(op.who), stored()
    for body, expected in INVALID_FIELDS[op]:
        response = send(client, op.method, world.fill(op.path), world.fill(body))
        assert error_pairs(response) == set(expected.items()), (body, response.content[:500])
        assert response.json()["type"] == "validation_error"
    assert_nothing_stored_changed(before)


def test_every_operation_with_a_body_has_rows_of_invalid_fields():
    assert [str(op) for op in WALKED if op not in INVALID_FIELDS] == []


def test_helpline_code_differing_only_in_letter_case_is_refused_as_taken(world):
    # Codes are stored upper-cased, so "demo" is the existing "DEMO".
    client, before = world.client("platform_admin"), stored()
    response = send(client, "post", CREATE_HELPLINE.path, {**NEW_HELPLINE, "code": "demo"})
    assert error_pairs(response) == {("code", "invalid")}
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize(
    ("op", "body"),
    [(CREATE_USER, {**NEW_USER, "password": NEW_PASSWORD}), (UPDATE_USER, {"password": NEW_PASSWORD})],
    ids=["create", "update"],
)
def test_a_password_sent_by_an_administrator_is_refused_naming_the_password_field(world, op, body):
    client, before = world.client(op.who), stored()
    response = send(client, op.method, world.fill(op.path), body)
    assert error_pairs(response) == {("password", "not_allowed")}
    assert_nothing_stored_changed(before)


def test_weak_password_is_refused_naming_the_password_field(world):
    issued = world.client("admin").post(f"/api/v1/users/{world.ids['operator']}/password-link/")
    token = issued.json()["token"]
    before = stored()
    response = send(world.client("anon"), "post", SET_PASSWORD.path, {"token": token, "password": "short"})
    assert {attr for attr, _ in error_pairs(response)} == {"password"}
    assert_nothing_stored_changed(before)


def test_contact_ending_before_it_started_is_refused_naming_ended_at(world):
    client, before = world.client("operator"), stored()
    started = Contact.objects.get(pk=world.ids["contact"]).started_at
    body = {"ended_at": (started - timedelta(hours=1)).isoformat()}
    response = send(client, "patch", world.fill(UPDATE_CONTACT.path), body)
    assert {attr for attr, _ in error_pairs(response)} == {"ended_at"}
    assert_nothing_stored_changed(before)


# --- query parameters --------------------------------------------------------------------------------

INVALID_QUERIES = [
    ("operator", "/api/v1/cases/?state=bogus", "state"),
    ("operator", "/api/v1/cases/?risk_level=extreme", "risk_level"),
    ("operator", "/api/v1/cases/?channel=pigeon", "channel"),
    ("operator", "/api/v1/cases/?created_after=yesterday", "created_after"),
    ("operator", "/api/v1/cases/?due_before=soon", "due_before"),
    ("operator", "/api/v1/cases/?assigned_to=me", "assigned_to"),
    ("operator", "/api/v1/cases/?team=day", "team"),
    ("operator", "/api/v1/cases/?category=a%00b", "category"),
    ("operator", "/api/v1/cases/?unassigned=maybe", "unassigned"),
    ("operator", "/api/v1/cases/?overdue=maybe", "overdue"),
    ("operator", "/api/v1/contacts/?case=abc", "case"),
    ("operator", "/api/v1/contacts/?channel=pigeon", "channel"),
    ("operator", "/api/v1/contacts/?unattached=maybe", "unattached"),
    ("supervisor", "/api/v1/escalations/?acknowledged=maybe", "acknowledged"),
    ("operator", "/api/v1/callbacks/?done=maybe", "done"),
    ("operator", "/api/v1/callbacks/?done=a%00b", "done"),
    ("child", "/api/v1/chat/sessions/{chat}/messages/?after=abc", "after"),
    ("child", "/api/v1/chat/sessions/{chat}/messages/?after=1.5", "after"),
    ("child", "/api/v1/chat/sessions/{chat}/messages/?after=a%00b", "after"),
]


@pytest.mark.parametrize(("who", "url", "attr"), INVALID_QUERIES, ids=[u for _, u, _ in INVALID_QUERIES])
def test_invalid_filter_value_is_refused_naming_the_parameter(world, who, url, attr):
    client, before = world.client(who), stored()
    response = send(client, "get", world.fill(url))
    errors = assert_error(response, 400)
    assert {e["attr"] for e in errors} == {attr}
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("operator", "/api/v1/cases/"),
        ("operator", "/api/v1/contacts/"),
        ("supervisor", "/api/v1/escalations/"),
        ("supervisor", "/api/v1/cases/{case}/history/"),
        ("admin", "/api/v1/users/"),
        ("platform_admin", "/api/v1/helplines/"),
        ("operator", "/api/v1/callbacks/"),
    ],
)
def test_forged_page_cursor_is_not_found(world, who, path):
    client, before = world.client(who), stored()
    response = send(client, "get", world.fill(path) + "?cursor=!!not-a-cursor!!")
    assert_error(response, 404, code="not_found")
    assert_nothing_stored_changed(before, except_read_audit=True)


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
    Op("operator", "patch", "/api/v1/auth/me/"),
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


def test_an_identifier_that_is_no_hash_is_refused_without_recording_it(world):
    """Refusals on a contacter are audited with a prefix of its hash; raw input that is no hash
    (a phone number typed into the URL, a NUL the database would refuse) is not recorded at all."""
    client = world.client("operator")
    for raw in ("+254712345678", "%00abc", "0" * 63 + "%0A"):
        response = send(client, "get", f"/api/v1/contacters/{raw}/")
        assert_error(response, 404, code="not_found")
    denied = AuditEntry.objects.filter(action="contacter.read", outcome=AuditOutcome.DENIED)
    assert list(denied.values_list("object_id", flat=True)) == ["", "", ""]


@pytest.mark.parametrize("op", [op for op in WALKED if op is not FLAG_NUMBER], ids=str)
def test_every_writable_field_refuses_a_value_of_the_wrong_type_and_changes_nothing(world, op):
    """Derived from the schema: each field of the body, one at a time, next to valid values of the
    others, is refused naming that field (also TestInvalidFields's hand-written rows for meaning)."""
    client, before = world.client(op.who), stored()
    accepted = []
    for name, prop in writable_fields(op).items():
        body = {**world.fill(op.body), name: wrong_type(prop)}
        response = send(client, op.method, world.fill(op.path), body)
        named = {(e["attr"] or "").split(".")[0] for e in assert_error(response, response.status_code)}
        if response.status_code != 400 or name not in named:
            accepted.append(f"{name}: {response.status_code} {response.content[:300]}")
    assert not accepted, "\n".join(accepted)
    assert_nothing_stored_changed(before)
