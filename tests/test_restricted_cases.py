"""Restricted cases are need-to-know: only the people on the list see them, supervisors included,
and a supervisor may break the glass in an emergency, on the record and for review."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseAccess
from cases.services import escalate_overdue_cases
from helpline.crypto import unsealed
from helpline.models import AuditEntry
from tests.factories import AgencyUserFactory, HelplineFactory, OperatorFactory, SupervisorFactory


@pytest.fixture
def second_supervisor(helpline, team):
    return SupervisorFactory(username="supervisor2", helpline=helpline, team=team)


@pytest.fixture
def restricted(api, supervisor, operator, walk_in):
    """A case in the team's intake, restricted by `supervisor` to `operator`."""
    case = walk_in(risk_level="high")
    response = api(supervisor).put(
        f"/api/v1/cases/{case['id']}/access/", {"users": [operator.pk]}, format="json"
    )
    assert response.status_code == 200, response.json()
    return case


def sees(client, case) -> bool:
    detail = client.get(f"/api/v1/cases/{case['id']}/").status_code
    listed = case["id"] in {row["id"] for row in client.get("/api/v1/cases/").json()["results"]}
    searched = client.get("/api/v1/cases/", {"reference": case["reference"]}).json()["results"]
    assert (detail == 200) == listed == bool(searched), "detail, list and search disagree"
    return detail == 200


def test_only_the_need_to_know_list_sees_a_restricted_case(
    api, supervisor, second_supervisor, operator, other_operator, restricted
):
    assert sees(api(operator), restricted)
    assert sees(api(supervisor), restricted)  # whoever restricts stays on the list
    assert not sees(api(other_operator), restricted)  # same team, not on the list
    assert not sees(api(second_supervisor), restricted)  # other supervisors too
    body = api(supervisor).get(f"/api/v1/cases/{restricted['id']}/access/").json()
    assert body["restricted"] is True
    assert {u["username"] for u in body["need_to_know"]} == {operator.username, supervisor.username}
    entry = AuditEntry.objects.get(action="case.restrict", case_id=restricted["id"])
    assert entry.extra["need_to_know"] == sorted([operator.pk, supervisor.pk])


def test_a_hidden_restricted_case_answers_404_on_every_route(api, other_operator, restricted):
    client = api(other_operator)
    base = f"/api/v1/cases/{restricted['id']}/"
    assert client.get(base).status_code == 404
    assert client.patch(base, {"risk_level": "low"}, format="json").status_code == 404
    assert client.post(base + "transitions/", {"name": "start_assessment"}, format="json").status_code == 404
    assert client.get(base + "notes/").status_code == 404
    contacts = client.get("/api/v1/contacts/").json()["results"]
    assert restricted["id"] not in {c["case"] for c in contacts}


def test_escalations_of_a_restricted_case_stay_on_the_list(api, second_supervisor, supervisor, restricted):
    from cases.models import Case

    Case.objects.filter(pk=restricted["id"]).update(next_action_due_at=timezone.now() - timedelta(minutes=1))
    escalate_overdue_cases()
    assert len(api(supervisor).get("/api/v1/escalations/").json()["results"]) == 1
    assert api(second_supervisor).get("/api/v1/escalations/").json()["results"] == []


def test_replacing_the_list_removes_access(api, supervisor, operator, other_operator, restricted):
    client = api(supervisor)
    client.put(f"/api/v1/cases/{restricted['id']}/access/", {"users": [other_operator.pk]}, format="json")
    assert sees(api(other_operator), restricted)
    assert not sees(api(operator), restricted)


def test_patching_restricted_keeps_only_the_supervisor_and_unrestricting_reopens(
    api, supervisor, operator, walk_in
):
    case = walk_in()
    client = api(supervisor)
    assert (
        client.patch(f"/api/v1/cases/{case['id']}/", {"restricted": True}, format="json").status_code == 200
    )
    assert not sees(api(operator), case)
    assert sees(client, case)
    assert (
        client.patch(f"/api/v1/cases/{case['id']}/", {"restricted": False}, format="json").status_code == 200
    )
    assert sees(api(operator), case)


