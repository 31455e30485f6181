"""Supervisors search, page through and export the audit log, and read one user's activity."""

import csv
import io

import pytest

from helpline.models import AuditEntry
from tests.factories import HelplineFactory, OperatorFactory, SupervisorFactory


@pytest.fixture
def activity(api, operator, other_operator, walk_in):
    first = walk_in()
    second = walk_in(user=other_operator)
    api(operator).get(f"/api/v1/cases/{second['id']}/")
    api(operator).post(
        f"/api/v1/cases/{first['id']}/transitions/", {"name": "close", "reason": "x"}, format="json"
    )
    return first, second


def test_audit_log_filters_by_case_actor_action_and_outcome(api, supervisor, operator, activity):
    first, _ = activity
    client = api(supervisor)
    by_case = client.get("/api/v1/audit/", {"case": first["id"]}).json()["results"]
    assert {row["case_id"] for row in by_case} == {first["id"]}
    by_actor = client.get("/api/v1/audit/", {"actor": operator.pk}).json()["results"]
    assert {row["actor_username"] for row in by_actor} == {operator.username}
    reads = client.get("/api/v1/audit/", {"action": "case.read"}).json()["results"]
    assert [row["action"] for row in reads] == ["case.read"]
    transitions = client.get("/api/v1/audit/", {"action": "case.transition."}).json()["results"]
    assert [(row["action"], row["outcome"]) for row in transitions] == [("case.transition.close", "denied")]
    denied = client.get("/api/v1/audit/", {"outcome": "denied"}).json()["results"]
    assert {row["action"] for row in denied} == {"case.transition.close"}
    assert client.get("/api/v1/audit/", {"outcome": "maybe"}).status_code == 400
    assert client.get("/api/v1/audit/", {"at_after": "yesterday"}).status_code == 400


def test_audit_log_is_cursor_paginated_newest_first(api, supervisor, activity):
    client = api(supervisor)
    seen, url, params = [], "/api/v1/audit/", {"page_size": 2}
    while url:
        body = client.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        url, params = body["next"], None
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) >= 6


def test_searching_the_audit_log_is_itself_recorded(api, supervisor, activity):
    api(supervisor).get("/api/v1/audit/", {"action": "case.read"})
    entry = AuditEntry.objects.get(action="audit.list", actor=supervisor)
    assert entry.extra["filters"] == {"action": "case.read"}


@pytest.mark.parametrize("fixture", ["operator", "admin_user", "agency_user"])
def test_only_supervisors_read_the_audit_log(request, api, activity, fixture):
    client = api(request.getfixturevalue(fixture))
    assert client.get("/api/v1/audit/").json()["results"] == []
    assert client.get("/api/v1/audit/export/").content.decode().count("\n") == 1  # header only


def test_supervisor_of_another_helpline_sees_none_of_it(api, activity):
    outsider = SupervisorFactory(helpline=HelplineFactory(code="ELSE"))
    actions = {row["action"] for row in api(outsider).get("/api/v1/audit/").json()["results"]}
    assert actions <= {"audit.list"}


def test_export_is_csv_of_the_filtered_query_and_is_audited(api, supervisor, activity):
    first, _ = activity
    response = api(supervisor).get("/api/v1/audit/export/", {"case": first["id"]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["case_id"] for row in rows} == {str(first["id"])}
    assert [row["action"] for row in rows][:2] == ["case.create", "contact.create"]
    export = AuditEntry.objects.get(action="audit.export", actor=supervisor)
    assert export.extra == {"filters": {"case": str(first["id"])}, "count": len(rows)}


def test_supervisor_reads_one_users_activity(api, supervisor, operator, activity):
    rows = api(supervisor).get(f"/api/v1/users/{operator.pk}/activity/").json()["results"]
    assert [row["action"] for row in rows] == [
        "case.create",
        "contact.create",
        "case.read",
        "case.transition.close",
    ]
    assert AuditEntry.objects.filter(
        action="user.activity", actor=supervisor, object_id=str(operator.pk)
    ).exists()


def test_activity_of_a_user_outside_the_helpline_is_404(api, supervisor, operator, activity):
    stranger = OperatorFactory(helpline=HelplineFactory(code="ELSE"))
    assert api(supervisor).get(f"/api/v1/users/{stranger.pk}/activity/").status_code == 404
    assert api(operator).get(f"/api/v1/users/{operator.pk}/activity/").status_code == 404
    assert AuditEntry.objects.filter(action="user.activity", outcome="denied").count() == 2
