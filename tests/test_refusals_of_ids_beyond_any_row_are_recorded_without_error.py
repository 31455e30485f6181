"""A refused request naming an id no row can have (more digits than a bigint holds), or refused before
its object was looked up (an undeclared field), is recorded as a refusal without naming a case: never
a server error (found by the schema fuzzing: `POST /cases/<22 digits>/break-glass/ {"x": ..}` was a
500 while the refusal was recorded), and never a case the caller did not reach."""

import pytest

from helpline.models import AuditEntry, AuditOutcome

HUGE = "769674515065037389824"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/cases/{HUGE}/break-glass/",
        f"/api/v1/cases/{HUGE}/notes/",
        f"/api/v1/cases/{HUGE}/transitions/",
    ],
)
def test_an_undeclared_field_on_an_id_beyond_any_row_is_a_recorded_400(api, supervisor, path):
    response = api(supervisor).post(path, {"zz_unknown": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_field"
    entry = AuditEntry.objects.filter(outcome=AuditOutcome.DENIED).latest("id")
    assert (entry.object_id, entry.case_id, entry.extra["status"]) == (HUGE, None, 400)


def test_an_undeclared_field_does_not_connect_an_unreached_case(api, operator, supervisor, walk_in):
    case = walk_in(user=supervisor, restricted=True)  # outside the operator's scope
    response = api(operator).post(f"/api/v1/cases/{case['id']}/notes/", {"zz_unknown": "x"}, format="json")
    assert response.status_code == 400
    entry = AuditEntry.objects.filter(outcome=AuditOutcome.DENIED, actor=operator).latest("id")
    assert entry.case_id is None
