"""What the bad-input tests share (tests/test_*_are_rejected_cleanly.py, test_bad_input_*): the
one error shape, the snapshot of everything stored, the operations with a caller allowed each and a
body it accepts, the world they act on, and which operations take a body (from the schema)."""

import random
import re
from datetime import timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.generators import SchemaGenerator
from knox.models import AuthToken

from cases.models import Case, CaseAccess, CaseLink, CaseReferenceCounter, Category, Contact, Escalation, Note
from cases.services import escalate_overdue_cases
from channels_sms import chat
from channels_sms.models import (
    Callback,
    CannedReply,
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
from notifications.models import Notification, OnCallShift
from notifications.models import Preference as NotificationPreference
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
    CannedReply,
    ContacterFlag,
    FlaggedContact,
    SetPasswordLink,
    TOTPDevice,
    CaseAccess,
    CaseLink,
    WebhookChange,
    Notification,
    NotificationPreference,
    OnCallShift,
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
OWN_LANGUAGE = Op("operator", "patch", "/api/v1/auth/me/", {"language": "es"})
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
# An export of the helpline's cases (reports.exports): a supervisor asks, the worker writes it.
EXPORT = Op(
    "supervisor",
    "post",
    "/api/v1/exports/",
    {"dataset": "cases", "file_format": "csv", "date_from": "2026-11-01", "date_to": "2026-11-30"},
)
# Canned replies (no braces in the body: `fill` would read them as the world's ids).
CREATE_CANNED = Op(
    "supervisor",
    "post",
    "/api/v1/canned-replies/",
    {"language": "en", "title": "Hello", "body": "Hello there."},
)
UPDATE_CANNED = Op("supervisor", "patch", "/api/v1/canned-replies/{canned}/", {"title": "Renamed"})
CREATE_TEAM = Op("admin", "post", "/api/v1/teams/", {"name": "Evening"})
UPDATE_TEAM = Op("admin", "patch", "/api/v1/teams/{team}/", {"name": "Renamed"})
TRANSFER = Op(
    "operator", "post", "/api/v1/cases/{case}/transfer/", {"to_user": "{supervisor}", "note": "Over to you."}
)
APPROVE_WEBHOOK = Op(
    "supervisor", "post", "/api/v1/agencies/{agency}/webhook/approve/", {"change": "{webhook_change}"}
)
# Notifications: the caller's own preferences; the helpline's on-call rota (supervisors).
PREFERENCES = Op(
    "operator",
    "put",
    "/api/v1/notifications/preferences/",
    {"channels": {"critical_case": ["sms"], "emergency_referral": ["sms"]}, "sms_number": "+254700000111"},
)
ON_CALL = Op(
    "supervisor",
    "put",
    "/api/v1/notifications/on-call/",
    {"shifts": [{"user": "{operator}", "weekdays": [6, 7], "starts": "18:00", "ends": "08:00"}]},
)
# The channels the helpline requires per kind (administrators).
REQUIREMENTS = Op(
    "admin",
    "put",
    "/api/v1/notifications/requirements/",
    {"requirements": {"overdue": "email", "critical_case": "email_or_sms"}},
)

# Cases linked or merged (the case in the path and another of the helpline).
LINK = Op("operator", "post", "/api/v1/cases/{case}/links/", {"case": "{sibling}", "kind": "sibling"})
MERGE = Op(
    "supervisor", "post", "/api/v1/cases/{case}/merge/", {"into": "{sibling}", "reason": "Same child."}
)
# The helpline's numbers and how its voice numbers answer (administrators).
CREATE_NUMBER = Op("admin", "post", "/api/v1/phone-numbers/", {"channel": "sms", "number": "+254700000123"})
UPDATE_NUMBER = Op("admin", "patch", "/api/v1/phone-numbers/{sms_number}/", {"acknowledgement": "Thank you."})
CREATE_VOICE_ROUTE = Op(
    "admin", "post", "/api/v1/voice-routes/", {"number": "{voice_number}", "greeting": "Hello."}
)
UPDATE_VOICE_ROUTE = Op("admin", "patch", "/api/v1/voice-routes/{voice_route}/", {"emergency_digit": "8"})

BODY_OPS = [
    LOGIN,
    CREATE_USER,
    UPDATE_USER,
    OWN_LANGUAGE,
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
    CREATE_CANNED,
    UPDATE_CANNED,
    TOTP_ENROL,
    PREFERENCES,
    ON_CALL,
    REQUIREMENTS,
    CREATE_TEAM,
    UPDATE_TEAM,
    TRANSFER,
    LINK,
    MERGE,
    CREATE_NUMBER,
    UPDATE_NUMBER,
    CREATE_VOICE_ROUTE,
    UPDATE_VOICE_ROUTE,
    EXPORT,
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
    Op("operator", "get", "/api/v1/notifications/"),
    Op("operator", "get", "/api/v1/notifications/unread-count/"),
    Op("operator", "post", "/api/v1/notifications/{notification}/read/"),
    Op("operator", "post", "/api/v1/notifications/read-all/"),
    Op("operator", "get", "/api/v1/notifications/stream/"),
    Op("operator", "get", "/api/v1/notifications/preferences/"),
    Op("operator", "get", "/api/v1/notifications/on-call/"),
    Op("operator", "get", "/api/v1/notifications/requirements/"),
    Op("operator", "get", "/api/v1/canned-replies/"),
    Op("operator", "get", "/api/v1/canned-replies/{canned}/"),
    Op("operator", "get", "/api/v1/teams/"),
    Op("supervisor", "get", "/api/v1/teams/{team}/"),
    Op("operator", "get", "/api/v1/cases/{case}/links/"),
    Op("supervisor", "delete", "/api/v1/case-links/{case_link}/"),
    Op("admin", "get", "/api/v1/phone-numbers/"),
    Op("admin", "get", "/api/v1/phone-numbers/{sms_number}/"),
    Op("admin", "delete", "/api/v1/phone-numbers/{sms_number}/"),
    Op("admin", "get", "/api/v1/voice-routes/"),
    Op("admin", "get", "/api/v1/voice-routes/{voice_route}/"),
    Op("admin", "delete", "/api/v1/voice-routes/{voice_route}/"),
]
ALL_OPS = BODY_OPS + OTHER_OPS
ANONYMOUS = ("anon", "child")  # the web chat needs no login: a token is neither asked for nor read
AUTHENTICATED_OPS = [op for op in ALL_OPS if op.who not in ANONYMOUS]


def build_world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in):
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
    referral = factories.ReferralFactory(
        case=assessed, agency=agency_user.agency_membership.agency, created_by=operator
    )
    Consent.objects.create(
        case=assessed, given_by="child", given_at=timezone.now(), scope=["referral"], recorded_by=operator
    )

    def referral_in(state: str) -> Referral:
        return factories.ReferralFactory(
            case=assessed, agency=agency_user.agency_membership.agency, created_by=operator, state=state
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
        agency=agency_user.agency_membership.agency,
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
    canned = CannedReply.objects.create(
        helpline=helpline, language="en", title="Safe?", body="Are you safe?", created_by=supervisor
    )
    sibling = factories.CaseFactory(helpline=helpline, team=operator.team, state="intake")
    linked = factories.CaseFactory(helpline=helpline, team=operator.team, state="intake")
    case_link = CaseLink.objects.create(
        helpline=helpline, case_low=case_row, case_high=linked, kind="same_family", created_by=supervisor
    )
    sms_number = PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+254700000120")
    voice_number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+254700000121")
    routed = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+254700000122")
    voice_route = VoiceRoute.objects.create(number=routed, dial_numbers="+254700000130")

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
        "supervisor": supervisor.pk,
        "inactive_user": inactive.pk,
        "team": operator.team_id,
        "retired_team": factories.TeamFactory(helpline=helpline, name="Old team", is_active=False).pk,
        "case": case["id"],
        "assessed": assessed.pk,
        "agency": agency_user.agency_membership.agency_id,
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
        "notification": Notification.objects.create(
            user=operator, helpline=helpline, kind="case_transferred", case_id=case["id"], reference="x"
        ).pk,
        "canned": canned.pk,
        "sibling": sibling.pk,
        "case_link": case_link.pk,
        "sms_number": sms_number.pk,
        "voice_number": voice_number.pk,
        "voice_route": voice_route.pk,
        "other_helpline": other.pk,
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
