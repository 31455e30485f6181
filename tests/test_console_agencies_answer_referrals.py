"""An agency user answers referrals in the console's inbox: they see the packet the helpline sent
(never the case), accept, reject with a reason, post progress and complete with an outcome, each
written by the referrals' services (state, audit entry, the helpline told)."""

import json

import pytest

from helpline.models import AuditEntry
from referrals.models import AgencyMembership, Referral, ReferralUpdate
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def referral(helpline, agency_user):
    agency = AgencyMembership.objects.get(user=agency_user).agency
    case = factories.CaseFactory(helpline=helpline, state="referral", child_first_name="Saraa")
    packet = {"reference": case.reference, "summary": "Please visit", "child": {"initials": "S."}}
    return factories.ReferralFactory(case=case, agency=agency, packet_json=json.dumps(packet))


def test_the_inbox_lists_the_agencys_referrals_and_shows_the_packet_only(agency_user, referral):
    client = sign_in(agency_user)
    inbox = client.get("/console/referrals/")
    assert inbox.status_code == 200
    assert referral.case.reference in inbox.content.decode()
    page = client.get(f"/console/referrals/{referral.pk}/").content.decode()
    assert "Please visit" in page
    assert "Saraa" not in page  # the case's own data is not the agency's
    assert AuditEntry.objects.filter(actor=agency_user, action="referral.read").exists()


def test_accept_then_update_then_complete(agency_user, referral):
    client = sign_in(agency_user)
    path = f"/console/referrals/{referral.pk}/"
    assert client.post(path, {"answer": "accept", "expected_state": "sent"}).status_code == 302
    referral.refresh_from_db()
    assert referral.state == "accepted"
    assert client.post(path, {"answer": "update", "body": "Visited today"}).status_code == 302
    assert ReferralUpdate.objects.filter(referral=referral).count() == 1
    done = client.post(
        path, {"answer": "complete", "outcome": "child_safe", "outcome_note": "Safe with aunt"}
    )
    assert done.status_code == 302
    referral.refresh_from_db()
    assert (referral.state, referral.outcome) == ("completed", "child_safe")
    actions = set(AuditEntry.objects.filter(actor=agency_user).values_list("action", flat=True))
    assert {"referral.accept", "referral.complete"} <= actions


def test_a_rejection_needs_a_reason(agency_user, referral):
    client = sign_in(agency_user)
    path = f"/console/referrals/{referral.pk}/"
    refused = client.post(path, {"answer": "reject"})
    assert refused.status_code == 400
    assert Referral.objects.get(pk=referral.pk).state == "sent"
    assert client.post(path, {"answer": "reject", "reason": "Outside our area"}).status_code == 302
    assert Referral.objects.get(pk=referral.pk).state == "rejected"


def test_an_answer_on_a_referral_that_moved_on_is_refused(agency_user, referral):
    client = sign_in(agency_user)
    path = f"/console/referrals/{referral.pk}/"
    client.post(path, {"answer": "accept", "expected_state": "sent"})
    again = client.post(path, {"answer": "accept", "expected_state": "sent"})
    assert again.status_code == 409
    assert client.post(path, {"answer": "shrug"}).status_code == 400


def test_progress_reads_as_from_the_agency_or_the_helpline(agency_user, referral):
    client = sign_in(agency_user)
    path = f"/console/referrals/{referral.pk}/"
    client.post(path, {"answer": "accept", "expected_state": "sent"})
    client.post(path, {"answer": "update", "body": "Visited today"})
    page = client.get(path).content.decode()
    assert "The agency: Visited today" in page
    assert f"{agency_user.username}: Visited today" not in page
