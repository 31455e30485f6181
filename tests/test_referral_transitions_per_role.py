"""Every referral transition, for every role: the referral's own agency, another agency (404), the
case's operator, a supervisor and an administrator (404); illegal edges answer 409 with what is
possible; racing accept and withdraw → exactly one wins."""

import threading

import pytest
from django.db import connection, connections

from helpline.models import AuditEntry
from referrals.models import Referral

from .factories import AgencyFactory, AgencyUserFactory, CaseFactory, ReferralFactory
from .test_concurrent_transitions import _client, _wait_for_lock_waiters

ROLES = ("own_agency", "other_agency", "operator", "supervisor", "admin_user")

# (transition, the state it starts from, the state it reaches, body)
LEGAL = [
    ("approve", "awaiting_approval", "sent", {}),
    ("accept", "sent", "accepted", {}),
    ("reject", "sent", "rejected", {"reason": "Outside our district"}),
    ("complete", "accepted", "completed", {"outcome": "child_safe", "outcome_note": "Placed with aunt"}),
    ("withdraw", "awaiting_approval", "withdrawn", {"reason": "Family moved"}),
    ("withdraw", "sent", "withdrawn", {"reason": "Family moved"}),
    ("withdraw", "accepted", "withdrawn", {"reason": "Family moved"}),
]
EXPECTED = {
    # Agencies never see a referral still awaiting approval: it was not sent to them.
    "approve": {
        "own_agency": 404,
        "other_agency": 404,
        "operator": 403,
        "supervisor": 200,
        "admin_user": 404,
    },
    "accept": {"own_agency": 200, "other_agency": 404, "operator": 403, "supervisor": 403, "admin_user": 404},
    "reject": {"own_agency": 200, "other_agency": 404, "operator": 403, "supervisor": 403, "admin_user": 404},
    "complete": {
        "own_agency": 200,
        "other_agency": 404,
        "operator": 403,
        "supervisor": 403,
        "admin_user": 404,
    },
    "withdraw": {
        "own_agency": 403,
        "other_agency": 404,
        "operator": 200,
        "supervisor": 200,
        "admin_user": 404,
    },
}
STATES = ("awaiting_approval", "sent", "accepted", "rejected", "completed", "withdrawn", "expired")
NAMES = ("approve", "accept", "reject", "complete", "withdraw")
BODIES = {name: body for name, _, _, body in LEGAL}
ILLEGAL = [
    (name, state)
    for name in NAMES
    for state in STATES
    if (name, state) not in {(n, s) for n, s, _, _ in LEGAL}
]


@pytest.fixture
def people(helpline, team, operator, supervisor, admin_user, agency_user):
    other_agency = AgencyFactory(helpline=helpline, code="shelter", sector="shelter")
    return {
        "own_agency": agency_user,
        "other_agency": AgencyUserFactory(username="shelter1", helpline=helpline, agency=other_agency),
        "operator": operator,
        "supervisor": supervisor,
        "admin_user": admin_user,
    }


@pytest.fixture
def make_referral(helpline, team, operator, agency_user):
    """A referral of a case the operator works on, to police1's agency, sitting in `state`."""

    def make(state: str) -> Referral:
        case = CaseFactory(
            helpline=helpline, team=team, assigned_to=operator, state="referral", risk_level="medium"
        )
        fields = {"sent_at": None, "respond_by": None} if state == "awaiting_approval" else {}
        return ReferralFactory(
            case=case, agency=agency_user.agency_membership.agency, created_by=operator, state=state, **fields
        )

    return make


def post(client, referral, name, body=None):
    return client.post(f"/api/v1/referrals/{referral.pk}/{name}/", body or {}, format="json")


