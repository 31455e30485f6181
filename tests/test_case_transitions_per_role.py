"""Every workflow transition, legal and illegal, for every role, through
POST /api/v1/cases/{id}/transitions/: the answer, the case row afterwards and the audit entry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from helpline.models import AuditEntry

from .factories import CaseFactory, ContactFactory, OperatorFactory, ReferralFactory, TeamFactory

TRANSITIONS = ("start_assessment", "dismiss", "refer", "start_follow_up", "close", "reopen")
STATES = ("intake", "assessment", "referral", "follow_up", "closed")
NON_CASE_CALL_TYPES = ("silent", "hang_up", "prank", "wrong_number", "abusive", "information")

# (transition, source state, target state): every edge the workflow has.
LEGAL = [
    ("start_assessment", "intake", "assessment"),
    ("dismiss", "intake", "closed"),
    ("refer", "assessment", "referral"),
    ("start_follow_up", "assessment", "follow_up"),
    ("start_follow_up", "referral", "follow_up"),
    ("close", "assessment", "closed"),
    ("close", "referral", "closed"),
    ("close", "follow_up", "closed"),
    ("reopen", "closed", "assessment"),
]
ILLEGAL = [
    (name, state)
    for name in TRANSITIONS
    for state in STATES
    if (name, state) not in {edge[:2] for edge in LEGAL}
]

# What a medium-risk case with a child contact and no referral offers in each state, by role
# (`refer` needs an active referral first).
AVAILABLE_BY_STATE = {
    "operator": {
        "intake": ["start_assessment"],
        "assessment": ["start_follow_up", "close"],
        "referral": ["start_follow_up", "close"],
        "follow_up": ["close"],
        "closed": [],
    },
    "supervisor": {
        "intake": ["start_assessment"],
        "assessment": ["start_follow_up", "close"],
        "referral": ["start_follow_up", "close"],
        "follow_up": ["close"],
        "closed": ["reopen"],
    },
}


def legal_status(role, name):
    if role in ("admin_user", "agency_user"):
        return 404
    if name == "reopen" and role == "operator":
        return 403
    return 200


def params_for(name):
    """The extra fields a transition needs, filled in validly."""
    if name in ("dismiss", "close", "reopen"):
        return {"reason": f"Reason to {name}"}
    if name == "start_follow_up":
        return {"follow_up_due_at": (timezone.now() + timedelta(days=3)).isoformat()}
    return {}


def post_transition(client, case, name, **fields):
    return client.post(f"/api/v1/cases/{case.pk}/transitions/", {"name": name, **fields}, format="json")


def row(case):
    return (
        Case.objects.filter(pk=case.pk)
        .values(
            "state",
            "next_action_due_at",
            "closure_reason",
            "closed_at",
            "assigned_to_id",
            "state_changed_at",
            "updated_at",
        )
        .get()
    )


def transition_audit(case, name, outcome):
    return AuditEntry.objects.filter(case_id=case.pk, action=f"case.transition.{name}", outcome=outcome)


def error_codes(response):
    return [e["code"] for e in response.json()["errors"]]


def error_attrs(response):
    return [e["attr"] for e in response.json()["errors"]]


ASSIGNED_TO_OPERATOR = object()


@pytest.fixture
def make_case(helpline, team, operator):
    """A case sitting in `state`, visible to `operator`: intake cases are unassigned in the
    operator's team; later states are assigned to the operator."""

    def make(
        state,
        *,
        risk_level="medium",
        call_types=("child",),
        assigned_to=ASSIGNED_TO_OPERATOR,
        team_=team,
        referral=None,
    ):
        now = timezone.now()
        if assigned_to is ASSIGNED_TO_OPERATOR:
            assigned_to = None if state == "intake" else operator
        fields = {
            "helpline": helpline,
            "state": state,
            "risk_level": risk_level,
            "team": team_,
            "assigned_to": assigned_to,
            "state_changed_at": now - timedelta(hours=2),
        }
        if state == "closed":
            fields.update(closure_reason="Closed earlier", closed_at=now - timedelta(hours=1))
        else:
            fields.update(next_action_due_at=now + timedelta(hours=6))
        case = CaseFactory(**fields)
        for call_type in call_types:
            ContactFactory(case=case, call_type=call_type)
        if referral is not None:
            ReferralFactory(case=case, state=referral, created_by=operator)
        return case

    return make