def test_operators_cannot_restrict(api, operator, walk_in):
    case = walk_in()
    assert (
        api(operator).patch(f"/api/v1/cases/{case['id']}/", {"restricted": True}, format="json").status_code
        == 403
    )
    response = api(operator).put(f"/api/v1/cases/{case['id']}/access/", {"users": []}, format="json")
    assert response.status_code == 403
    assert not CaseAccess.objects.exists()


@pytest.mark.parametrize("who", ["stranger", "agency", "unknown"])
def test_need_to_know_list_takes_only_staff_of_the_helpline(api, supervisor, walk_in, who):
    case = walk_in()
    user_id = {
        "stranger": lambda: OperatorFactory(helpline=HelplineFactory(code="ELSE")).pk,
        "agency": lambda: AgencyUserFactory(helpline=supervisor.helpline).pk,
        "unknown": lambda: 987654,
    }[who]()
    response = api(supervisor).put(f"/api/v1/cases/{case['id']}/access/", {"users": [user_id]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"].startswith("users")
    assert not CaseAccess.objects.exists()


def test_break_glass_opens_a_restricted_case_for_a_limited_time_on_the_record(
    api, supervisor, second_supervisor, restricted
):
    client = api(second_supervisor)
    assert (
        client.post(
            f"/api/v1/cases/{restricted['id']}/break-glass/", {"reason": ""}, format="json"
        ).status_code
        == 400
    )
    response = client.post(
        f"/api/v1/cases/{restricted['id']}/break-glass/",
        {"reason": "Child in danger, list holder off duty"},
        format="json",
    )
    assert response.status_code == 201
    grant = response.json()
    assert sees(client, restricted)
    read = AuditEntry.objects.filter(
        action="case.read", actor=second_supervisor, case_id=restricted["id"]
    ).first()
    assert read.extra == {"break_glass": True}
    # The reason is sealed under the case's key (erased with the case), opened for readers.
    entry = AuditEntry.objects.get(action="case.break_glass", outcome="allowed")
    assert "Child in danger" not in str(entry.extra)
    opened = unsealed(entry.extra, case_id=entry.case_id, keys={})
    assert opened["reason"] == "Child in danger, list holder off duty"

    # Listed for review; the one who broke the glass cannot review themself.
    listed = api(supervisor).get("/api/v1/break-glass/", {"reviewed": "false"}).json()["results"]
    assert [row["id"] for row in listed] == [grant["id"]]
    assert client.post(f"/api/v1/break-glass/{grant['id']}/review/").status_code == 403
    assert api(supervisor).post(f"/api/v1/break-glass/{grant['id']}/review/").status_code == 200
    assert api(supervisor).post(f"/api/v1/break-glass/{grant['id']}/review/").status_code == 409
    assert api(supervisor).get("/api/v1/break-glass/", {"reviewed": "false"}).json()["results"] == []

    # When the grant expires, the case is gone again.
    CaseAccess.objects.filter(pk=grant["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not sees(client, restricted)


@pytest.mark.parametrize("target", ["unrestricted", "unknown", "other_helpline"])
def test_break_glass_only_on_restricted_cases_of_the_helpline(api, supervisor, walk_in, target):
    from tests.factories import CaseFactory

    case_id = {
        "unrestricted": lambda: walk_in()["id"],
        "unknown": lambda: 987654,
        "other_helpline": lambda: CaseFactory(helpline=HelplineFactory(code="ELSE"), restricted=True).pk,
    }[target]()
    response = api(supervisor).post(f"/api/v1/cases/{case_id}/break-glass/", {"reason": "x"}, format="json")
    assert response.status_code == 404
    assert AuditEntry.objects.get(action="case.break_glass").outcome == "denied"


def test_operators_cannot_break_the_glass(api, other_operator, restricted):
    response = api(other_operator).post(
        f"/api/v1/cases/{restricted['id']}/break-glass/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 404
    assert not CaseAccess.objects.filter(kind="break_glass").exists()