def audit(referral, name, outcome):
    return AuditEntry.objects.filter(
        action=f"referral.{name}", object_id=str(referral.pk), outcome=outcome, case_id=referral.case_id
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "source", "target", "body"), LEGAL, ids=[f"{n}-from-{s}" for n, s, _, _ in LEGAL]
)
def test_referral_transition_is_taken_only_by_the_role_it_belongs_to(
    api, people, make_referral, role, name, source, target, body
):
    referral = make_referral(source)
    user = people[role]

    response = post(api(user), referral, name, body)

    expected = EXPECTED[name][role]
    if source == "awaiting_approval" and role == "own_agency":
        expected = 404  # not sent to the agency yet, so not there at all for it
    assert response.status_code == expected, response.json()
    stored = Referral.objects.get(pk=referral.pk)
    if expected != 200:
        assert stored.state == source
        assert not audit(referral, name, "allowed").exists()
        if expected == 403:
            assert response.json()["errors"][0]["code"] == "permission_denied"
            assert audit(referral, name, "denied").get().actor == user
        else:
            # Out of scope: nothing about the referral or its case is said or recorded as seen.
            assert not AuditEntry.objects.filter(case_id=referral.case_id, actor=user).exists()
        return
    assert response.json()["state"] == target
    assert stored.state == target
    entry = audit(referral, name, "allowed").get()
    assert entry.actor == user
    assert entry.changes["state"] == {"before": source, "after": target}
    if name == "reject":
        assert stored.rejection_reason == body["reason"]
        assert stored.responded_by == user
    if name == "complete":
        assert (stored.outcome, stored.outcome_note) == ("child_safe", "Placed with aunt")
    if name == "withdraw":
        assert stored.withdrawal_reason == body["reason"]
    if name == "accept":
        assert stored.responded_at is not None
    if name == "approve":
        assert stored.approved_by == user
        assert stored.sent_at is not None and stored.respond_by > stored.sent_at
        assert stored.packet["reference"] == referral.case.reference


@pytest.mark.parametrize(("name", "state"), ILLEGAL, ids=[f"{n}-from-{s}" for n, s in ILLEGAL])
def test_transition_not_possible_from_the_referrals_state_is_409_with_what_is_possible(
    api, people, make_referral, name, state
):
    referral = make_referral(state)
    # The role that may take the transition, so the refusal is about the state.
    role = next(r for r, status in EXPECTED[name].items() if status == 200)

    response = post(api(people[role]), referral, name, BODIES[name])

    if state == "awaiting_approval" and role == "own_agency":
        # Not sent to the agency yet, so not there at all for it.
        assert response.status_code == 404, response.json()
        assert Referral.objects.get(pk=referral.pk).state == state
        return
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["errors"][0]["code"] == "transition_not_allowed"
    assert body["state"] == state
    assert name not in body["available_transitions"]
    assert Referral.objects.get(pk=referral.pk).state == state
    assert audit(referral, name, "denied").get().actor == people[role]


@pytest.mark.parametrize(
    ("name", "body", "attr"),
    [
        ("reject", {}, "reason"),
        ("reject", {"reason": ""}, "reason"),
        ("withdraw", {}, "reason"),
        ("complete", {}, "outcome"),
        ("complete", {"outcome": "teleported"}, "outcome"),
        ("complete", {"outcome": "other"}, "outcome_note"),
    ],
)
def test_transition_without_its_required_fields_is_400_and_changes_nothing(
    api, people, make_referral, name, body, attr
):
    source = "accepted" if name == "complete" else "sent"
    referral = make_referral(source)
    role = "operator" if name == "withdraw" else "own_agency"

    response = post(api(people[role]), referral, name, body)

    assert response.status_code == 400, response.json()
    assert attr in [e["attr"] for e in response.json()["errors"]]
    assert Referral.objects.get(pk=referral.pk).state == source


def test_unknown_referral_is_404_for_everyone(api, people):
    for user in people.values():
        assert api(user).get("/api/v1/referrals/999999/").status_code == 404
        assert api(user).post("/api/v1/referrals/999999/accept/").status_code == 404