# --- legal transitions, by role ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "supervisor", "admin_user", "agency_user"])
@pytest.mark.parametrize(("name", "source", "target"), LEGAL, ids=[f"{n}-from-{s}" for n, s, _ in LEGAL])
def test_legal_transition_is_taken_by_staff_allowed_to_and_refused_to_others(
    request, api, make_case, role, name, source, target
):
    user = request.getfixturevalue(role)
    case = make_case(
        source,
        call_types=("prank",) if name == "dismiss" else ("child",),
        referral="sent" if name == "refer" else None,
    )
    before = row(case)
    params = params_for(name)
    started = timezone.now()

    response = post_transition(api(user), case, name, **params)

    expected = legal_status(role, name)
    assert response.status_code == expected, response.json()
    if expected != 200:
        assert row(case) == before
        assert not transition_audit(case, name, "allowed").exists()
        if expected == 403:
            assert error_codes(response) == ["permission_denied"]
            denied = transition_audit(case, name, "denied").get()
            assert denied.actor == user
        else:  # 404: the case is outside the caller's scope; only the refused lookup is recorded.
            assert not transition_audit(case, name, "denied").exists()
            assert AuditEntry.objects.filter(
                actor=user, action="case.transition", object_id=str(case.pk), outcome="denied"
            ).exists()
        return

    assert response.json()["state"] == target
    after = row(case)
    assert after["state"] == target
    assert after["state_changed_at"] >= started
    if target == "closed":
        assert after["closure_reason"] == params["reason"]
        assert after["closed_at"] >= started
        assert after["next_action_due_at"] is None
    elif target == "follow_up":
        assert after["next_action_due_at"].isoformat() == params["follow_up_due_at"]
    else:  # assessment / referral: a fresh due date from the helpline's policy
        assert after["next_action_due_at"] > started
        assert after["closure_reason"] == ""
        assert after["closed_at"] is None
    if name == "start_assessment":
        assert after["assigned_to_id"] == user.pk

    entry = transition_audit(case, name, "allowed").get()
    assert entry.actor == user
    assert entry.changes["state"] == {"before": source, "after": target}
    assert not transition_audit(case, name, "denied").exists()


@pytest.mark.parametrize("role", ["operator", "supervisor"])
@pytest.mark.parametrize(
    "call_types", [(t,) for t in NON_CASE_CALL_TYPES] + [("silent", "hang_up", "information")], ids=str
)
def test_case_whose_every_contact_is_a_non_case_call_is_dismissed(request, api, make_case, role, call_types):
    user = request.getfixturevalue(role)
    case = make_case("intake", call_types=call_types)

    response = post_transition(api(user), case, "dismiss", reason="Not a case")

    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "closed"
    assert row(case)["closure_reason"] == "Not a case"
    entry = transition_audit(case, "dismiss", "allowed").get()
    assert entry.changes["state"] == {"before": "intake", "after": "closed"}


@pytest.mark.parametrize(("role", "expected"), [("operator", 403), ("supervisor", 200)])
@pytest.mark.parametrize("source", ["assessment", "referral", "follow_up"])
@pytest.mark.parametrize("risk_level", ["high", "critical"])
def test_closing_a_high_or_critical_risk_case_needs_a_supervisor(
    request, api, make_case, role, expected, source, risk_level
):
    user = request.getfixturevalue(role)
    case = make_case(source, risk_level=risk_level)
    before = row(case)

    response = post_transition(api(user), case, "close", reason="Child safe")

    assert response.status_code == expected, response.json()
    if expected == 403:
        assert row(case) == before
        assert transition_audit(case, "close", "denied").get().actor == user
        assert not transition_audit(case, "close", "allowed").exists()
    else:
        assert row(case)["state"] == "closed"
        entry = transition_audit(case, "close", "allowed").get()
        assert entry.changes["state"] == {"before": source, "after": "closed"}


