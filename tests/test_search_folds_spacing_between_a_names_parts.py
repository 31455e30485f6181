"""Spacing is folded both ways: a name stored in one word ("Ganerdene") is found when searched in
parts ("Gan-Erdene", "Gan Erdene"), as a name stored in parts is found written together. Mongolian
compound names are written both ways, and staff type whichever they heard."""

import pytest


def found(client, q):
    response = client.get("/api/v1/cases/", {"q": q})
    assert response.status_code == 200, response.json()
    return {case["reference"] for case in response.json()["results"]}


@pytest.mark.django_db
def test_a_name_written_together_is_found_by_its_parts(api, supervisor, walk_in):
    together = walk_in(child_first_name="Ganerdene")["reference"]
    apart = walk_in(child_first_name="Bat-Erdene")["reference"]
    client = api(supervisor)

    for spelling in ("Gan-Erdene", "Gan Erdene", "Ганэрдэнэ", "ganerdene"):
        assert found(client, spelling) == {together}, spelling
    for spelling in ("Baterdene", "Bat Erdene", "Бат-Эрдэнэ"):
        assert found(client, spelling) == {apart}, spelling
