"""The audit log follows the case rule: a supervisor not on a restricted case's need-to-know list
finds nothing of it in the audit log, its export or a user's activity (not its entries, not its id
in another entry), while the supervisors on the list still read all of it."""

import csv
import io
import json

import pytest

from tests.factories import SupervisorFactory


@pytest.fixture
def outsider(helpline, team):
    """A supervisor of the same helpline, not on the list."""
    return SupervisorFactory(username="outsider", helpline=helpline, team=team)


@pytest.fixture
def restricted(api, supervisor, operator, walk_in):
    """A case opened by `operator`, restricted by `supervisor` to `operator`, then worked on and read
    (its entries: create, restrict, update, reads; `supervisor`'s case list and audit search name it)."""
    case = walk_in(risk_level="high", categories=["runaway"])
    member = api(supervisor)
    assert (
        member.put(f"/api/v1/cases/{case['id']}/access/", {"users": [operator.pk]}, format="json").status_code
        == 200
    )
    assert (
        api(operator)
        .patch(f"/api/v1/cases/{case['id']}/", {"categories": ["bullying"]}, format="json")
        .status_code
        == 200
    )
    assert member.get(f"/api/v1/cases/{case['id']}/").status_code == 200
    assert case["id"] in {row["id"] for row in member.get("/api/v1/cases/").json()["results"]}
    assert member.get("/api/v1/audit/", {"case": case["id"]}).json()["results"]
    return case


def names_case(row: dict, case_id: int) -> bool:
    """Whether an audit row (as the API or the export gives it) is about, or names, the case."""
    extra = row["extra"] if isinstance(row["extra"], dict) else json.loads(row["extra"] or "{}")
    filters = extra.get("filters") or {}
    return (
        str(row["case_id"]) == str(case_id)
        or case_id in extra.get("case_ids", [])
        or str(filters.get("case")) == str(case_id)
    )


def audit_of(client, case_id: int) -> list[dict]:
    return client.get("/api/v1/audit/", {"case": case_id, "page_size": 200}).json()["results"]


def exported(client, **params) -> list[dict]:
    response = client.get("/api/v1/audit/export/", params)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_audit_log_hides_a_restricted_case_from_a_supervisor_not_on_its_list(api, outsider, restricted):
    client = api(outsider)
    assert client.get("/api/v1/audit/", {"case": restricted["id"]}).json()["results"] == []
    page = client.get("/api/v1/audit/", {"page_size": 200})
    assert page.status_code == 200
    assert not [row for row in page.json()["results"] if names_case(row, restricted["id"])]
    assert restricted["reference"] not in page.content.decode()


def test_the_export_hides_a_restricted_case_from_a_supervisor_not_on_its_list(api, outsider, restricted):
    client = api(outsider)
    assert exported(client, case=restricted["id"]) == []
    assert not [row for row in exported(client) if names_case(row, restricted["id"])]


def test_a_users_activity_hides_a_restricted_case_from_a_supervisor_not_on_its_list(
    api, outsider, operator, supervisor, restricted
):
    for actor in (operator, supervisor):
        response = api(outsider).get(f"/api/v1/users/{actor.pk}/activity/", {"page_size": 200})
        assert response.status_code == 200
        assert not [row for row in response.json()["results"] if names_case(row, restricted["id"])]
        assert restricted["reference"] not in response.content.decode()


def test_the_supervisors_on_the_list_still_read_all_of_it(api, supervisor, operator, restricted):
    client = api(supervisor)
    actions = {row["action"] for row in audit_of(client, restricted["id"])}
    assert {"case.create", "case.restrict", "case.update", "case.read"} <= actions
    lists = client.get("/api/v1/audit/", {"action": "case.list"}).json()["results"]
    assert any(restricted["id"] in row["extra"]["case_ids"] for row in lists)
    searches = client.get("/api/v1/audit/", {"action": "audit.list"}).json()["results"]
    assert any(row["extra"]["filters"].get("case") == str(restricted["id"]) for row in searches)
    assert {row["case_id"] for row in exported(client, case=restricted["id"])} == {str(restricted["id"])}
    activity = client.get(f"/api/v1/users/{operator.pk}/activity/").json()["results"]
    assert any(row["case_id"] == restricted["id"] for row in activity)


def test_a_break_glass_grant_opens_the_cases_entries_while_it_lasts(api, outsider, restricted):
    client = api(outsider)
    assert (
        client.post(
            f"/api/v1/cases/{restricted['id']}/break-glass/", {"reason": "Child in danger"}, format="json"
        ).status_code
        == 201
    )
    actions = {row["action"] for row in audit_of(client, restricted["id"])}
    assert {"case.create", "case.restrict", "case.break_glass"} <= actions


def test_a_search_for_a_hidden_case_reads_as_one_for_no_case(api, supervisor, outsider, restricted):
    api(supervisor).get("/api/v1/audit/", {"case": 987654321})
    searches = api(outsider).get("/api/v1/audit/", {"action": "audit.list", "actor": supervisor.pk})
    cases = [row["extra"]["filters"]["case"] for row in searches.json()["results"]]
    assert cases == ["[redacted]", "[redacted]"]  # newest first: no case, then the hidden one
