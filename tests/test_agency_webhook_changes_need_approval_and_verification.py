"""No one person alone can redirect an agency's referrals: an administrator's change of its webhook
URL or signing secret takes effect only after a supervisor of the helpline (not the proposer)
approves it and the new endpoint answers a signed verification challenge. Until then referral
packets keep going to the endpoint in use. Every step is flagged for review in the audit log, and
the agency's own users see the changes on their agency."""

from __future__ import annotations

import pytest

from helpline.models import AuditEntry
from referrals import tasks, webhooks
from referrals.models import Agency, Delivery, WebhookChange
from tests import factories
from tests.test_agency_webhooks_are_signed_and_retried import SECRET, Receiver, refer

NEW_SECRET = "a-new-secret-the-admin-chose"


@pytest.fixture
def local(settings):
    """Fake agency endpoints on this machine's loopback: plain http and loopback allowed here."""
    settings.AGENCY_WEBHOOK_ALLOW_HTTP = True
    settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = True
    return settings


@pytest.fixture
def old_endpoint(local):
    receiver = Receiver(SECRET)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def new_endpoint(local):
    receiver = Receiver(NEW_SECRET)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def agency(agency_user, old_endpoint):
    """police1's agency with an endpoint in use (approved and verified earlier)."""
    agency = agency_user.agency_membership.agency
    agency.webhook_url, agency.webhook_secret = old_endpoint.url, SECRET
    agency.save()
    return agency


