"""The API answers as its own OpenAPI schema says, whatever it is sent and whoever sends it.

schemathesis reads /api/schema/ and sends every operation requests in-process through Django's WSGI
handler (no server), once per kind of caller: anonymous, operator, supervisor, agency user,
administrator, platform administrator (an administrator of no helpline; each with an API token,
administrators' second factor is asked at sign-in only).
No answer may be a 5xx; every answer must have a documented status code, the documented content
type and a body matching the documented schema; invalid input must be refused with a 4xx; a secured
operation must refuse a request without a token or with a wrong one (401); an undocumented method
answers 405 with an Allow header.

Generated ids mostly hit real objects: a path id (and an id or helpline code in a valid body) is
replaced by one of the world's objects unless the generated value is MISS - 1 modulo MISS, so the
fuzzer reaches the views' logic on objects in and out of the caller's scope, not only the 404 of an
unknown id. A second test follows the schema's OpenAPI links (open a case, act on it, refer it, the
agency's answers; a web chat) as schemathesis' state machine.

FUZZ_EXAMPLES (default 8) is each operation's number of fuzzed examples per caller, on top of the
schema's examples and schemathesis' coverage cases (boundaries, wrong types, missing fields); the
workflow test runs 3 x FUZZ_EXAMPLES scenarios of up to STEPS requests. FUZZ_SEED: see _seed().
`make fuzz` runs many more examples with a fresh seed; the seed and request counts are printed at
the end of the run."""

import os
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck
from knox.models import AuthToken
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.mutations import OperatorKind
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoverageScenario
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import negative_data_rejection

from cases.models import CaseAccess, Escalation
from channels_sms.chat import chat_session_create
from channels_sms.voice import callback_request
from helpline.services import token_id
from referrals.models import Consent

from . import factories

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))


def _seed() -> int | None:
    """FUZZ_SEED unset: derandomized, the same examples every run; "random": a fresh seed (printed at
    the end); a number: that seed, to replay a run."""
    value = os.environ.get("FUZZ_SEED", "")
    if not value:
        return None
    return random.randrange(2**32) if value == "random" else int(value)


SEED = _seed()
MISS = 5  # one generated id in MISS keeps its own (mostly unknown) value
ANON, OPERATOR, SUPERVISOR, AGENCY, ADMIN = "anonymous", "operator", "supervisor", "agency user", "admin"
PLATFORM_ADMIN = "platform admin"  # an administrator of no helpline: across helplines, no case content
ROLES = (ANON, OPERATOR, SUPERVISOR, AGENCY, ADMIN, PLATFORM_ADMIN)

STEPS = 8  # requests in one scenario of the stateful test
# What each caller's workflow must get to: an object named by an earlier answer, found (not 404).
REACHED = {ANON: "{session_id}", OPERATOR: "{case_id}", SUPERVISOR: "{case_id}", AGENCY: "{referral_id}"}
# The operations a case, its referrals and a chat go through (linked in the schema: helpline.api.schema).
WORKFLOW = [
    *("cases_create", "cases_list", "cases_retrieve", "cases_partial_update", "cases_transition"),
    *("cases_notes_create", "cases_consent_record", "cases_referrals_create", "cases_referrals_list"),
    *("referrals_list", "referrals_retrieve", "referrals_accept", "referrals_reject", "referrals_withdraw"),
    *("referrals_complete", "referrals_updates_create", "referrals_approve", "referrals_resend"),
    *("chat_sessions_create", "chat_sessions_messages_send", "chat_sessions_messages_list"),
    "chat_sessions_end",
]
# An anonymous caller can only chat: every other operation answers 401 at its first step (checked
# by the each-operation test), so its state machine walks the chat's links only. Left among all of
# them, it reached a linked chat step in about one request of 180, by the draw of the derandomized
# exploration: a change anywhere in the schema could take that one away.
CHAT_WORKFLOW = [operation for operation in WORKFLOW if operation.startswith("chat_")]
# Likewise an agency user sees no case (every case operation answers 403 or 404 to them, checked by
# the each-operation test): their state machine walks the referrals' links only. Among all of them it
# lost its one linked referral step when the schema gained a header parameter (issue #16).
AGENCY_WORKFLOW = [operation for operation in WORKFLOW if operation.startswith("referrals_")]

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
]
SCALARS = {"string", "integer", "number", "boolean"}


