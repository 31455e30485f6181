"""Search answers within the caller's scope only: another helpline's cases, another team's cases an
operator may not see, restricted cases for those not on their need-to-know list, and anonymised
cases are never found, by name, number or reference, on the case list or the contact list."""

import pytest
from django.utils import timezone

from cases.models import Case, Contact
from cases.services import case_anonymise
from channels_sms.models import InboundEvent
from helpline.crypto import identifier_hash
from helpline.models import AuditEntry
from tests import factories

PHONE = "+254 712 345 678"  # the test helpline is in Kenya


@pytest.fixture(autouse=True, params=["few matches: read by id", "many matches: the plain condition"])
def search_path(request, monkeypatch):
    """Both ways the case selectors search: the matches' ids when they are few, the
    index condition itself when they are many (here: more than none)."""
    if request.param.startswith("many"):
        monkeypatch.setattr("cases.selectors.FEW_MATCHES", 0)


def case_refs(client, q):
    response = client.get("/api/v1/cases/", {"q": q})
    assert response.status_code == 200, response.json()
    return {case["reference"] for case in response.json()["results"]}


def contact_ids(client, q):
    response = client.get("/api/v1/contacts/", {"q": q})
    assert response.status_code == 200, response.json()
    return {contact["id"] for contact in response.json()["results"]}


def test_another_helplines_cases_are_never_found(api, supervisor, walk_in):
    elsewhere = factories.HelplineFactory(code="ELSE")
    their_operator = factories.OperatorFactory(helpline=elsewhere)
    theirs = walk_in(user=their_operator, child_first_name="Amani", reporter_phone=PHONE)
    ours = walk_in(child_first_name="Amina")
    client = api(supervisor)
    assert case_refs(client, "Amani") == set()
    assert case_refs(client, PHONE) == set()
    assert case_refs(client, theirs["reference"]) == set()
    assert case_refs(client, "ami") == {ours["reference"]}
    assert contact_ids(client, "Amani") == set()
    assert case_refs(api(their_operator), "ama") == {theirs["reference"]}


def test_an_operator_finds_only_the_cases_they_may_see(api, operator, supervisor, walk_in, helpline):
    other_team = factories.TeamFactory(helpline=helpline)
    colleague = factories.OperatorFactory(helpline=helpline, team=other_team)
    # Out of intake and assigned to the other team: not in our operator's scope.
    theirs = walk_in(user=colleague, child_first_name="Wanjiru")
    colleague_client = api(colleague)
    url = f"/api/v1/cases/{theirs['id']}/transitions/"
    assert colleague_client.post(url, {"name": "start_assessment"}, format="json").status_code == 200
    assert case_refs(api(operator), "Wanjiru") == set()
    assert contact_ids(api(operator), "Wanjiru") == set()
    assert case_refs(api(supervisor), "Wanjiru") == {theirs["reference"]}


def test_a_restricted_case_is_found_only_by_those_on_its_list(
    api, operator, supervisor, walk_in, helpline, team
):
    on_list = factories.SupervisorFactory(helpline=helpline, team=team)
    case = walk_in(child_first_name="Zawadi", reporter_phone=PHONE)
    response = api(on_list).patch(f"/api/v1/cases/{case['id']}/", {"restricted": True}, format="json")
    assert response.status_code == 200
    assert Case.objects.get(pk=case["id"]).restricted

    for outsider in (supervisor, operator):
        client = api(outsider)
        assert case_refs(client, "Zawadi") == set()
        assert case_refs(client, "zaw") == set()
        assert case_refs(client, PHONE) == set()
        assert case_refs(client, case["reference"]) == set()
        assert contact_ids(client, "Zawadi") == set()
    assert case_refs(api(on_list), "Zawadi") == {case["reference"]}
    assert len(contact_ids(api(on_list), "Zawadi")) == 1


def close(api, operator, case_id):
    client = api(operator)
    url = f"/api/v1/cases/{case_id}/"
    assert client.post(f"{url}transitions/", {"name": "start_assessment"}, format="json").status_code == 200
    assert client.patch(url, {"risk_level": "low"}, format="json").status_code == 200
    response = client.post(f"{url}transitions/", {"name": "close", "reason": "Resolved"}, format="json")
    assert response.status_code == 200


def test_an_anonymised_case_is_never_found(api, operator, supervisor, walk_in, helpline):
    case = walk_in(child_first_name="Baraka", reporter_name="Neema", reporter_phone=PHONE)
    kept = walk_in(child_first_name="Barasa")
    close(api, operator, case["id"])
    client = api(supervisor)
    assert case_refs(client, "Baraka") == {case["reference"]}  # closed, not yet anonymised

    assert case_anonymise(case=Case.objects.get(pk=case["id"]))
    assert Case.objects.get(pk=case["id"]).search_tokens == []
    for q in ("Baraka", "bar", "Neema", PHONE, case["reference"]):
        assert case["reference"] not in case_refs(client, q), q
        assert not contact_ids(client, q) & set(
            Contact.objects.filter(case_id=case["id"]).values_list("id", flat=True)
        ), q
    assert case_refs(client, "bar") == {kept["reference"]}


def test_contacts_are_found_through_their_case_and_their_senders_number(
    api, operator, supervisor, walk_in, helpline
):
    case = walk_in(child_first_name="Imani")
    in_case = Contact.objects.get(case_id=case["id"])
    unattached = factories.ContactFactory(helpline=helpline, channel="sms", call_type="")
    InboundEvent.objects.create(
        helpline=helpline,
        channel="sms",
        external_id="SM-search-1",
        sender_hash=identifier_hash(PHONE),
        params="{}",
        received_at=timezone.now(),
        contact=unattached,
    )
    other = factories.ContactFactory(helpline=helpline, channel="sms", call_type="")
    client = api(operator)
    assert contact_ids(client, "imani") == {in_case.pk}
    assert contact_ids(client, case["reference"].lower()) == {in_case.pk}
    for written in (PHONE, "0712 345678", "(254) 712-345-678"):
        assert contact_ids(client, written) == {unattached.pk}, written
    assert other.pk not in contact_ids(client, PHONE)

    entry = AuditEntry.objects.filter(action="contact.list").latest("id")
    assert entry.extra["filters"] == {"q": "[redacted]"}
    assert "712" not in str(entry.extra)

    # Another helpline's staff do not find it by the number.
    elsewhere = factories.OperatorFactory(helpline=factories.HelplineFactory(code="ELSE"))
    assert contact_ids(api(elsewhere), PHONE) == set()


def test_a_too_short_contact_search_is_refused(api, operator):
    response = api(operator).get("/api/v1/contacts/", {"q": "é "})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "q"
