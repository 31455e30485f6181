"""A referral the agency does not answer by its deadline expires (the beat task), the case's
supervisors get one escalation, and the helpline re-sends it to another agency; an agency's
rejection escalates too. Referrals are made through the API; time travels (time-machine) to the
deadline and the beat task is called as the beat would call it, once through a real worker."""

import time
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from cases.models import Escalation
from helpline.models import AuditEntry, User
from referrals.models import Referral
from referrals.tasks import expire_unanswered_referrals

from .factories import AgencyFactory, AgencyUserFactory


@pytest.fixture
def police(agency_user):
    return agency_user.agency_membership.agency


@pytest.fixture
def health(helpline):
    agency = AgencyFactory(helpline=helpline, code="city-hospital", name="City hospital", sector="health")
    AgencyUserFactory(helpline=helpline, agency=agency, username="nurse1")
    return agency


@pytest.fixture
def case(api, operator, walk_in):
    """A case in assessment, risk assessed, with consent to referral: through the API."""
    case = walk_in(risk_level="high", categories=["physical_violence"], child_area="Kibera")
    client = api(operator)
    started = client.post(
        f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json"
    )
    assert started.status_code == 200, started.json()
    consent = {"given_by": "child", "given_at": timezone.now().isoformat(), "scope": ["referral"]}
    assert client.post(f"/api/v1/cases/{case['id']}/consent/", consent, format="json").status_code == 201
    return started.json()


