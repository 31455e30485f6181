"""A referral whose packet leaves the agency nothing its sector needs to act on (the consent's
scope withheld the child's identity, or the case has none of it recorded) is made all the same,
and the 201 answer warns the operator with `packet_not_actionable` and the fields the sector
needs; a packet the sector can act on carries no warning. The warning is on the audit record."""

import pytest
from django.utils import timezone

from helpline.models import AuditEntry
from referrals.models import Referral

from .factories import AgencyFactory


@pytest.fixture
def case(api, operator, walk_in):
    """A case in assessment with the child's first name and where they are."""
    case = walk_in(child_first_name="Amina", child_age=13, child_location="Behind the market")
    response = api(operator).post(
        f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json"
    )
    assert response.status_code == 200, response.json()
    return case


def consent(client, case, scope):
    body = {"given_by": "child", "given_at": timezone.now().isoformat(), "scope": list(scope)}
    response = client.post(f"/api/v1/cases/{case['id']}/consent/", body, format="json")
    assert response.status_code == 201, response.json()


def refer(client, case, agency):
    body = {
        "agency": agency.pk,
        "service_type": "protection",
        "urgency": "urgent",
        "reason": "Abuse at home",
        "summary": "Child needs help.",
    }
    return client.post(f"/api/v1/cases/{case['id']}/referrals/", body, format="json")


def test_referral_without_information_sharing_warns_that_police_cannot_act(api, operator, helpline, case):
    police = AgencyFactory(helpline=helpline, sector="police")
    client = api(operator)
    consent(client, case, ["referral"])

    response = refer(client, case, police)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert [w["code"] for w in body["warnings"]] == ["packet_not_actionable"]
    warning = body["warnings"][0]
    assert warning["missing"] == [
        "child.first_name",
        "child.location",
        "child.safe_contact",
        "reporter.phone",
    ]
    assert "information_sharing" in warning["detail"]
    # Made and sent all the same: the packet has the initials, not the name.
    referral = Referral.objects.get(pk=body["id"])
    assert referral.state == "sent"
    assert referral.packet["child"]["initials"] == "A." and "first_name" not in referral.packet["child"]
    entry = AuditEntry.objects.get(action="referral.create", outcome="allowed")
    assert entry.extra["warnings"] == ["packet_not_actionable"]


def test_referral_with_information_sharing_has_no_warning(api, operator, helpline, case):
    police = AgencyFactory(helpline=helpline, sector="police")
    client = api(operator)
    consent(client, case, ["referral", "information_sharing"])

    response = refer(client, case, police)

    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == []
    assert response.json()["packet"]["child"]["first_name"] == "Amina"
    assert AuditEntry.objects.get(action="referral.create", outcome="allowed").extra["warnings"] == []


def test_legal_aid_without_a_way_to_reach_the_child_is_warned_even_with_consent(
    api, operator, helpline, case
):
    legal_aid = AgencyFactory(helpline=helpline, sector="legal_aid")
    client = api(operator)
    consent(client, case, ["referral", "information_sharing"])

    response = refer(client, case, legal_aid)

    assert response.status_code == 201, response.json()
    (warning,) = response.json()["warnings"]
    assert warning["code"] == "packet_not_actionable" and warning["missing"] == ["child.safe_contact"]
    assert "none of these details recorded" in warning["detail"]


def test_a_sector_that_acts_on_what_it_always_gets_is_not_warned(api, operator, helpline, case):
    school = AgencyFactory(helpline=helpline, sector="education")
    client = api(operator)
    consent(client, case, ["referral"])

    response = refer(client, case, school)

    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == []


def test_a_cross_border_referral_awaiting_approval_is_warned_before_it_is_sent(api, operator, helpline, case):
    abroad = AgencyFactory(
        helpline=helpline, sector="shelter", country="UG" if helpline.country != "UG" else "KE"
    )
    client = api(operator)
    consent(client, case, ["referral"])

    response = refer(client, case, abroad)

    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "awaiting_approval"
    assert [w["code"] for w in response.json()["warnings"]] == ["packet_not_actionable"]