@pytest.mark.parametrize("role", ["operator", "supervisor"])
@pytest.mark.parametrize("risk_level", ["unassessed", "low", "medium"])
def test_cases_below_high_risk_are_closed_by_operators_and_supervisors(
    request, api, make_case, role, risk_level
):
    user = request.getfixturevalue(role)
    case = make_case("assessment", risk_level=risk_level)

    response = post_transition(api(user), case, "close", reason="Resolved")

    assert response.status_code == 200, response.json()
    assert row(case)["state"] == "closed"


@pytest.mark.parametrize(
    ("name", "target", "extra"),
    [("dismiss", "closed", {"reason": "Silent line"}), ("start_assessment", "assessment", {})],
)
def test_transition_that_moves_the_case_out_of_the_operators_scope_still_answers_200(
    api, helpline, operator, name, target, extra
):
    """The intake queue is helpline-wide, so an operator may act on another team's intake case that is
    assigned to someone else. Afterwards the case is no longer in the operator's scope, but the change
    was made and committed: the answer must say it succeeded, not 404."""
    other_team = TeamFactory(helpline=helpline, name="Night shift")
    night_operator = OperatorFactory(username="night1", helpline=helpline, team=other_team)
    case = CaseFactory(helpline=helpline, state="intake", team=other_team, assigned_to=night_operator)
    ContactFactory(case=case, call_type="silent")

    response = post_transition(api(operator), case, name, **extra)

    assert row(case)["state"] == target
    assert transition_audit(case, name, "allowed").get().actor == operator
    assert response.status_code == 200, response.json()


# --- illegal transitions -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "supervisor"])
@pytest.mark.parametrize(("name", "state"), ILLEGAL, ids=[f"{n}-from-{s}" for n, s in ILLEGAL])
def test_transition_not_on_the_current_state_is_refused_with_what_is_available(
    request, api, make_case, role, name, state
):
    user = request.getfixturevalue(role)
    case = make_case(state)
    before = row(case)

    response = post_transition(api(user), case, name, **params_for(name))

    assert response.status_code == 409, response.json()
    assert error_codes(response) == ["transition_not_allowed"]
    body = response.json()
    assert body["state"] == state
    assert sorted(body["available_transitions"]) == sorted(AVAILABLE_BY_STATE[role][state])
    assert row(case) == before
    denied = transition_audit(case, name, "denied").get()
    assert denied.actor == user
    assert not transition_audit(case, name, "allowed").exists()


@pytest.mark.parametrize("role", ["operator", "supervisor"])
@pytest.mark.parametrize(
    ("name", "state", "risk_level", "call_types", "available", "referral"),
    [
        ("dismiss", "intake", "low", ("child",), ["start_assessment"], None),
        ("dismiss", "intake", "low", ("caller_about_child",), ["start_assessment"], None),
        ("dismiss", "intake", "low", ("prank", "child"), ["start_assessment"], None),
        ("dismiss", "intake", "low", ("",), ["start_assessment"], None),
        ("refer", "assessment", "unassessed", ("child",), ["start_follow_up"], "sent"),
        ("refer", "assessment", "medium", ("child",), ["start_follow_up", "close"], None),
        ("refer", "assessment", "medium", ("child",), ["start_follow_up", "close"], "expired"),
        ("close", "assessment", "low", ("child",), ["refer", "start_follow_up"], "sent"),
        ("close", "referral", "low", ("child",), ["start_follow_up"], "accepted"),
        ("close", "follow_up", "low", ("child",), [], "awaiting_approval"),
    ],
    ids=[
        "dismiss-child",
        "dismiss-caller-about-child",
        "dismiss-mixed-contacts",
        "dismiss-unclassified",
        "refer-unassessed-risk",
        "refer-without-referral",
        "refer-with-only-an-expired-referral",
        "close-with-a-sent-referral",
        "close-with-an-accepted-referral",
        "close-with-a-referral-awaiting-approval",
    ],
)
def test_transition_whose_conditions_fail_is_refused(
    request, api, make_case, role, name, state, risk_level, call_types, available, referral
):
    user = request.getfixturevalue(role)
    case = make_case(state, risk_level=risk_level, call_types=call_types, referral=referral)
    before = row(case)

    response = post_transition(api(user), case, name, **params_for(name))

    assert response.status_code == 409, response.json()
    assert error_codes(response) == ["transition_conditions_not_met"]
    assert sorted(response.json()["available_transitions"]) == sorted(available)
    assert row(case) == before
    assert transition_audit(case, name, "denied").get().actor == user
    assert not transition_audit(case, name, "allowed").exists()


