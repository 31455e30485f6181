"""Every refusal on a route about a case is on the record, bad input (400) included: probing a case
with an empty body leaves an entry like any other refusal. The entry names the case only when the
caller reached it (a 404 never does), so it shows only to whoever may see the case."""

import pytest

from helpline.models import AuditEntry
from tests.factories import SupervisorFactory


@pytest.fixture
def outsider(helpline, team):
    return SupervisorFactory(username="outsider", helpline=helpline, team=team)


@pytest.fixture
def restricted(api, supervisor, operator, walk_in):
    case = walk_in()
    assert (
        api(supervisor)
        .put(f"/api/v1/cases/{case['id']}/access/", {"users": [operator.pk]}, format="json")
        .status_code
        == 200
    )
    return case


def refusals(actor) -> list[tuple[str, int | None, int | None]]:
    return [
        (e.action, e.case_id, e.extra.get("status"))
        for e in AuditEntry.objects.filter(actor=actor, outcome="denied").order_by("id")
    ]


def test_an_empty_break_glass_request_is_recorded_with_its_case(api, outsider, restricted):
    response = api(outsider).post(f"/api/v1/cases/{restricted['id']}/break-glass/", {}, format="json")
    assert response.status_code == 400
    assert refusals(outsider) == [("case.break_glass", restricted["id"], 400)]


def test_the_recorded_probe_shows_only_to_supervisors_who_may_see_the_case(
    api, helpline, team, supervisor, outsider, restricted
):
    api(outsider).post(f"/api/v1/cases/{restricted['id']}/break-glass/", {}, format="json")
    another = SupervisorFactory(username="another", helpline=helpline, team=team)
    seen_by_another = api(another).get("/api/v1/audit/", {"action": "case.break_glass"}).json()["results"]
    assert seen_by_another == []
    seen_by_member = api(supervisor).get("/api/v1/audit/", {"action": "case.break_glass"}).json()["results"]
    assert [(row["actor_username"], row["outcome"]) for row in seen_by_member] == [("outsider", "denied")]


def test_bad_input_on_a_visible_case_is_recorded(api, operator, walk_in):
    case = walk_in()
    client = api(operator)
    assert client.post(f"/api/v1/cases/{case['id']}/transitions/", {}, format="json").status_code == 400
    bad_risk = {"risk_level": "extreme"}
    assert client.patch(f"/api/v1/cases/{case['id']}/", bad_risk, format="json").status_code == 400
    assert client.post(f"/api/v1/cases/{case['id']}/notes/", {}, format="json").status_code == 400
    assert refusals(operator) == [
        ("case.transition", case["id"], 400),
        ("case.update", case["id"], 400),
        ("note.create", case["id"], 400),
    ]


def test_a_refusal_before_the_case_is_looked_up_does_not_name_it(api, outsider, restricted):
    assert api(outsider).delete(f"/api/v1/cases/{restricted['id']}/").status_code == 405
    assert refusals(outsider) == [("api.CaseDetailView.delete", None, 405)]