def propose(api, admin_user, agency, url: str, secret: str = NEW_SECRET) -> dict:
    response = api(admin_user).patch(
        f"/api/v1/agencies/{agency.pk}/", {"webhook_url": url, "webhook_secret": secret}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()


def approve(api, supervisor, agency, change_id: int, status: int = 200) -> dict:
    response = api(supervisor).post(
        f"/api/v1/agencies/{agency.pk}/webhook/approve/", {"change": change_id}, format="json"
    )
    assert response.status_code == status, response.json()
    return response.json()


def deliver_all() -> list[str]:
    return [tasks.deliver_to_agency(d.pk) for d in Delivery.objects.filter(state="pending").order_by("id")]


def test_an_administrators_change_does_not_redirect_referrals(
    api, admin_user, operator, agency_user, walk_in, agency, old_endpoint, new_endpoint
):
    shown = propose(api, admin_user, agency, new_endpoint.url)
    assert shown["webhook_url"] == old_endpoint.url, "still the endpoint in use"
    [change] = shown["webhook_changes"]
    assert (change["url"], change["state"], change["proposed_by"]) == (new_endpoint.url, "pending", "admin1")
    agency.refresh_from_db()
    assert (agency.webhook_url, agency.webhook_secret) == (old_endpoint.url, SECRET)

    referral_id = refer(api, operator, walk_in, agency)
    assert deliver_all() == ["delivered"]
    assert new_endpoint.requests == [], "the child's packet never reaches the unapproved endpoint"
    [received] = old_endpoint.requests
    assert received.refusal == "" and received.event["referral_id"] == referral_id

    entry = AuditEntry.objects.get(action="agency.webhook_propose")
    assert entry.extra["review"] is True
    assert entry.extra["url"] == new_endpoint.url and entry.extra["secret_changed"] is True
    assert NEW_SECRET not in str(entry.extra) and NEW_SECRET not in str(entry.changes)

    # The agency's own users see the proposed change on their agency.
    mine = api(agency_user).get(f"/api/v1/agencies/{agency.pk}/").json()
    assert [(c["url"], c["state"]) for c in mine["webhook_changes"]] == [(new_endpoint.url, "pending")]


def test_a_supervisors_approval_and_the_endpoints_answer_make_it_take_effect(
    api, admin_user, supervisor, operator, agency_user, walk_in, agency, old_endpoint, new_endpoint
):
    change_id = propose(api, admin_user, agency, new_endpoint.url)["webhook_changes"][0]["id"]
    shown = approve(api, supervisor, agency, change_id)

    # The new endpoint got a challenge signed with the new secret, verifiable as documented.
    [challenge] = new_endpoint.requests
    assert challenge.refusal == "", challenge.refusal
    assert challenge.event["event"] == "webhook.verification" and challenge.event["challenge"]
    assert challenge.headers["X-Lifeline-Event"] == "webhook.verification"
    assert shown["webhook_url"] == new_endpoint.url
    assert shown["webhook_changes"][0]["state"] == "active"
    assert shown["webhook_changes"][0]["approved_by"] == "supervisor1"
    assert shown["webhook_changes"][0]["verification"] == "verified"
    agency.refresh_from_db()
    assert (agency.webhook_url, agency.webhook_secret) == (new_endpoint.url, NEW_SECRET)

    referral_id = refer(api, operator, walk_in, agency)
    assert deliver_all() == ["delivered"]
    assert old_endpoint.requests == []
    assert (
        new_endpoint.requests[1].refusal == ""
        and new_endpoint.requests[1].event["referral_id"] == referral_id
    )

    for action in ("agency.webhook_propose", "agency.approve_webhook", "agency.webhook_activate"):
        entry = AuditEntry.objects.get(action=action, object_id=str(agency.pk))
        assert entry.extra["review"] is True and entry.extra["change_id"] == change_id, action
    assert AuditEntry.objects.get(action="agency.approve_webhook").actor == supervisor
    mine = api(agency_user).get(f"/api/v1/agencies/{agency.pk}/").json()
    assert mine["webhook_url"] == new_endpoint.url
    assert mine["webhook_changes"][0]["state"] == "active"


@pytest.mark.parametrize("answer", ["500", "no_echo"])
def test_an_endpoint_that_does_not_answer_the_challenge_does_not_take_effect(
    api, admin_user, supervisor, operator, walk_in, agency, old_endpoint, new_endpoint, answer
):
    if answer == "500":
        new_endpoint.plan = [500]
    else:
        new_endpoint.answer_challenges = False  # 200, but no challenge echoed
    change_id = propose(api, admin_user, agency, new_endpoint.url)["webhook_changes"][0]["id"]
    shown = approve(api, supervisor, agency, change_id)
    assert shown["webhook_url"] == old_endpoint.url
    [change] = shown["webhook_changes"]
    assert change["state"] == "approved"
    assert change["verification"] == ("HTTP 500" if answer == "500" else webhooks.WRONG_ANSWER)
    refer(api, operator, walk_in, agency)
    assert deliver_all() == ["delivered"]
    assert len(old_endpoint.requests) == 1 and len(new_endpoint.requests) == 1  # only the challenge
    assert AuditEntry.objects.get(action="agency.webhook_verify").extra["verified"] is False

    # Once the endpoint answers, asking again sends a new challenge and the change takes effect.
    new_endpoint.answer_challenges = True
    shown = approve(api, supervisor, agency, change_id)
    assert shown["webhook_url"] == new_endpoint.url and shown["webhook_changes"][0]["state"] == "active"


def test_a_secret_alone_is_a_change_too(api, admin_user, supervisor, agency, old_endpoint):
    shown = api(admin_user).patch(
        f"/api/v1/agencies/{agency.pk}/", {"webhook_secret": "someone-elses-secret-42"}, format="json"
    )
    assert shown.status_code == 200, shown.json()
    agency.refresh_from_db()
    assert agency.webhook_secret == SECRET, "the secret in use is unchanged"
    [change] = shown.json()["webhook_changes"]
    assert (change["url"], change["state"]) == (old_endpoint.url, "pending")


def test_a_new_agencys_endpoint_waits_for_approval_too(api, admin_user, supervisor, helpline, new_endpoint):
    created = api(admin_user).post(
        "/api/v1/agencies/",
        {
            "code": "shelter",
            "name": "Safe House",
            "sector": "shelter",
            "webhook_url": new_endpoint.url,
            "webhook_secret": NEW_SECRET,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["webhook_url"] == "" and created.json()["has_webhook_secret"] is False
    [change] = created.json()["webhook_changes"]
    assert change["state"] == "pending"
    agency = Agency.objects.get(pk=created.json()["id"])
    shown = approve(api, supervisor, agency, change["id"])
    assert shown["webhook_url"] == new_endpoint.url and shown["has_webhook_secret"] is True


@pytest.mark.parametrize("who", ["admin_user", "operator", "agency_user"])
def test_only_a_supervisor_approves(api, request, admin_user, agency, new_endpoint, who):
    change_id = propose(api, admin_user, agency, new_endpoint.url)["webhook_changes"][0]["id"]
    response = api(request.getfixturevalue(who)).post(
        f"/api/v1/agencies/{agency.pk}/webhook/approve/", {"change": change_id}, format="json"
    )
    assert response.status_code == 403, response.json()
    assert new_endpoint.requests == []
    assert WebhookChange.objects.get(pk=change_id).state == "pending"


def test_the_proposer_cannot_approve_their_own_change(api, supervisor, agency, new_endpoint):
    # Only administrators propose through the API; a proposal recorded as a supervisor's (a
    # role changed since) still cannot be approved by that supervisor.
    change = WebhookChange.objects.create(
        agency=agency, url=new_endpoint.url, secret=NEW_SECRET, proposed_by=supervisor
    )
    response = api(supervisor).post(
        f"/api/v1/agencies/{agency.pk}/webhook/approve/", {"change": change.pk}, format="json"
    )
    assert response.status_code == 403, response.json()
    change.refresh_from_db()
    assert change.state == "pending" and new_endpoint.requests == []
    entry = AuditEntry.objects.get(action="agency.approve_webhook")
    assert entry.outcome == "denied" and entry.extra["review"] is True


def test_a_supervisor_of_another_helpline_cannot_see_or_approve(api, admin_user, agency, new_endpoint):
    other = factories.SupervisorFactory(
        username="supervisor9", helpline=factories.HelplineFactory(code="ELSE")
    )
    change_id = propose(api, admin_user, agency, new_endpoint.url)["webhook_changes"][0]["id"]
    response = api(other).post(
        f"/api/v1/agencies/{agency.pk}/webhook/approve/", {"change": change_id}, format="json"
    )
    assert response.status_code == 404
    assert WebhookChange.objects.get(pk=change_id).state == "pending"


def test_only_the_latest_proposal_can_be_approved(api, admin_user, supervisor, agency, new_endpoint):
    first = propose(api, admin_user, agency, new_endpoint.url)["webhook_changes"][0]["id"]
    second = propose(api, admin_user, agency, new_endpoint.url, secret="yet-another-secret-of-admin")
    assert [(c["id"], c["state"]) for c in second["webhook_changes"]] == [
        (second["webhook_changes"][0]["id"], "pending"),
        (first, "superseded"),
    ]
    stale = approve(api, supervisor, agency, first, status=409)
    assert stale["errors"][0]["code"] == "webhook_change_not_waiting"
    unknown = approve(api, supervisor, agency, 999999, status=400)
    assert unknown["errors"][0]["attr"] == "change"
    missing = api(supervisor).post(f"/api/v1/agencies/{agency.pk}/webhook/approve/", {}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["attr"] == "change"
    assert new_endpoint.requests == []


def test_removing_the_endpoint_takes_effect_at_once_and_is_flagged(
    api, admin_user, operator, walk_in, agency, agency_user, new_endpoint
):
    propose(api, admin_user, agency, new_endpoint.url)
    response = api(admin_user).patch(
        f"/api/v1/agencies/{agency.pk}/", {"webhook_url": "", "webhook_secret": ""}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["webhook_url"] == "" and response.json()["has_webhook_secret"] is False
    assert [c["state"] for c in response.json()["webhook_changes"]] == ["superseded"]
    refer(api, operator, walk_in, agency)
    assert not Delivery.objects.exists()
    assert AuditEntry.objects.get(action="agency.webhook_remove").extra["review"] is True


@pytest.mark.parametrize("body", [{"change": "abc"}, {"change": 0}, {"change": None}, {"change": [1]}])
def test_a_malformed_approval_is_refused_naming_the_field(
    api, admin_user, supervisor, agency, new_endpoint, body
):
    change_id = propose(api, admin_user, agency, new_endpoint.url)["webhook_changes"][0]["id"]
    response = api(supervisor).post(f"/api/v1/agencies/{agency.pk}/webhook/approve/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "validation_error"
    assert [e["attr"] for e in response.json()["errors"]] == ["change"]
    assert WebhookChange.objects.get(pk=change_id).state == "pending" and new_endpoint.requests == []
