"""Agencies post progress on accepted referrals and it shows on the case; the helpline's updates go
to the agency (which never reads the case) as updates too."""

import pytest

from helpline.models import AuditEntry
from referrals.models import ReferralUpdate

from .factories import CaseFactory, ReferralFactory


@pytest.fixture
def make_referral(helpline, team, operator, agency_user):
    def make(state="accepted"):
        case = CaseFactory(
            helpline=helpline, team=team, assigned_to=operator, state="referral", risk_level="medium"
        )
        return ReferralFactory(
            case=case, agency=agency_user.agency_membership.agency, created_by=operator, state=state
        )

    return make


@pytest.fixture
def referral(make_referral):
    return make_referral()


def post_update(client, referral, body):
    return client.post(f"/api/v1/referrals/{referral.pk}/updates/", {"body": body}, format="json")


def test_agency_progress_update_shows_on_the_case(api, operator, agency_user, referral):
    response = post_update(api(agency_user), referral, "Officer visited the family; child safe tonight.")

    assert response.status_code == 201, response.json()
    assert response.json()["from_party"] == "agency"
    on_case = api(operator).get(f"/api/v1/cases/{referral.case_id}/referrals/").json()
    assert [u["body"] for u in on_case[0]["updates"]] == ["Officer visited the family; child safe tonight."]
    entry = AuditEntry.objects.get(action="referral.post_update", outcome="allowed")
    assert (entry.actor, entry.case_id) == (agency_user, referral.case_id)
    assert "child safe tonight" not in str(entry.changes) + str(entry.extra)


@pytest.mark.parametrize("state", ["sent", "completed", "withdrawn", "rejected", "expired"])
def test_agency_posts_updates_only_on_accepted_referrals(api, agency_user, make_referral, state):
    referral = make_referral(state)

    response = post_update(api(agency_user), referral, "Progress")

    assert response.status_code == 409, response.json()
    assert response.json()["errors"][0]["code"] == "referral_not_open_for_updates"
    assert not ReferralUpdate.objects.exists()


def test_helpline_update_reaches_the_agency_as_an_update(api, operator, agency_user, referral):
    response = post_update(api(operator), referral, "The child has moved to her aunt's house.")

    assert response.status_code == 201, response.json()
    assert response.json()["from_party"] == "helpline"
    seen = api(agency_user).get(f"/api/v1/referrals/{referral.pk}/").json()
    assert [u["body"] for u in seen["updates"]] == ["The child has moved to her aunt's house."]


@pytest.mark.parametrize("body", [{}, {"body": ""}, {"body": ["x"]}, {"body": "x" * 5001}])
def test_malformed_update_is_400_and_stores_nothing(api, agency_user, referral, body):
    response = api(agency_user).post(f"/api/v1/referrals/{referral.pk}/updates/", body, format="json")

    assert response.status_code == 400, response.json()
    assert not ReferralUpdate.objects.exists()
