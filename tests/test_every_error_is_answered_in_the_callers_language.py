"""Every error the API answers is told in the caller's language (issue #16): each refusal of the
bad-input walk (every invalid-field row of every operation with a body, malformed, non-object,
oversized and unknown bodies and parameters, and the refusals of signing in, permissions, unknown
ids, methods, conflicts and throttling) is sent in English, Spanish and Mongolian; the `code`s and
`attr`s are the same in all three, and each `detail` is translated (Spanish differs from English,
Mongolian is written in Cyrillic). The walk covers every error code the OpenAPI document names."""

import json
import re

import pytest
from django.utils import timezone, translation
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.generators import SchemaGenerator

from cases.services import grant_need_to_know
from channels_sms.models import CannedReply, ChatSession
from helpline import services
from helpline.api.errors import server_error, service_unavailable
from helpline.models import SetPasswordLink
from referrals.models import Referral
from referrals.packets import packet_warnings

from . import factories
from .bad_input import DATA_UPLOAD_MAX_MEMORY_SIZE, ERROR_TYPES, build_world, send
from .test_invalid_fields_are_rejected_cleanly import INVALID_FIELDS

pytestmark = pytest.mark.django_db

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
LANGUAGES = ("es", "mn")


@pytest.fixture
def world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in):
    return build_world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in)


def _errors(response) -> list[dict]:
    assert 400 <= response.status_code < 600, (response.status_code, response.content[:300])
    body = response.json()
    assert body["type"] in ERROR_TYPES, body
    return body["errors"]


def told_in_every_language(request) -> set[str]:
    """Sends `request(headers)` in English, then in each of our other languages; checks the
    answers agree but for their translated details; returns the codes answered."""
    english = request(HTTP_ACCEPT_LANGUAGE="en")
    expected = _errors(english)
    for language in LANGUAGES:
        answer = request(HTTP_ACCEPT_LANGUAGE=language)
        assert answer.status_code == english.status_code, (language, answer.content[:300])
        assert answer["Content-Language"] == language
        errors = _errors(answer)
        assert [(e["attr"], e["code"]) for e in errors] == [(e["attr"], e["code"]) for e in expected]
        for ours, theirs in zip(errors, expected, strict=True):
            if language == "mn":
                assert CYRILLIC.search(ours["detail"]), (theirs, ours)
            else:
                assert ours["detail"] != theirs["detail"], (language, theirs)
    return {e["code"] for e in expected}


@pytest.mark.parametrize("op", list(INVALID_FIELDS), ids=str)
def test_every_invalid_field_is_refused_in_the_callers_language(world, op):
    client = world.client(op.who)
    for body, expected in INVALID_FIELDS[op]:
        path, data = world.fill(op.path), world.fill(body)
        answered = told_in_every_language(lambda **headers: send(client, op.method, path, data, **headers))  # noqa: B023
        assert answered == set(expected.values()), (op, body)