def refer(client, case_id, agency, urgency="urgent"):
    response = client.post(
        f"/api/v1/cases/{case_id}/referrals/",
        {
            "agency": agency.pk,
            "service_type": "protection",
            "urgency": urgency,
            "reason": "Disclosure of violence at home",
            "summary": "Child needs protection.",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def deadline(referral: dict) -> datetime:
    return datetime.fromisoformat(referral["respond_by"])


def expire_at(moment: datetime) -> int:
    """Runs the beat task (the Celery task's own function) with the clock at `moment`."""
    with time_machine.travel(moment, tick=False):
        return expire_unanswered_referrals()


def escalations(client, **params):
    response = client.get("/api/v1/escalations/", params)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def case_transitions(client, case_id):
    response = client.get(f"/api/v1/cases/{case_id}/")
    assert response.status_code == 200
    return response.json()["available_transitions"]


# --- expiry -------------------------------------------------------------------------------------------


def test_unanswered_referral_expires_once_escalates_and_is_audited(
    api, operator, supervisor, agency_user, police, case
):
    sent = refer(api(operator), case["id"], police)
    assert sent["state"] == "sent"

    assert expire_at(deadline(sent) + timedelta(minutes=1)) == 1
    # Idempotent: later runs find nothing more to do.
    assert expire_at(deadline(sent) + timedelta(minutes=2)) == 0
    assert expire_at(deadline(sent) + timedelta(days=3)) == 0

    referral = Referral.objects.get(pk=sent["id"])
    assert referral.state == "expired"
    assert referral.closed_at == deadline(sent) + timedelta(minutes=1)
    assert referral.responded_at is None
    escalation = Escalation.objects.get(referral=referral)
    assert (escalation.kind, escalation.case_id) == ("referral_expired", case["id"])
    assert Escalation.objects.filter(case_id=case["id"]).count() == 1
    entries = AuditEntry.objects.filter(action="referral.expire", object_id=str(referral.pk))
    assert entries.count() == 1
    entry = entries.get()
    assert entry.actor is None and entry.actor_role == "system"
    assert entry.case_id == case["id"]
    assert entry.changes["state"] == {"before": "sent", "after": "expired"}

    listed = escalations(api(supervisor), acknowledged="false")
    assert [(e["kind"], e["case"], e["referral"]) for e in listed] == [
        ("referral_expired", case["id"], sent["id"])
    ]
    assert police.name in listed[0]["detail"]
    assert "Re-send" in listed[0]["detail"]
    # The operator working the case sees it too; the agency never sees escalations.
    assert [e["id"] for e in escalations(api(operator))] == [listed[0]["id"]]
    assert escalations(api(agency_user)) == []

    # Everyone reads the referral as expired, and nobody can act on it any more.
    staff = api(operator).get(f"/api/v1/referrals/{sent['id']}/").json()
    assert staff["state"] == "expired"
    assert "withdraw" not in staff["available_transitions"]
    agency_view = api(agency_user).get(f"/api/v1/referrals/{sent['id']}/").json()
    assert (agency_view["state"], agency_view["available_transitions"]) == ("expired", [])
    accepted_late = api(agency_user).post(f"/api/v1/referrals/{sent['id']}/accept/")
    assert accepted_late.status_code == 409
    assert accepted_late.json()["errors"][0]["code"] == "transition_not_allowed"
    # The escalation is acknowledged like any other.
    ack = api(supervisor).post(f"/api/v1/escalations/{listed[0]['id']}/acknowledge/")
    assert ack.status_code == 200
    assert ack.json()["kind"] == "referral_expired"


def test_referral_not_yet_due_does_not_expire(api, operator, police, case):
    sent = refer(api(operator), case["id"], police)
    assert expire_at(deadline(sent) - timedelta(seconds=1)) == 0
    assert Referral.objects.get(pk=sent["id"]).state == "sent"
    assert not Escalation.objects.exists()
    assert not AuditEntry.objects.filter(action="referral.expire").exists()
    # The deadline itself is the moment it expires.
    assert expire_at(deadline(sent)) == 1


def test_answered_or_withdrawn_referrals_never_expire(api, operator, agency_user, police, case):
    client, agency = api(operator), api(agency_user)
    accepted = refer(client, case["id"], police)
    assert agency.post(f"/api/v1/referrals/{accepted['id']}/accept/").status_code == 200
    completed = refer(client, case["id"], police)
    assert agency.post(f"/api/v1/referrals/{completed['id']}/accept/").status_code == 200
    done = agency.post(
        f"/api/v1/referrals/{completed['id']}/complete/", {"outcome": "child_safe"}, format="json"
    )
    assert done.status_code == 200, done.json()
    withdrawn = refer(client, case["id"], police)
    response = client.post(
        f"/api/v1/referrals/{withdrawn['id']}/withdraw/", {"reason": "Family moved away"}, format="json"
    )
    assert response.status_code == 200, response.json()
    unanswered = refer(client, case["id"], police)

    assert expire_at(deadline(unanswered) + timedelta(days=30)) == 1
    states = dict(Referral.objects.filter(case_id=case["id"]).values_list("pk", "state"))
    assert states == {
        accepted["id"]: "accepted",
        completed["id"]: "completed",
        withdrawn["id"]: "withdrawn",
        unanswered["id"]: "expired",
    }
    assert list(Escalation.objects.values_list("referral_id", "kind")) == [
        (unanswered["id"], "referral_expired")
    ]


def test_referral_awaiting_approval_does_not_expire(api, operator, helpline, case):
    """A cross-border referral has not been sent (no deadline) until a supervisor approves it."""
    abroad = AgencyFactory(helpline=helpline, code="ug-police", sector="police", country="UG")
    waiting = refer(api(operator), case["id"], abroad)
    assert (waiting["state"], waiting["respond_by"]) == ("awaiting_approval", None)
    assert expire_at(timezone.now() + timedelta(days=30)) == 0
    assert Referral.objects.get(pk=waiting["id"]).state == "awaiting_approval"


@pytest.mark.parametrize(
    ("urgency", "response_hours", "hours"),
    [
        ("emergency", None, 1),
        ("urgent", None, 24),
        ("routine", None, 72),
        ("emergency", {"emergency": 3}, 3),
        ("urgent", {"urgent": 8, "emergency": 2}, 8),
        ("routine", {"emergency": 2}, 72),
    ],
)
def test_deadline_follows_the_agencys_response_hours_per_urgency(
    api, operator, helpline, case, urgency, response_hours, hours
):
    fields = {} if response_hours is None else {"response_hours": response_hours}
    agency = AgencyFactory(helpline=helpline, code="district-police", sector="police", **fields)
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False):
        sent = refer(api(operator), case["id"], agency, urgency=urgency)
    assert datetime.fromisoformat(sent["sent_at"]) == start
    assert deadline(sent) == start + timedelta(hours=hours)
    assert expire_at(start + timedelta(hours=hours) - timedelta(seconds=1)) == 0
    assert expire_at(start + timedelta(hours=hours)) == 1
    assert Referral.objects.get(pk=sent["id"]).state == "expired"


def test_agency_changing_its_response_hours_does_not_move_a_sent_deadline(
    api, operator, admin_user, police, case
):
    sent = refer(api(operator), case["id"], police, urgency="emergency")
    assert deadline(sent) - datetime.fromisoformat(sent["sent_at"]) == timedelta(hours=1)
    changed = api(admin_user).patch(
        f"/api/v1/agencies/{police.pk}/", {"response_hours": {"emergency": 6}}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    assert expire_at(deadline(sent) + timedelta(seconds=1)) == 1
    later = refer(api(operator), case["id"], police, urgency="emergency")
    assert deadline(later) - datetime.fromisoformat(later["sent_at"]) == timedelta(hours=6)


# --- after expiry: re-send, and the case's refer transition -------------------------------------------


def test_expired_referral_is_resent_to_another_agency(api, operator, police, health, case):
    client = api(operator)
    sent = refer(client, case["id"], police)
    assert expire_at(deadline(sent) + timedelta(minutes=1)) == 1

    same = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": police.pk}, format="json")
    assert same.status_code == 400, same.json()
    assert same.json()["errors"][0]["attr"] == "agency"

    resent = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": health.pk}, format="json")
    assert resent.status_code == 201, resent.json()
    new = resent.json()
    assert new["id"] != sent["id"]
    assert (new["state"], new["resent_from"], new["agency"]["id"]) == ("sent", sent["id"], health.pk)
    assert (new["urgency"], new["service_type"], new["reason"], new["summary"]) == (
        sent["urgency"],
        sent["service_type"],
        sent["reason"],
        sent["summary"],
    )
    assert new["consent_basis"] == "consent"
    assert new["packet"]["referral_id"] == new["id"]
    assert new["respond_by"] is not None
    assert deadline(new) > timezone.now()
    entry = AuditEntry.objects.get(action="referral.create", object_id=str(new["id"]))
    assert (entry.actor, entry.extra["resent_from"], entry.extra["agency_id"]) == (
        operator,
        sent["id"],
        health.pk,
    )
    assert Referral.objects.get(pk=sent["id"]).state == "expired", "the old one stays expired"
    nurse = api(User.objects.get(username="nurse1"))
    assert nurse.get(f"/api/v1/referrals/{new['id']}/").status_code == 200


def test_only_an_expired_or_rejected_referral_is_resent(api, operator, agency_user, police, health, case):
    client = api(operator)
    third = AgencyFactory(helpline=police.helpline, code="social-office", sector="social_services")
    sent = refer(client, case["id"], police)
    response = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": health.pk}, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["errors"][0]["code"] == "referral_not_resendable"

    assert api(agency_user).post(f"/api/v1/referrals/{sent['id']}/accept/").status_code == 200
    response = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": third.pk}, format="json")
    assert response.status_code == 409, response.json()
    assert Referral.objects.filter(case_id=case["id"]).count() == 1


def test_an_expired_referral_is_resent_only_once(api, operator, police, health, case):
    """A repeated re-send (a double click, a retry after a timeout) must not put two live
    referrals for the same expired one in front of agencies."""
    client = api(operator)
    sent = refer(client, case["id"], police)
    assert expire_at(deadline(sent) + timedelta(minutes=1)) == 1
    first = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": health.pk}, format="json")
    assert first.status_code == 201, first.json()
    again = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": health.pk}, format="json")
    assert again.status_code == 409, again.json()
    assert Referral.objects.filter(resent_from_id=sent["id"]).count() == 1


def test_case_refer_transition_needs_a_live_referral(api, operator, police, health, case):
    client = api(operator)
    assert "refer" not in case_transitions(client, case["id"])
    sent = refer(client, case["id"], police)
    assert "refer" in case_transitions(client, case["id"])

    assert expire_at(deadline(sent) + timedelta(minutes=1)) == 1
    assert "refer" not in case_transitions(client, case["id"])
    refused = client.post(f"/api/v1/cases/{case['id']}/transitions/", {"name": "refer"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "transition_conditions_not_met"

    resent = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": health.pk}, format="json")
    assert resent.status_code == 201, resent.json()
    assert "refer" in case_transitions(client, case["id"])
    moved = client.post(f"/api/v1/cases/{case['id']}/transitions/", {"name": "refer"}, format="json")
    assert moved.status_code == 200, moved.json()
    assert moved.json()["state"] == "referral"


def test_case_in_referral_whose_referral_expires_can_be_closed_or_referred_again(
    api, operator, supervisor, police, health, case
):
    # A high-risk case: a supervisor closes it.
    client, lead = api(operator), api(supervisor)
    sent = refer(client, case["id"], police)
    moved = client.post(f"/api/v1/cases/{case['id']}/transitions/", {"name": "refer"}, format="json")
    assert moved.json()["state"] == "referral"
    assert "close" not in case_transitions(lead, case["id"]), "the referral is open"
    assert expire_at(deadline(sent) + timedelta(minutes=1)) == 1
    assert "close" in case_transitions(lead, case["id"])
    # Still referable: the case is in referral, the helpline refers elsewhere.
    resent = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": health.pk}, format="json")
    assert resent.status_code == 201, resent.json()
    assert "close" not in case_transitions(lead, case["id"])


# --- rejection ------------------------------------------------------------------------------------------


def test_rejection_escalates_to_the_cases_operator_and_is_resent(
    api, operator, supervisor, agency_user, police, health, case
):
    client, agency = api(operator), api(agency_user)
    sent = refer(client, case["id"], police)

    without_reason = agency.post(f"/api/v1/referrals/{sent['id']}/reject/", {}, format="json")
    assert without_reason.status_code == 400
    assert without_reason.json()["errors"][0]["attr"] == "reason"
    assert not Escalation.objects.exists()

    rejected = agency.post(
        f"/api/v1/referrals/{sent['id']}/reject/", {"reason": "Outside our district"}, format="json"
    )
    assert rejected.status_code == 200, rejected.json()
    assert (rejected.json()["state"], rejected.json()["rejection_reason"]) == (
        "rejected",
        "Outside our district",
    )

    listed = escalations(client)
    assert [(e["kind"], e["case"], e["referral"]) for e in listed] == [
        ("referral_rejected", case["id"], sent["id"])
    ]
    assert "Outside our district" in listed[0]["detail"]
    assert [e["id"] for e in escalations(api(supervisor))] == [listed[0]["id"]]
    assert escalations(agency) == []
    # A rejected referral is never also expired later, nor escalated twice.
    assert expire_at(deadline(sent) + timedelta(days=1)) == 0
    assert Escalation.objects.count() == 1

    resent = client.post(f"/api/v1/referrals/{sent['id']}/resend/", {"agency": health.pk}, format="json")
    assert resent.status_code == 201, resent.json()
    assert resent.json()["resent_from"] == sent["id"]


def test_escalations_of_other_teams_cases_are_not_shown_to_the_operator(
    api, operator, helpline, police, case
):
    from .factories import OperatorFactory, TeamFactory

    outsider = OperatorFactory(username="night1", helpline=helpline, team=TeamFactory(helpline=helpline))
    sent = refer(api(operator), case["id"], police)
    assert expire_at(deadline(sent) + timedelta(minutes=1)) == 1
    assert len(escalations(api(operator))) == 1
    assert escalations(api(outsider)) == []


# --- the beat task through a real worker ---------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_expires_the_referral_from_the_broker(
    celery_worker, api, operator, supervisor, police, walk_in
):
    # The referral is made two days ago (its 24 h deadline long gone), all through the API.
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        case = walk_in(risk_level="high")
        client = api(operator)
        client.post(f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json")
        consent = {"given_by": "child", "given_at": timezone.now().isoformat(), "scope": ["referral"]}
        assert client.post(f"/api/v1/cases/{case['id']}/consent/", consent, format="json").status_code == 201
        sent = refer(client, case["id"], police)
    assert deadline(sent) < timezone.now()

    expire_unanswered_referrals.delay()
    limit = time.monotonic() + 30
    while Referral.objects.get(pk=sent["id"]).state != "expired":
        assert time.monotonic() < limit, "the worker did not expire the referral in 30 s"
        time.sleep(0.1)
    # The escalation and the audit entry are written in the same transaction as the state.
    escalation = Escalation.objects.get(referral_id=sent["id"])
    assert escalation.kind == "referral_expired"
    entry = AuditEntry.objects.get(action="referral.expire", object_id=str(sent["id"]))
    assert entry.actor is None
    assert entry.request_id.startswith("task-")
    listed = escalations(api(supervisor))
    assert [(e["kind"], e["referral"]) for e in listed] == [("referral_expired", sent["id"])]


def test_beat_schedules_the_expiry_sweep():
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "referrals.tasks.expire_unanswered_referrals" in tasks
    assert "referrals.tasks.expire_unanswered_referrals" in app.tasks
