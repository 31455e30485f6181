"""Consent for referral is enforced by the server: refused without it, a supervisor may override
with a reason, an emergency to police or health goes on vital interests and alerts the supervisors
at once; cross-border referrals wait for a supervisor's approval."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Escalation
from helpline.crypto import unsealed
from helpline.models import AuditEntry
from referrals.models import Consent, Delivery, Referral

from .factories import AgencyFactory, AgencyUserFactory, HelplineFactory


@pytest.fixture
def case(api, operator, walk_in):
    """A case in assessment, medium risk, worked by `operator`."""
    case = walk_in(child_first_name="Amina", child_age=13)
    client = api(operator)
    assert (
        client.post(
            f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json"
        ).status_code
        == 200
    )
    assert (
        client.patch(f"/api/v1/cases/{case['id']}/", {"risk_level": "medium"}, format="json").status_code
        == 200
    )
    return case


@pytest.fixture
def agencies(helpline, agency_user):
    return {
        "police": agency_user.agency_membership.agency,
        "health": AgencyFactory(helpline=helpline, code="hospital", sector="health"),
        "social": AgencyFactory(helpline=helpline, code="social", sector="social_services"),
        "abroad": AgencyFactory(helpline=helpline, code="ug-shelter", sector="shelter", country="UG"),
    }


def consent(client, case, scope=("referral", "information_sharing"), **fields):
    body = {"given_by": "child", "given_at": timezone.now().isoformat(), "scope": list(scope), **fields}
    return client.post(f"/api/v1/cases/{case['id']}/consent/", body, format="json")


def refer(client, case, agency, urgency="urgent", **fields):
    body = {
        "agency": agency.pk,
        "service_type": "protection",
        "urgency": urgency,
        "reason": "Abuse at home",
        "summary": "Child needs a safe place.",
        **fields,
    }
    return client.post(f"/api/v1/cases/{case['id']}/referrals/", body, format="json")


def codes(response):
    return [e["code"] for e in response.json()["errors"]]


def test_referral_without_consent_is_refused_and_recorded(api, operator, case, agencies):
    response = refer(api(operator), case, agencies["social"])

    assert response.status_code == 409, response.json()
    assert codes(response) == ["consent_required"]
    assert not Referral.objects.exists()
    denied = AuditEntry.objects.get(action="referral.create", outcome="denied")
    assert (denied.actor, denied.case_id) == (operator, case["id"])


def test_recorded_consent_lets_the_operator_refer(api, operator, case, agencies):
    client = api(operator)
    recorded = consent(client, case)
    assert recorded.status_code == 201, recorded.json()

    response = refer(client, case, agencies["social"])

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["state"], body["consent_basis"]) == ("sent", "consent")
    referral = Referral.objects.get()
    assert referral.consent_id == recorded.json()["id"]
    assert AuditEntry.objects.filter(action="consent.record", case_id=case["id"], actor=operator).exists()
    assert AuditEntry.objects.filter(
        action="referral.create", outcome="allowed", object_id=str(referral.pk)
    ).exists()


@pytest.mark.parametrize("scope", [(), ("information_sharing",)], ids=["refused", "sharing-only"])
def test_consent_that_does_not_cover_referral_is_no_consent(api, operator, case, agencies, scope):
    client = api(operator)
    assert consent(client, case, scope=scope).status_code == 201

    assert codes(refer(client, case, agencies["social"])) == ["consent_required"]


def test_withdrawn_consent_no_longer_counts(api, operator, case, agencies):
    client = api(operator)
    assert consent(client, case).status_code == 201
    assert consent(client, case, scope=()).status_code == 201  # withdrawn

    assert codes(refer(client, case, agencies["social"])) == ["consent_required"]
    records = client.get(f"/api/v1/cases/{case['id']}/consent/").json()
    assert [r["scope"] for r in records] == [[], ["information_sharing", "referral"]]
    assert records[0]["withdrawn_at"] is None and records[1]["withdrawn_at"] is not None


def test_only_a_supervisor_overrides_missing_consent_and_it_is_audited(
    api, operator, supervisor, case, agencies
):
    response = refer(api(operator), case, agencies["social"], override_reason="Child at risk tonight")
    assert response.status_code == 403, response.json()
    assert not Referral.objects.exists()

    response = refer(api(supervisor), case, agencies["social"], override_reason="Child at risk tonight")

    assert response.status_code == 201, response.json()
    assert response.json()["consent_basis"] == "supervisor_override"
    entry = AuditEntry.objects.get(action="referral.create", outcome="allowed")
    assert entry.actor == supervisor
    assert "Child at risk" not in str(entry.extra)  # sealed under the case's key
    assert unsealed(entry.extra, case_id=entry.case_id, keys={})["override_reason"] == "Child at risk tonight"
    assert entry.extra["consent_basis"] == "supervisor_override"


@pytest.mark.parametrize("sector", ["police", "health"])
def test_emergency_to_police_or_health_goes_without_consent_and_alerts_supervisors(
    api, operator, supervisor, case, agencies, sector
):
    response = refer(api(operator), case, agencies[sector], urgency="emergency")

    assert response.status_code == 201, response.json()
    assert response.json()["consent_basis"] == "vital_interests"
    escalation = Escalation.objects.get(kind="emergency_referral")
    assert escalation.referral_id == response.json()["id"]
    listed = api(supervisor).get("/api/v1/escalations/").json()["results"]
    assert [(e["kind"], e["referral"]) for e in listed] == [("emergency_referral", response.json()["id"])]
    assert AuditEntry.objects.filter(action="referral.escalate", case_id=case["id"]).exists()


@pytest.mark.parametrize(
    ("agency", "urgency"), [("social", "emergency"), ("police", "urgent"), ("health", "routine")]
)
def test_vital_interests_cover_only_emergencies_to_police_or_health(
    api, operator, case, agencies, agency, urgency
):
    response = refer(api(operator), case, agencies[agency], urgency=urgency)

    assert response.status_code == 409, response.json()
    assert codes(response) == ["consent_required"]
    assert not Escalation.objects.exists()


def test_cross_border_referral_waits_for_a_supervisor(api, operator, supervisor, case, agencies, helpline):
    client = api(operator)
    consent(client, case)
    abroad_user = AgencyUserFactory(username="ugshelter1", helpline=helpline, agency=agencies["abroad"])

    response = refer(client, case, agencies["abroad"])

    assert response.status_code == 201, response.json()
    referral = response.json()
    assert referral["state"] == "awaiting_approval"
    assert referral["sent_at"] is None and referral["packet"] == {}
    assert not Delivery.objects.exists()
    # Not sent, so not there for the agency at all.
    assert api(abroad_user).get(f"/api/v1/referrals/{referral['id']}/").status_code == 404
    assert client.post(f"/api/v1/referrals/{referral['id']}/approve/", {}, format="json").status_code == 403

    approved = api(supervisor).post(f"/api/v1/referrals/{referral['id']}/approve/", {}, format="json")

    assert approved.status_code == 200, approved.json()
    assert approved.json()["state"] == "sent"
    stored = Referral.objects.get(pk=referral["id"])
    assert stored.approved_by == supervisor
    seen = api(abroad_user).get(f"/api/v1/referrals/{referral['id']}/")
    assert seen.status_code == 200
    assert seen.json()["packet"]["reference"] == case["reference"]


def test_supervisor_sends_a_cross_border_referral_directly(api, supervisor, case, agencies):
    client = api(supervisor)
    consent(client, case)

    response = refer(client, case, agencies["abroad"])

    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "sent"
    assert Referral.objects.get().approved_by == supervisor


@pytest.mark.parametrize("state", ["intake", "closed"])
def test_only_cases_in_assessment_referral_or_follow_up_are_referred(api, operator, walk_in, agencies, state):
    case = walk_in(call_type="prank")
    client = api(operator)
    if state == "closed":
        client.post(
            f"/api/v1/cases/{case['id']}/transitions/", {"name": "dismiss", "reason": "Prank"}, format="json"
        )
    consent(client, case)

    response = refer(client, case, agencies["police"], urgency="emergency")

    assert response.status_code == 409, response.json()
    assert codes(response) == ["case_not_referable"]
    assert not Referral.objects.exists()


def test_agency_must_be_the_helplines_active_agency_offering_the_service(api, operator, case, agencies):
    client = api(operator)
    consent(client, case)
    foreign = AgencyFactory(helpline=HelplineFactory(code="OTHER"), code="police")
    inactive = AgencyFactory(helpline=agencies["police"].helpline, code="closed", is_active=False)
    picky = AgencyFactory(helpline=agencies["police"].helpline, code="picky", service_types=["medical_care"])

    for agency, attr in ((foreign, "agency"), (inactive, "agency"), (picky, "service_type")):
        response = refer(client, case, agency)
        assert response.status_code == 400, response.json()
        assert [e["attr"] for e in response.json()["errors"]] == [attr]
    assert refer(client, case, picky, service_type="medical_care").status_code == 201
    assert Referral.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"given_by": "neighbour", "given_at": "2026-01-01T00:00:00Z", "scope": ["referral"]},
        {"given_by": "child", "given_at": "not a date", "scope": ["referral"]},
        {"given_by": "child", "given_at": "2026-01-01T00:00:00Z", "scope": ["everything"]},
        {"given_by": "child", "given_at": "2026-01-01T00:00:00Z", "scope": "referral"},
        {"given_by": "child", "scope": ["referral"]},
    ],
)
def test_malformed_consent_is_400_and_nothing_is_recorded(api, operator, case, body):
    response = api(operator).post(f"/api/v1/cases/{case['id']}/consent/", body, format="json")

    assert response.status_code == 400, response.json()
    assert not Consent.objects.exists()


def test_consent_in_the_future_is_400(api, operator, case):
    response = consent(api(operator), case, given_at=(timezone.now() + timedelta(days=1)).isoformat())

    assert response.status_code == 400, response.json()
    assert not Consent.objects.exists()


@pytest.mark.parametrize("role", ["agency_user", "admin_user"])
def test_agencies_and_admins_cannot_reach_a_cases_consent_or_referrals(request, api, case, agencies, role):
    client = api(request.getfixturevalue(role))

    assert client.get(f"/api/v1/cases/{case['id']}/consent/").status_code == 404
    assert consent(client, case).status_code == 404
    assert client.get(f"/api/v1/cases/{case['id']}/referrals/").status_code == 404
    assert refer(client, case, agencies["police"], urgency="emergency").status_code == 404
    assert not Referral.objects.exists() and not Consent.objects.exists()
