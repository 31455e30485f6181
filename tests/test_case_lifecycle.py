"""A case's life through the API: walk-in at intake to closure and reopening."""

from datetime import timedelta

from django.utils import timezone

from cases.models import Case, Contact
from helpline.models import AuditEntry


def transition(client, case_id, name, **fields):
    return client.post(f"/api/v1/cases/{case_id}/transitions/", {"name": name, **fields}, format="json")


def test_walk_in_case_opens_at_intake_with_reference_contact_and_due_date(api, operator, walk_in):
    case = walk_in(risk_level="critical", categories=["bullying"], summary="Came to the office")
    assert case["state"] == "intake"
    assert case["reference"].startswith("DEMO-") and case["reference"].endswith("-000001")
    assert case["available_transitions"] == ["start_assessment"]
    created = timezone.now()
    due = Case.objects.get(pk=case["id"]).next_action_due_at
    assert created + timedelta(minutes=13) < due <= created + timedelta(minutes=15)
    contact = Contact.objects.get(case_id=case["id"])
    assert (contact.channel, contact.call_type) == ("walk_in", "child")
    assert walk_in()["reference"].endswith("-000002")


def test_case_goes_from_intake_to_closed_and_is_reopened_by_a_supervisor(
    api, operator, supervisor, agency_user, walk_in
):
    case = walk_in()
    client = api(operator)
    response = transition(client, case["id"], "start_assessment")
    assert response.status_code == 200
    assert response.json()["state"] == "assessment"
    assert response.json()["assigned_to"] == operator.pk

    assert (
        client.patch(f"/api/v1/cases/{case['id']}/", {"risk_level": "medium"}, format="json").status_code
        == 200
    )
    response = transition(client, case["id"], "refer")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "transition_conditions_not_met"
    consent = {"given_by": "child", "given_at": timezone.now().isoformat(), "scope": ["referral"]}
    assert client.post(f"/api/v1/cases/{case['id']}/consent/", consent, format="json").status_code == 201
    referral = client.post(
        f"/api/v1/cases/{case['id']}/referrals/",
        {
            "agency": agency_user.agency_membership.agency_id,
            "service_type": "investigation",
            "urgency": "urgent",
            "reason": "Disclosure of abuse",
            "summary": "Child needs protection.",
        },
        format="json",
    )
    assert referral.status_code == 201, referral.json()
    response = transition(client, case["id"], "refer")
    assert response.json()["state"] == "referral"
    due = (timezone.now() + timedelta(days=2)).isoformat()
    response = transition(client, case["id"], "start_follow_up", follow_up_due_at=due)
    assert response.json()["state"] == "follow_up"
    response = transition(client, case["id"], "close", reason="Child safe at home")
    assert response.status_code == 409, "a case does not close while its referral is open"
    agency = api(agency_user)
    referral_id = referral.json()["id"]
    assert agency.post(f"/api/v1/referrals/{referral_id}/accept/").status_code == 200
    completed = agency.post(
        f"/api/v1/referrals/{referral_id}/complete/", {"outcome": "child_safe"}, format="json"
    )
    assert completed.status_code == 200, completed.json()
    response = transition(client, case["id"], "close", reason="Child safe at home")
    assert response.json()["state"] == "closed"
    assert response.json()["closure_reason"] == "Child safe at home"
    assert response.json()["next_action_due_at"] is None

    response = transition(api(supervisor), case["id"], "reopen", reason="New disclosure")
    assert response.status_code == 200
    assert response.json()["state"] == "assessment"
    assert response.json()["closed_at"] is None

    actions = list(
        AuditEntry.objects.filter(case_id=case["id"], action__startswith="case.transition").values_list(
            "action", flat=True
        )
    )
    assert actions == [
        "case.transition.start_assessment",
        "case.transition.refer",  # refused: no referral yet
        "case.transition.refer",
        "case.transition.start_follow_up",
        "case.transition.close",  # refused: referral open
        "case.transition.close",
        "case.transition.reopen",
    ]


def test_non_case_contact_is_dismissed_with_a_reason(api, operator, walk_in):
    case = walk_in(call_type="prank")
    assert "dismiss" in case["available_transitions"]
    response = transition(api(operator), case["id"], "dismiss", reason="Prank call")
    assert response.status_code == 200
    assert response.json()["state"] == "closed"


def test_raising_risk_tightens_the_due_date(api, operator, walk_in):
    case = walk_in(risk_level="low")
    before = Case.objects.get(pk=case["id"]).next_action_due_at
    api(operator).patch(f"/api/v1/cases/{case['id']}/", {"risk_level": "critical"}, format="json")
    after = Case.objects.get(pk=case["id"]).next_action_due_at
    assert after < before
    assert after - Case.objects.get(pk=case["id"]).created_at <= timedelta(minutes=15)


def test_helpline_due_policy_overrides_the_default(api, operator, helpline, walk_in):
    helpline.due_policy = {"intake": {"critical": 5}}
    helpline.save()
    case = walk_in(risk_level="critical")
    stored = Case.objects.get(pk=case["id"])
    assert stored.next_action_due_at - stored.created_at <= timedelta(minutes=5)


def test_notes_are_added_and_listed_in_order(api, operator, walk_in):
    case = walk_in()
    client = api(operator)
    for body in ("first", "second"):
        assert (
            client.post(f"/api/v1/cases/{case['id']}/notes/", {"body": body}, format="json").status_code
            == 201
        )
    notes = client.get(f"/api/v1/cases/{case['id']}/notes/").json()
    assert [n["body"] for n in notes] == ["first", "second"]
    assert notes[0]["author"] == operator.username


def test_unattached_contact_is_attached_to_a_case(api, operator, helpline, walk_in):
    from tests.factories import ContactFactory

    case = walk_in()
    contact = ContactFactory(helpline=helpline, case=None, channel="voice")
    client = api(operator)
    response = client.post(f"/api/v1/contacts/{contact.pk}/attach/", {"case": case["id"]}, format="json")
    assert response.status_code == 200
    assert response.json()["case"] == case["id"]
    again = client.post(f"/api/v1/contacts/{contact.pk}/attach/", {"case": case["id"]}, format="json")
    assert again.status_code == 409
