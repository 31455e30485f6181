"""A case's page is one read of the case on record; the links it shows name other cases, so they
are on record too, naming those cases. An empty list of links shows nothing the case's read did
not, and is not recorded again (one write less on every page of a case without links)."""

import pytest

from helpline.models import AuditEntry
from tests.console import sign_in

pytestmark = pytest.mark.django_db


def test_a_case_without_links_is_one_read(operator, walk_in):
    case = walk_in()
    client = sign_in(operator)
    before = set(AuditEntry.objects.values_list("pk", flat=True))
    assert client.get(f"/console/cases/{case['id']}/").status_code == 200
    new = AuditEntry.objects.exclude(pk__in=before).filter(case_id=case["id"])
    assert list(new.values_list("action", flat=True)) == ["case.read"]


def test_the_links_shown_are_on_record_naming_the_linked_cases(operator, walk_in):
    first, second = walk_in(), walk_in()
    client = sign_in(operator)
    client.post(f"/console/cases/{first['id']}/links/", {"reference": second["reference"], "kind": "sibling"})
    before = set(AuditEntry.objects.values_list("pk", flat=True))
    page = client.get(f"/console/cases/{first['id']}/").content.decode()
    assert second["reference"] in page
    new = AuditEntry.objects.exclude(pk__in=before).filter(case_id=first["id"])
    assert sorted(new.values_list("action", flat=True)) == ["case.link.list", "case.read"]
    assert new.get(action="case.link.list").extra["case_ids"] == [second["id"]]


def test_the_api_records_an_empty_list_of_links_all_the_same(api, operator, walk_in):
    case = walk_in()
    assert api(operator).get(f"/api/v1/cases/{case['id']}/links/").json() == []
    assert AuditEntry.objects.filter(action="case.link.list", case_id=case["id"]).count() == 1