# Input refused before any field is read, with the codes each answers. Requests by an operator.
MALFORMED = [
    ("post", "/api/v1/cases/", {"raw": "{not json"}, {"parse_error"}),
    ("post", "/api/v1/cases/", {"raw": "[1, 2]"}, {"invalid"}),
    ("post", "/api/v1/cases/", {"raw": "a=b", "content_type": "text/plain"}, {"unsupported_media_type"}),
    ("post", "/api/v1/cases/", {"raw": "x" * (DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}, {"payload_too_large"}),
    ("post", "/api/v1/cases/", {"body": {"call_type": "child", "risk": "high"}}, {"unknown_field"}),
    ("get", "/api/v1/cases/?search=x", {}, {"unknown_parameter"}),
    ("get", "/api/v1/cases/?ordering=nonsense", {}, {"invalid"}),
    ("get", "/api/v1/cases/?page_size=0", {}, {"invalid"}),
    ("get", "/api/v1/cases/?cursor=forged", {}, {"not_found"}),
]


@pytest.mark.parametrize(("method", "path", "how", "codes"), MALFORMED, ids=lambda v: str(v)[:40])
def test_malformed_unknown_and_oversized_input_is_refused_in_the_callers_language(
    world, method, path, how, codes
):
    client = world.client("operator")
    assert told_in_every_language(lambda **headers: send(client, method, path, **how, **headers)) == codes


# Refusals of who the caller is and of the case's state: (who, method, path, body, codes).
ACCESS = [
    ("anon", "get", "/api/v1/cases/", None, {"not_authenticated"}),
    ("forged token", "get", "/api/v1/cases/", None, {"authentication_failed"}),
    (
        "anon",
        "post",
        "/api/v1/auth/token/",
        {"username": "operator1", "password": "no"},
        {"authentication_failed"},
    ),
    ("agency", "post", "/api/v1/cases/", {"call_type": "child"}, {"permission_denied"}),
    ("operator", "get", "/api/v1/cases/999999/", None, {"not_found"}),
    ("operator", "put", "/api/v1/cases/{case}/", {}, {"method_not_allowed"}),
    ("operator", "post", "/api/v1/cases/{case}/transitions/", {"name": "refer"}, {"transition_not_allowed"}),
]


@pytest.mark.parametrize(("who", "method", "path", "body", "codes"), ACCESS, ids=lambda v: str(v)[:40])
def test_refusals_of_access_and_state_are_told_in_the_callers_language(
    world, api, who, method, path, body, codes
):
    if who == "forged token":
        client = api()
        client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    else:
        client = api() if who == "anon" else world.client(who)
    path, body = world.fill(path), world.fill(body)
    assert told_in_every_language(lambda **headers: send(client, method, path, body, **headers)) == codes


def documented_codes() -> set[str]:
    """Every error `code` the OpenAPI document names (the enums of its error components)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    codes: set[str] = set()

    def enum(node: dict) -> list[str]:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        found = list(node.get("enum", []))
        for option in node.get("oneOf", []) + node.get("allOf", []) + node.get("anyOf", []):
            found += enum(option)
        return found

    def walk(node):
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict) and {"code", "detail"} <= set(properties):
                codes.update(enum(properties["code"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema.get("components", {}))
    return codes


# Documented by DRF's fields for input JSON cannot carry: a date object (DateTimeField's "date"), a
# datetime object (DateField's "datetime"), and a naive time that does not exist in the server's
# zone ("make_aware"; TIME_ZONE is UTC).
UNANSWERABLE = {"date", "datetime", "make_aware"}
# Answered by the tests above outside the walk's tables.
ELSEWHERE = {
    "otp_not_configured", "otp_required", "otp_invalid", "otp_not_required", "locked_out", "throttled",
    "used", "revoked", "expired", "not_acceptable", "already_assigned", "not_on_need_to_know", "restricted",
    "wrong_language",
    "surrogate_characters_not_allowed", "error", "service_unavailable", "packet_not_actionable",
}  # fmt: skip


def test_the_walk_answers_every_documented_error_code(db):
    walked = {
        code for rows in INVALID_FIELDS.values() for _body, expected in rows for code in expected.values()
    }
    walked |= {code for *_request, codes in MALFORMED + ACCESS + SITUATIONS for code in codes}
    walked |= UNANSWERABLE | ELSEWHERE
    documented = documented_codes()
    assert len(documented) > 40  # the walk of the document found its errors
    assert sorted(documented - walked) == []


# --- refusals that need their own situation ------------------------------------------------------------

SIGN_IN = "/api/v1/auth/token/"
PASSWORD = factories.PASSWORD


def test_second_factor_refusals_are_in_the_callers_language(world, api, supervisor, operator):
    client = api()
    told = told_in_every_language  # each answer refused: nothing signs in

    def sign_in(who, otp=None):
        body = {"username": who.username, "password": PASSWORD, **({"otp": otp} if otp is not None else {})}
        return lambda **headers: send(client, "post", SIGN_IN, body, **headers)

    assert told(sign_in(supervisor)) == {"otp_not_configured"}
    TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)
    assert told(sign_in(supervisor)) == {"otp_required"}
    assert told(sign_in(supervisor, "000000")) == {"otp_invalid"}
    enrol = {"username": operator.username, "password": PASSWORD}
    assert told(lambda **h: send(client, "post", "/api/v1/auth/totp/", enrol, **h)) == {"otp_not_required"}


def test_a_locked_out_and_a_throttled_caller_are_told_in_their_language(world, api, settings, operator):
    client = api()
    wrong = {"username": operator.username, "password": "not-the-password"}
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        send(client, "post", SIGN_IN, wrong)
    assert told_in_every_language(lambda **h: send(client, "post", SIGN_IN, wrong, **h)) == {"locked_out"}

    settings.CHAT_RATES = {**settings.CHAT_RATES, "chat_session_create": "1/min"}
    start = {"helpline": "DEMO"}
    send(client, "post", "/api/v1/chat/sessions/", start, REMOTE_ADDR="10.9.9.9")
    assert told_in_every_language(
        lambda **h: send(client, "post", "/api/v1/chat/sessions/", start, REMOTE_ADDR="10.9.9.9", **h)
    ) == {"throttled"}


def test_refused_set_password_links_are_in_the_callers_language(world, api, admin_user, operator):
    client = api()

    def set_with(token):
        body = {"token": token, "password": "Their-own-passphrase-42"}
        return lambda **headers: send(client, "post", "/api/v1/auth/password/", body, **headers)

    used = services.user_password_link_issue(actor=admin_user, user=operator)
    services.password_set_with_link(token=used.token, password="Their-own-passphrase-42")
    assert told_in_every_language(set_with(used.token)) == {"used"}
    revoked = services.user_password_link_issue(actor=admin_user, user=operator)
    services.user_password_link_issue(actor=admin_user, user=operator)
    assert told_in_every_language(set_with(revoked.token)) == {"revoked"}
    expired = services.user_password_link_issue(actor=admin_user, user=operator)
    SetPasswordLink.objects.filter(user=operator, used_at=None, revoked_at=None).update(
        expires_at=timezone.now()
    )
    assert told_in_every_language(set_with(expired.token)) == {"expired"}


# Refusals of a handover, a number's language, the chat's hours and DRF's own fields.
SITUATIONS = [
    ("admin", "post", "/api/v1/phone-numbers/", {"channel": "sms", "number": "+15005550009",
                                                 "language": "mn"}, {"not_spoken"}),
    ("admin", "patch", "/api/v1/helplines/{helpline}/", {"opening_hours": []}, {"empty"}),
    ("operator", "patch", "/api/v1/cases/{case}/", {"child_age": "1" * 1001}, {"max_string_length"}),
    # A report's period and groups (reports.api.serializers).
    ("supervisor", "get", "/api/v1/reports/contacts/?date_from=2026-11-30&date_to=2026-11-01", None,
     {"period_reversed"}),
    ("supervisor", "get", "/api/v1/reports/contacts/?date_from=2000-01-01&date_to=2026-11-30", None,
     {"period_too_long"}),
    ("supervisor", "get", "/api/v1/reports/contacts/?date_from=2026-11-01&date_to=2026-11-30&by=day&by=day",
     None, {"duplicate"}),
    ("supervisor", "get", "/api/v1/reports/chi/?year=9999", None, {"year_in_future"}),
    ("supervisor", "get", "/api/v1/reports/cases/?date_from=2026-11-30&date_to=2026-11-01", None,
     {"period_reversed"}),
    # An export (reports.api.export_serializers): a full one needs a reason.
    ("supervisor", "post", "/api/v1/exports/", {"dataset": "cases", "file_format": "csv", "mode": "full",
                                                "date_from": "2026-11-01", "date_to": "2026-11-30"},
     {"reason_required"}),
]  # fmt: skip


@pytest.mark.parametrize(("who", "method", "path", "body", "codes"), SITUATIONS, ids=lambda v: str(v)[:40])
def test_refusals_in_their_situation_are_in_the_callers_language(world, who, method, path, body, codes):
    client = world.client(who)
    path, body = world.fill(path), world.fill(body)
    assert told_in_every_language(lambda **headers: send(client, method, path, body, **headers)) == codes


def test_an_answer_in_a_format_we_do_not_write_is_refused_in_the_callers_language(world):
    client = world.client("operator")
    request = lambda **h: send(client, "get", "/api/v1/cases/", HTTP_ACCEPT="application/xml", **h)  # noqa: E731
    assert told_in_every_language(request) == {"not_acceptable"}


def test_handover_and_canned_reply_refusals_are_in_the_callers_language(
    world, helpline, operator, supervisor
):
    restricted = factories.CaseFactory(
        helpline=helpline, restricted=True, assigned_to=operator, team=operator.team
    )
    grant_need_to_know(case=restricted, users=[operator, supervisor], granted_by=supervisor)
    colleague = factories.OperatorFactory(username="colleague", helpline=helpline, team=operator.team)
    by_operator, by_supervisor = world.client("operator"), world.client("supervisor")
    mine = factories.CaseFactory(helpline=helpline, assigned_to=operator, team=operator.team)
    url = f"/api/v1/cases/{mine.pk}/transfer/"
    assert told_in_every_language(
        lambda **h: send(by_operator, "post", url, {"to_user": operator.pk, "note": "Mine."}, **h)
    ) == {"already_assigned"}
    url = f"/api/v1/cases/{restricted.pk}/transfer/"
    assert told_in_every_language(
        lambda **h: send(by_operator, "post", url, {"to_user": colleague.pk, "note": "Over."}, **h)
    ) == {"not_on_need_to_know"}
    assert told_in_every_language(
        lambda **h: send(by_supervisor, "post", url, {"to_team": operator.team_id, "note": "Over."}, **h)
    ) == {"restricted"}
    spanish = CannedReply.objects.create(
        helpline=helpline, language="es", title="¿Estás bien?", body="¿Estás a salvo?", created_by=supervisor
    )
    chatting = ChatSession.objects.exclude(contact=None).select_related("contact").get()  # in English
    messages = f"/api/v1/cases/{chatting.contact.case_id}/messages/"
    assert told_in_every_language(
        lambda **h: send(by_operator, "post", messages, {"canned_reply": spanish.pk}, **h)
    ) == {"wrong_language"}


def test_a_surrogate_character_is_refused_in_the_callers_language(world):
    client, path = world.client("operator"), world.fill("/api/v1/cases/{case}/notes/")
    raw = '{"body": "\\ud800"}'
    assert told_in_every_language(lambda **h: send(client, "post", path, raw=raw, **h)) == {
        "surrogate_characters_not_allowed"
    }


def test_server_side_failures_are_told_in_the_callers_language(rf):
    """A 500 and a 503 cannot be caused by a request that is not broken on purpose: their answers
    are rendered as the handlers write them."""
    for language in LANGUAGES:
        with translation.override("en"):
            english = (
                json.loads(server_error(rf.get("/")).content),
                json.loads(service_unavailable().content),
            )
        with translation.override(language):
            ours = (json.loads(server_error(rf.get("/")).content), json.loads(service_unavailable().content))
        for theirs, mine in zip(english, ours, strict=True):
            assert mine["errors"][0]["code"] == theirs["errors"][0]["code"]
            assert mine["errors"][0]["detail"] != theirs["errors"][0]["detail"]


def test_a_packet_warning_is_in_the_readers_language(world):
    """The warning a referral's answer carries when its packet leaves the agency nothing to act on."""
    referral = Referral.objects.select_related("agency").get(pk=world.fill("{referral}"))
    warnings = {}
    for language in ("en", *LANGUAGES):
        with translation.override(language):
            warnings[language] = packet_warnings(referral, {})
    assert [w["code"] for w in warnings["en"]] == ["packet_not_actionable"]
    assert (
        [w["code"] for w in warnings["es"]]
        == [w["code"] for w in warnings["mn"]]
        == ["packet_not_actionable"]
    )
    assert warnings["es"][0]["detail"] != warnings["en"][0]["detail"]
    assert CYRILLIC.search(warnings["mn"][0]["detail"])
