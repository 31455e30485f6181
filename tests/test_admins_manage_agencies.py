"""Administrators register and maintain partner agencies; others see only what they need."""

import pytest

from helpline.models import AuditEntry
from referrals.models import Agency
from tests.factories import AdminFactory, AgencyFactory, HelplineFactory


def test_admin_registers_an_agency_in_their_helpline(api, admin_user, helpline):
    response = api(admin_user).post(
        "/api/v1/agencies/", {"code": "shelter", "name": "Safe House", "sector": "shelter"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["helpline"] == helpline.code
    entry = AuditEntry.objects.get(action="agency.create")
    assert entry.changes["code"] == {"before": None, "after": "shelter"}
    duplicate = api(admin_user).post(
        "/api/v1/agencies/", {"code": "shelter", "name": "Other", "sector": "shelter"}, format="json"
    )
    assert duplicate.status_code == 400
    assert Agency.objects.count() == 1


def test_helpline_admin_cannot_register_agencies_for_another_helpline(api, admin_user):
    other = HelplineFactory(code="ELSE")
    response = api(admin_user).post(
        "/api/v1/agencies/",
        {"code": "x", "name": "X", "sector": "police", "helpline": other.pk},
        format="json",
    )
    # As for a helpline that does not exist (issue #13, leak 8b).
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "does_not_exist"
    assert not Agency.objects.exists()


def test_platform_admin_names_the_helpline(api, helpline):
    platform = AdminFactory(helpline=None)
    body = {"code": "police", "name": "Police", "sector": "police"}
    assert api(platform).post("/api/v1/agencies/", body, format="json").status_code == 400
    response = api(platform).post("/api/v1/agencies/", {**body, "helpline": helpline.pk}, format="json")
    assert response.status_code == 201


def test_admin_deactivates_an_agency_and_staff_stop_seeing_it(api, admin_user, operator, helpline):
    agency = AgencyFactory(helpline=helpline)
    assert [a["id"] for a in api(operator).get("/api/v1/agencies/").json()["results"]] == [agency.pk]
    response = api(admin_user).patch(f"/api/v1/agencies/{agency.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert api(operator).get("/api/v1/agencies/").json()["results"] == []
    assert AuditEntry.objects.get(action="agency.update").changes["is_active"] == {
        "before": True,
        "after": False,
    }


@pytest.mark.parametrize("fixture", ["operator", "supervisor", "agency_user"])
def test_only_admins_write_agencies(request, api, helpline, fixture):
    agency = AgencyFactory(helpline=helpline)
    client = api(request.getfixturevalue(fixture))
    create = client.post("/api/v1/agencies/", {"code": "x", "name": "X", "sector": "police"}, format="json")
    assert create.status_code == 403
    update = client.patch(f"/api/v1/agencies/{agency.pk}/", {"name": "Renamed"}, format="json")
    assert update.status_code in (403, 404)
    agency.refresh_from_db()
    assert agency.name != "Renamed"


def test_agency_users_see_only_their_own_agency(api, agency_user, helpline):
    AgencyFactory(helpline=helpline)
    listed = api(agency_user).get("/api/v1/agencies/").json()["results"]
    assert [a["id"] for a in listed] == [agency_user.agency_membership.agency_id]


def test_agency_of_another_helpline_is_404(api, admin_user):
    elsewhere = AgencyFactory(helpline=HelplineFactory(code="ELSE"))
    assert api(admin_user).get(f"/api/v1/agencies/{elsewhere.pk}/").status_code == 404
    assert (
        api(admin_user).patch(f"/api/v1/agencies/{elsewhere.pk}/", {"name": "x"}, format="json").status_code
        == 404
    )