def _past():
    return (timezone.now() - timedelta(minutes=5)).isoformat()


@pytest.mark.parametrize(
    ("role", "state", "call_types", "body", "attr"),
    [
        ("operator", "intake", ("prank",), {"name": "dismiss"}, "reason"),
        ("operator", "intake", ("prank",), {"name": "dismiss", "reason": ""}, "reason"),
        ("operator", "intake", ("prank",), {"name": "dismiss", "reason": "   "}, "reason"),
        ("operator", "assessment", ("child",), {"name": "close"}, "reason"),
        ("supervisor", "follow_up", ("child",), {"name": "close"}, "reason"),
        ("supervisor", "closed", ("child",), {"name": "reopen"}, "reason"),
        ("operator", "assessment", ("child",), {"name": "start_follow_up"}, "follow_up_due_at"),
        ("supervisor", "referral", ("child",), {"name": "start_follow_up"}, "follow_up_due_at"),
        (
            "operator",
            "assessment",
            ("child",),
            {"name": "start_follow_up", "follow_up_due_at": _past},
            "follow_up_due_at",
        ),
        (
            "supervisor",
            "referral",
            ("child",),
            {"name": "start_follow_up", "follow_up_due_at": _past},
            "follow_up_due_at",
        ),
        (
            "operator",
            "assessment",
            ("child",),
            {"name": "start_follow_up", "follow_up_due_at": "next week"},
            "follow_up_due_at",
        ),
        ("operator", "intake", ("child",), {"name": "escalate"}, "name"),
        ("supervisor", "closed", ("child",), {"name": "delete"}, "name"),
        ("operator", "intake", ("child",), {}, "name"),
    ],
    ids=[
        "dismiss-without-reason",
        "dismiss-blank-reason",
        "dismiss-whitespace-reason",
        "close-without-reason",
        "supervisor-close-without-reason",
        "reopen-without-reason",
        "follow-up-without-date",
        "follow-up-from-referral-without-date",
        "follow-up-in-the-past",
        "follow-up-from-referral-in-the-past",
        "follow-up-unparseable-date",
        "unknown-name",
        "unknown-name-on-closed-case",
        "no-name",
    ],
)
def test_invalid_transition_request_is_rejected_with_400(
    request, api, make_case, role, state, call_types, body, attr
):
    user = request.getfixturevalue(role)
    case = make_case(state, call_types=call_types)
    before = row(case)
    body = {k: v() if callable(v) else v for k, v in body.items()}

    response = api(user).post(f"/api/v1/cases/{case.pk}/transitions/", body, format="json")

    assert response.status_code == 400, response.json()
    assert attr in error_attrs(response)
    assert row(case) == before
    assert not AuditEntry.objects.filter(
        case_id=case.pk, action__startswith="case.transition.", outcome="allowed"
    ).exists()


# --- what the case offers vs what the endpoint accepts -------------------------------------------

