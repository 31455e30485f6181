"""`GET /api/v1/contacts/?case=<id>` reads through merged duplicates only for a case the caller may
see: for a case hidden from them (restricted after the merge, off their need-to-know list) the
answer is the same empty list as for an id that names no case, so the duplicate's contacts do not
tell them the hidden case exists nor that the duplicate went into it."""

import pytest

from . import factories


@pytest.mark.django_db
def test_a_hidden_survivor_gives_no_contacts_of_its_visible_duplicate(
    api, supervisor, walk_in, helpline, team
):
    duplicate, survivor = walk_in(summary="first call")["id"], walk_in(summary="second call")["id"]
    client = api(supervisor)
    merged = client.post(
        f"/api/v1/cases/{duplicate}/merge/", {"into": survivor, "reason": "Same child."}, format="json"
    )
    assert merged.status_code == 200, merged.json()
    # The survivor is restricted afterwards; the duplicate (closed) stays open to the helpline.
    assert client.put(f"/api/v1/cases/{survivor}/access/", {"users": []}, format="json").status_code == 200
    assert client.get("/api/v1/contacts/", {"case": survivor}).json()["results"]
    outsider = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
    reader = api(outsider)
    assert reader.get(f"/api/v1/cases/{survivor}/").status_code == 404
    assert reader.get(f"/api/v1/cases/{duplicate}/").json()["merged_into"] is None

    response = reader.get("/api/v1/contacts/", {"case": survivor})

    assert response.status_code == 200
    assert response.json()["results"] == []
    # The duplicate's own contacts are still there for them.
    assert len(reader.get("/api/v1/contacts/", {"case": duplicate}).json()["results"]) == 1
