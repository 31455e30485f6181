"""A case's history (/api/v1/cases/{id}/history/) names another case (a link's other case, a merge's
survivor or duplicate) only to a reader who may see that case: a supervisor off a restricted case's
need-to-know list reads the visible case's history without learning the restricted case's id."""

import pytest

from . import factories


@pytest.mark.django_db
def test_the_history_of_a_case_linked_to_a_restricted_case_hides_that_case(
    api, supervisor, walk_in, helpline, team
):
    visible, hidden = walk_in(supervisor)["id"], walk_in(supervisor)["id"]
    client = api(supervisor)
    assert client.put(f"/api/v1/cases/{hidden}/access/", {"users": []}, format="json").status_code == 200
    created = client.post(
        f"/api/v1/cases/{visible}/links/", {"case": hidden, "kind": "same_family"}, format="json"
    )
    assert created.status_code == 201
    outsider = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
    assert api(outsider).get(f"/api/v1/cases/{hidden}/").status_code == 404

    response = api(outsider).get(f"/api/v1/cases/{visible}/history/", {"page_size": 200})

    assert response.status_code == 200
    rows = response.json()["results"]
    link_rows = [row for row in rows if row["action"] == "case.link.create"]
    assert len(link_rows) == 1 and link_rows[0]["extra"]["case_ids"] == []
    for row in rows:
        assert hidden not in (row["extra"].get("case_ids") or [])
        assert row["case_id"] != hidden
    # The supervisor on the list still reads it.
    own = client.get(f"/api/v1/cases/{visible}/history/", {"page_size": 200}).json()["results"]
    assert [row["extra"]["case_ids"] for row in own if row["action"] == "case.link.create"] == [[hidden]]
