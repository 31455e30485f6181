"""Supervisors approve an administrator's change of an agency's webhook address in the console (the
dashboard counts what waits): the same service as the API, so the new endpoint must answer its
signed challenge before any packet goes there; the proposer cannot approve their own."""

from __future__ import annotations

import pytest

from helpline.models import AuditEntry
from referrals.models import WebhookChange
from tests.console import sign_in
from tests.test_agency_webhook_changes_need_approval_and_verification import (  # noqa: F401  # fixtures
    NEW_SECRET,
    local,
    old_endpoint,
    propose,
)
from tests.test_agency_webhook_changes_need_approval_and_verification import agency as agency
from tests.test_agency_webhook_changes_need_approval_and_verification import new_endpoint as new_endpoint

pytestmark = pytest.mark.django_db


def test_a_supervisor_approves_and_the_endpoint_is_challenged(
    api, admin_user, supervisor, agency, new_endpoint
):
    propose(api, admin_user, agency, new_endpoint.url)
    change = WebhookChange.objects.get(state="pending")
    client = sign_in(supervisor)
    assert (
        "1</span> agency webhook changes waiting for approval"
        in client.get("/console/dashboard/").content.decode()
    )
    page = client.get("/console/oversight/webhooks/").content.decode()
    assert new_endpoint.url in page and NEW_SECRET not in page
    answer = client.post(f"/console/oversight/agencies/{agency.pk}/webhook/approve/", {"change": change.pk})
    assert answer.status_code == 302
    change.refresh_from_db()
    assert change.approved_by == supervisor
    assert change.state == "active"  # the endpoint answered its challenge
    agency.refresh_from_db()
    assert agency.webhook_url == new_endpoint.url
    assert AuditEntry.objects.filter(actor=supervisor, action="agency.approve_webhook").exists()


def test_others_do_not_approve(api, admin_user, operator, supervisor, agency, new_endpoint):
    propose(api, admin_user, agency, new_endpoint.url)
    change = WebhookChange.objects.get(state="pending")
    for person in (operator, admin_user):
        client = sign_in(person)
        assert client.get("/console/oversight/webhooks/").status_code == 404
        path = f"/console/oversight/agencies/{agency.pk}/webhook/approve/"
        assert client.post(path, {"change": change.pk}).status_code == 404
    bad = sign_in(supervisor).post(
        f"/console/oversight/agencies/{agency.pk}/webhook/approve/", {"change": "x"}
    )
    assert bad.status_code == 400
    change.refresh_from_db()
    assert change.state == "pending" and change.approved_by is None
