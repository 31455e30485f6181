"""Lists cost the same number of queries for 3 rows as for 30: nothing is fetched row by row
(available transitions, referral state, agencies, contacts are loaded with the page)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpline import crypto
from helpline.audit import audit_record
from helpline.vocabulary import AuditAction

from .factories import CaseFactory, ContactFactory, ReferralFactory


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


@pytest.fixture
def fill(helpline, team, operator, agency_user):
    """n cases of every kind an operator sees, each with a contact and a referral to police1."""

    def make(n: int) -> None:
        for i in range(n):
            state = ("intake", "assessment", "referral", "follow_up")[i % 4]
            case = CaseFactory(
                helpline=helpline, team=team, state=state, risk_level="medium", assigned_to=operator
            )
            ContactFactory(case=case, call_type="prank" if i % 2 else "child")
            if state != "intake":
                ReferralFactory(
                    case=case, agency=agency_user.agency_membership.agency, created_by=operator, state="sent"
                )
            # An audit entry with a reason sealed under the case's key: the page opens them all.
            audit_record(
                actor=operator,
                action=AuditAction.CASE_TRANSITION_DISMISS,
                obj=case,
                case_id=case.pk,
                extra={"reason": crypto.seal("Wrong number", case_id=case.pk)},
            )

    return make


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("operator", "/api/v1/cases/?page_size=50"),
        ("supervisor", "/api/v1/cases/?page_size=50&state=assessment&state=referral"),
        ("operator", "/api/v1/referrals/?page_size=50"),
        ("agency_user", "/api/v1/referrals/?page_size=50&state=sent"),
        ("operator", "/api/v1/contacts/?page_size=50"),
        ("supervisor", "/api/v1/audit/?page_size=50"),
    ],
)
def test_list_queries_do_not_grow_with_the_rows_on_the_page(request, api, fill, role, url):
    client = api(request.getfixturevalue(role))
    fill(3)
    queries(client, url)  # the first request of a token and a chain costs a little more
    few = queries(client, url)
    fill(27)
    many = queries(client, url)

    assert many == few, f"{url}: {few} queries for a few rows, {many} for many"