def test_agency_lists_only_its_own_sent_referrals(api, people, make_referral):
    mine = [make_referral(s) for s in ("sent", "accepted", "completed")]
    hidden = make_referral("awaiting_approval")
    elsewhere = ReferralFactory(case=mine[0].case, agency=people["other_agency"].agency_membership.agency)

    listed = api(people["own_agency"]).get("/api/v1/referrals/").json()["results"]
    assert sorted(r["id"] for r in listed) == sorted(r.pk for r in mine)
    assert hidden.pk not in [r["id"] for r in listed]
    other = api(people["other_agency"]).get("/api/v1/referrals/").json()["results"]
    assert [r["id"] for r in other] == [elsewhere.pk]
    pending = api(people["own_agency"]).get("/api/v1/referrals/?state=sent").json()["results"]
    assert [r["id"] for r in pending] == [mine[0].pk]
    # Staff see the referrals of the cases they can see, with the agency's response time.
    staff = api(people["operator"]).get("/api/v1/referrals/").json()["results"]
    assert {r["id"] for r in staff} >= {r.pk for r in mine} | {hidden.pk}
    assert all("response_minutes" in r for r in staff)
    assert api(people["admin_user"]).get("/api/v1/referrals/").json()["results"] == []


def test_bad_filters_are_400(api, people):
    client = api(people["own_agency"])
    for query in ("state=lost", "urgency=whenever", "received_after=yesterday"):
        response = client.get(f"/api/v1/referrals/?{query}")
        assert response.status_code == 400, (query, response.json())


@pytest.mark.django_db(transaction=True)
def test_accept_racing_withdraw_one_wins_the_other_gets_409(people, make_referral):
    referral = make_referral("sent")
    attempts = [
        (_client(people["own_agency"]), "accept", {}),
        # The operator withdraws the referral they saw unanswered: if the agency accepted first,
        # the withdrawal must not go through unseen.
        (
            _client(people["operator"]),
            "withdraw",
            {"reason": "Child found another service", "expected_state": "sent"},
        ),
    ]
    results: dict[str, int] = {}
    started = threading.Barrier(len(attempts) + 1)

    def attempt(client, name, body):
        try:
            started.wait()
            results[name] = post(client, referral, name, body).status_code
        finally:
            connections.close_all()

    # A third connection holds the row lock so both requests queue on it, then lets go.
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute("SELECT id FROM referrals_referral WHERE id = %s FOR UPDATE", [referral.pk])
            threads = [threading.Thread(target=attempt, args=a) for a in attempts]
            for thread in threads:
                thread.start()
            started.wait()
            _wait_for_lock_waiters(cursor, expected=len(attempts))
        finally:
            cursor.execute("COMMIT")
    for thread in threads:
        thread.join(30)

    assert sorted(results.values()) == [200, 409]
    winner = next(name for name, status in results.items() if status == 200)
    assert (
        Referral.objects.get(pk=referral.pk).state == {"accept": "accepted", "withdraw": "withdrawn"}[winner]
    )
    allowed = AuditEntry.objects.filter(
        object_id=str(referral.pk), outcome="allowed", action__in=["referral.accept", "referral.withdraw"]
    )
    assert [e.action for e in allowed] == [f"referral.{winner}"]


def test_transition_from_a_state_the_caller_did_not_see_is_409_state_changed(api, people, make_referral):
    referral = make_referral("accepted")

    response = post(api(people["operator"]), referral, "withdraw", {"reason": "x", "expected_state": "sent"})

    assert response.status_code == 409, response.json()
    assert response.json()["errors"][0]["code"] == "state_changed"
    assert response.json()["state"] == "accepted"
    assert Referral.objects.get(pk=referral.pk).state == "accepted"
    response = post(
        api(people["operator"]), referral, "withdraw", {"reason": "x", "expected_state": "accepted"}
    )
    assert response.status_code == 200, response.json()