def only_scalars_of_another_type(case) -> bool:
    """The request is invalid only by a scalar of another JSON type in its body: what DRF's fields
    convert on purpose (a number where text is expected, "12" or 12.0 for a whole number, "true" or 1
    for a yes/no). Its fields refuse every other type (null, lists, objects where they expect a scalar,
    true/false where they expect text or numbers)."""
    data = case.meta.phase.data if case.meta else None
    if data is None or data.parameter_location != ParameterLocation.BODY:
        return False
    mutations = getattr(data, "mutations", ())
    if mutations:
        return all(
            mutation.operator == OperatorKind.CHANGE_TYPE
            and mutation.parameter_location == ParameterLocation.BODY
            and set(_as_list(mutation.new_value)) <= SCALARS
            for mutation in mutations
        )
    if getattr(data, "scenario", None) != CoverageScenario.INCORRECT_TYPE:
        return False
    # The location points into the schema: /properties/<name>/.../type.
    keywords = str(data.location or "").split("/")[1:]
    if keywords[-1:] != ["type"] or len(keywords) % 2 != 1:
        return False
    value = case.body
    for keyword, name in zip(keywords[:-1:2], keywords[1:-1:2], strict=True):
        if keyword != "properties" or not isinstance(value, dict):
            return False
        value = value.get(name)
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def invalid_input_is_refused(ctx, response, case):
    """schemathesis' negative_data_rejection, less DRF's deliberate conversions of scalars."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if only_scalars_of_another_type(case):
            return None
        raise


def make_case(helpline, reference: str, **fields):
    return factories.CaseFactory(helpline=helpline, reference=reference, **fields)


class World:
    """Helpline DEMO with objects of every kind, in every state the workflows care about, and helpline
    ELSE with a few of its own (out of every caller's scope but the platform administrator's)."""

    def __init__(self, helpline, team, operator, supervisor, admin_user, agency_user, platform_admin):
        self.users = {
            OPERATOR: operator,
            SUPERVISOR: supervisor,
            AGENCY: agency_user,
            ADMIN: admin_user,
            PLATFORM_ADMIN: platform_admin,
        }
        for user in (supervisor, admin_user, platform_admin):
            TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        night = factories.TeamFactory(helpline=helpline, name="Night shift")
        night_operator = factories.OperatorFactory(username="night1", helpline=helpline, team=night)
        supervisor2 = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
        elsewhere = factories.HelplineFactory(code="ELSE")
        else_team = factories.TeamFactory(helpline=elsewhere, name="Elsewhere")
        else_operator = factories.OperatorFactory(
            username="else-operator", helpline=elsewhere, team=else_team
        )
        agency = agency_user.agency_membership.agency
        other_agency = factories.AgencyFactory(helpline=helpline, code="health", sector="health")
        else_agency = factories.AgencyFactory(helpline=elsewhere, code="police2")

        case = make_case(helpline, "CASE-IN", team=team, risk_level="low")
        high_risk = make_case(helpline, "CASE-HIGH", team=team, state="assessment", risk_level="high")
        closed = make_case(
            helpline,
            "CASE-CLOSED",
            team=team,
            state="closed",
            closed_at=timezone.now(),
            closure_reason="Safe",
        )
        restricted = make_case(helpline, "CASE-RESTRICTED", team=team, state="assessment", restricted=True)
        CaseAccess.objects.create(
            case=restricted, user=night_operator, kind="need_to_know", granted_by=supervisor2
        )
        other_team = make_case(
            helpline, "CASE-NIGHT", team=night, state="assessment", assigned_to=night_operator
        )
        referred = make_case(helpline, "CASE-REFERRED", team=team, state="referral", risk_level="medium")
        Consent.objects.create(
            case=referred, given_by="child", given_at=timezone.now(), scope=["referral"], recorded_by=operator
        )
        contacter = "c" * 64
        make_case(helpline, "CASE-CONTACTER", team=team, reporter_phone_hash=contacter)
        else_case = make_case(elsewhere, "CASE-ELSE", team=else_team)

        contact = factories.ContactFactory(case=case, summary="In a case")
        loose = factories.ContactFactory(helpline=helpline, case=None, summary="In no case yet")
        escalation = Escalation.objects.create(
            case=case,
            helpline_id=helpline.pk,
            team=team,
            due_at=timezone.now() - timedelta(minutes=5),
            state=case.state,
            risk_level=case.risk_level,
        )
        grant = CaseAccess.objects.create(
            case=restricted,
            user=supervisor2,
            kind="break_glass",
            reason="Child in danger",
            granted_by=supervisor2,
            expires_at=timezone.now() + timedelta(hours=1),
        )

        def referral(case, agency, state="sent"):
            return factories.ReferralFactory(case=case, agency=agency, created_by=operator, state=state)

        referrals = [
            referral(referred, agency),
            referral(referred, agency, "accepted"),
            referral(referred, agency, "awaiting_approval"),
            referral(referred, agency, "expired"),
            referral(referred, other_agency),
            referral(else_case, else_agency),
        ]
        chat = chat_session_create(helpline_code="DEMO", language="en")
        self.chat_secret = chat.secret
        # A spare token of each caller's (revoking the one a request is signed with would sign the
        # caller out for the rest of the run).
        spare_tokens = [AuthToken.objects.create(user=user)[0] for user in self.users.values()]
        self.tokens = {role: AuthToken.objects.create(user=user)[1] for role, user in self.users.items()}

        # Candidates for each path parameter and each id in a body, in and out of every scope.
        self.ids: dict[str, list[Any]] = {
            "case_id": [o.pk for o in (case, high_risk, closed, restricted, other_team, referred, else_case)],
            "contact_id": [contact.pk, loose.pk],
            "escalation_id": [escalation.pk],
            "callback_id": [callback_request(contact=contact, reason="no-answer", at=contact.started_at).pk],
            "grant_id": [grant.pk],
            "referral_id": [r.pk for r in referrals],
            "agency_id": [agency.pk, other_agency.pk, else_agency.pk],
            "user_id": [operator.pk, night_operator.pk, supervisor.pk, else_operator.pk],
            "helpline_id": [helpline.pk, elsewhere.pk],
            "token_id": [token_id(t) for t in spare_tokens],
            "session_id": [str(chat.session.pk)],
            "identifier_hash": [contacter],
        }
        self.ids |= {
            "case": self.ids["case_id"],
            "agency": self.ids["agency_id"],
            "assigned_to": self.ids["user_id"],
            "users": self.ids["user_id"],
            "team": [team.pk, night.pk, else_team.pk],
            "helpline": [helpline.pk, elsewhere.pk, helpline.code, elsewhere.code],
        }

    def pick(self, name: str, generated: Any) -> Any:
        """A real id (or code) for a generated one of the same type, chosen by it: the run stays
        deterministic, and one value in MISS keeps its own."""
        if isinstance(generated, bool) or not isinstance(generated, int | str):
            return generated
        candidates = [value for value in self.ids.get(name, ()) if isinstance(value, type(generated))]
        key = generated if isinstance(generated, int) else len(generated)
        if not candidates or key % MISS == MISS - 1:
            return generated
        return candidates[key % len(candidates)]

    def aim(self, case, *, path: bool = True) -> None:
        """Point the generated request at the world's objects (see the module's docstring)."""
        for name, value in (case.path_parameters or {}).items() if path else ():
            case.path_parameters[name] = self.pick(name, value)
        negative = case.meta is not None and case.meta.generation.mode.is_negative
        cursor = (case.query or {}).get("cursor")
        if isinstance(cursor, str) and not negative and len(cursor) % MISS != MISS - 1:
            del case.query["cursor"]  # a cursor the API never gave out is a 404 (checked one time in MISS)
        if isinstance(case.body, dict) and not negative:  # an invalid body stays as invalid as generated
            for name, value in case.body.items():
                if isinstance(value, list):
                    case.body[name] = [self.pick(name, item) for item in value]
                else:
                    case.body[name] = self.pick(name, value)
        in_the_chat = path and (case.path_parameters or {}).get("session_id") in self.ids["session_id"]
        secret = (case.headers or {}).get("X-Chat-Secret")
        if in_the_chat and secret is not None and len(secret) % 2:
            case.headers["X-Chat-Secret"] = self.chat_secret


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module, in a transaction rolled back at its end; each test runs in a savepoint
    of it (pytest-django's `db`), so what one test's requests change is gone for the next."""
    with django_db_blocker.unblock(), transaction.atomic():
        helpline = factories.HelplineFactory(code="DEMO")
        team = factories.TeamFactory(helpline=helpline, name="Day shift")
        built = World(
            helpline,
            team,
            operator=factories.OperatorFactory(username="operator1", helpline=helpline, team=team),
            supervisor=factories.SupervisorFactory(username="supervisor1", helpline=helpline, team=team),
            admin_user=factories.AdminFactory(username="admin1", helpline=helpline),
            agency_user=factories.AgencyUserFactory(username="police1", helpline=helpline),
            platform_admin=factories.AdminFactory(username="root", helpline=None),
        )
        yield built
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def in_process():
    """Requests reach Django's own WSGI handler, which closes the database connection when a request
    ends: as Django's test client does, keep the test's connection (and its transaction) open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=ROLES)
def caller(request, world, db, in_process, settings):
    """How each request is sent: the caller's token, and a client address of the test's own (sign-in
    and chat are throttled per address in the shared Redis cache). Web chat's rates are raised so the
    fuzzer reaches past them (tests/test_web_chat_sessions.py holds the rates themselves)."""
    settings.CHAT_RATES = {scope: "100000/min" for scope in settings.CHAT_RATES}
    # A notification stream that opens ends after this; its answer is the same (the events are
    # tests/test_notification_inbox_unread_count_mark_read_and_stream.py's).
    settings.NOTIFICATION_STREAM_SECONDS = 0.2
    SIGNED_IN_AS["token"] = world.tokens.get(request.param)
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    yield {"role": request.param, "environ_base": {"REMOTE_ADDR": address}}
    SIGNED_IN_AS["token"] = None


def count(counts: Counter, role: str, test: str, status: int) -> None:
    counts[role, test] += 1
    if 200 <= status < 300:
        counts[role, test, "2xx"] += 1


@pytest.fixture(scope="module")
def sent(request):
    """Requests sent, per caller and phase: printed at the end of the module."""
    counts: Counter = Counter()
    yield counts
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not counts:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        seed = "unset: derandomized" if SEED is None else SEED
        reporter.write_line(f"API requests sent (FUZZ_EXAMPLES={EXAMPLES}, FUZZ_SEED={seed}):")
        reporter.write_line(f"  {'caller':<14} {'test':<15} {'requests':>8} {'2xx':>6}")
        for role in ROLES:
            for test in ("each operation", "workflows"):
                if counts[role, test]:
                    line = f"  {role:<14} {test:<15} {counts[role, test]:>8} {counts[role, test, '2xx']:>6}"
                    reporter.write_line(line)


config = schemathesis.Config()
_project = config.projects.default
_project.generation.update(
    max_examples=EXAMPLES, deterministic=SEED is None, database="none", modes=["positive", "negative"]
)
if SEED is not None:
    _project.seed = SEED
_project.checks.update(included_check_names=CHECKS)
# A chat session's missing secret answers 404 like a wrong one, so that session ids do not leak.
_project.checks.missing_required_header.expected_statuses = [
    *_project.checks.missing_required_header.expected_statuses,
    "404",
]
_project.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
# Along a workflow, valid steps: invalid ones are what the test above is for.
_project.phases.stateful.generation.update(modes=["positive"])
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), config=config)
SIGNED_IN_AS: dict[str, str | None] = {"token": None}  # the current test's caller's token


@schema.auth(refresh_interval=None, retry_on=[])
class CallersToken:
    """The caller's token on every request, as schemathesis' own: its ignored_auth check then also
    sends each secured operation without a token and with a wrong one, and expects 401."""

    def get(self, case, context):
        return SIGNED_IN_AS["token"]

    def set(self, case, data, context):
        if data is not None:
            case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@schema.parametrize()
# The caller and its database savepoint last for all of an operation's examples: on purpose, what one
# request creates is there for the next.
@hypothesis.settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_answer_is_documented_and_never_a_server_error(case, world, caller, sent):
    world.aim(case)
    response = case.call(environ_base=caller["environ_base"])
    count(sent, caller["role"], "each operation", response.status_code)
    case.validate_response(response, additional_checks=[invalid_input_is_refused])


def test_linked_operations_answer_as_documented_along_a_workflow(world, caller, sent):
    """Following the schema's links: open a case, move it along, record consent, refer it, and the
    agency's answers to the referral; a chat from its start. Each step's answer is checked as above."""
    steps = []

    operations = {ANON: CHAT_WORKFLOW, AGENCY: AGENCY_WORKFLOW}.get(caller["role"], WORKFLOW)

    class Workflow(schema.include(operation_id=operations).as_state_machine()):
        def setup(self):
            # Every scenario starts from the same data: a failing one replays (and shrinks) as it ran.
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case):
            world.aim(case, path=False)  # the path's ids come from the link

        def get_call_kwargs(self, case):
            return {"environ_base": caller["environ_base"]}

        def after_call(self, response, case):
            super().after_call(response, case)
            steps.append((case.operation.label, response.status_code))
            count(sent, caller["role"], "workflows", response.status_code)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            checks = [*(additional_checks or []), invalid_input_is_refused]
            super().validate_response(response, case, additional_checks=checks, **kwargs)

    run_state_machine_as_test(
        Workflow,
        settings=hypothesis.settings(
            max_examples=3 * EXAMPLES,  # scenarios; each of up to STEPS requests
            stateful_step_count=STEPS,
            derandomize=SEED is None,
            print_blob=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert steps, "the state machine sent nothing"
    reached = REACHED.get(caller["role"])
    if reached is not None:
        assert any(reached in label and status != 404 for label, status in steps), (reached, steps)