SCENARIOS = [
    # (id, state, risk, call types, operator sees, supervisor sees)
    ("intake-child", "intake", "medium", ("child",), ["start_assessment"], ["start_assessment"]),
    (
        "intake-prank",
        "intake",
        "unassessed",
        ("prank",),
        ["start_assessment", "dismiss"],
        ["start_assessment", "dismiss"],
    ),
    ("intake-mixed", "intake", "low", ("wrong_number", "child"), ["start_assessment"], ["start_assessment"]),
    (
        "assessment-unassessed",
        "assessment",
        "unassessed",
        ("child",),
        ["start_follow_up", "close"],
        ["start_follow_up", "close"],
    ),
    (
        "assessment-medium",
        "assessment",
        "medium",
        ("child",),
        ["start_follow_up", "close"],
        ["start_follow_up", "close"],
    ),
    ("assessment-high", "assessment", "high", ("child",), ["start_follow_up"], ["start_follow_up", "close"]),
    (
        "assessment-medium-referred",
        "assessment",
        "medium",
        ("child",),
        ["refer", "start_follow_up"],
        ["refer", "start_follow_up"],
    ),
    (
        "assessment-high-referred",
        "assessment",
        "high",
        ("child",),
        ["refer", "start_follow_up"],
        ["refer", "start_follow_up"],
    ),
    (
        "referral-low-referral-accepted",
        "referral",
        "low",
        ("child",),
        ["start_follow_up"],
        ["start_follow_up"],
    ),
    (
        "referral-critical",
        "referral",
        "critical",
        ("child",),
        ["start_follow_up"],
        ["start_follow_up", "close"],
    ),
    (
        "referral-low",
        "referral",
        "low",
        ("child",),
        ["start_follow_up", "close"],
        ["start_follow_up", "close"],
    ),
    ("follow-up-high", "follow_up", "high", ("child",), [], ["close"]),
    ("follow-up-medium", "follow_up", "medium", ("child",), ["close"], ["close"]),
    ("closed-medium", "closed", "medium", ("child",), [], ["reopen"]),
    ("closed-critical", "closed", "critical", ("child",), [], ["reopen"]),
]


# The state of the one referral a scenario's case has (none unless named).
SCENARIO_REFERRAL = {
    "assessment-medium-referred": "sent",
    "assessment-high-referred": "accepted",
    "referral-low-referral-accepted": "accepted",
}


@pytest.mark.parametrize("role", ["operator", "supervisor"])
@pytest.mark.parametrize(
    ("scenario", "state", "risk_level", "call_types", "for_operator", "for_supervisor"),
    SCENARIOS,
    ids=[s[0] for s in SCENARIOS],
)
def test_available_transitions_are_exactly_those_the_endpoint_accepts(
    request, api, make_case, role, scenario, state, risk_level, call_types, for_operator, for_supervisor
):
    user = request.getfixturevalue(role)
    client = api(user)
    referral = SCENARIO_REFERRAL.get(scenario)
    case = make_case(state, risk_level=risk_level, call_types=call_types, referral=referral)

    shown = client.get(f"/api/v1/cases/{case.pk}/").json()["available_transitions"]

    assert sorted(shown) == sorted(for_operator if role == "operator" else for_supervisor)
    for name in TRANSITIONS:
        probe = make_case(state, risk_level=risk_level, call_types=call_types, referral=referral)
        response = post_transition(client, probe, name, **params_for(name))
        if name in shown:
            assert response.status_code == 200, (name, response.json())
        else:
            assert response.status_code in (403, 409), (name, response.json())


@pytest.mark.parametrize("role", ["admin_user", "agency_user"])
@pytest.mark.parametrize("state", STATES)
def test_admins_and_agency_users_cannot_see_cases_in_any_state(request, api, make_case, role, state):
    user = request.getfixturevalue(role)
    case = make_case(state)
    before = row(case)
    client = api(user)

    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    for name in TRANSITIONS:
        response = post_transition(client, case, name, **params_for(name))
        assert response.status_code == 404, (name, response.json())
    assert row(case) == before
    assert not AuditEntry.objects.filter(case_id=case.pk, action__startswith="case.transition.").exists()
