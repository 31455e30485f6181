"""An operator works a case in the console: the queue (most urgent first, live), one-click
dismissal of a contact that is not a case, the workspace's steps, notes, replies, risk and
categories, consent and a referral whose preview is exactly the packet the agency receives."""

import pytest
from django.utils import timezone

from cases.models import Case, Contact, Note
from helpline.models import AuditEntry
from referrals.models import Referral
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def police(helpline):
    return factories.AgencyFactory(helpline=helpline, code="police", name="City police", sector="police")


def test_the_queue_lists_open_cases_most_urgent_first(operator, walk_in):
    low = walk_in(risk_level="low")
    critical = walk_in(risk_level="critical")
    page = sign_in(operator).get("/console/queue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index(critical["reference"]) < html.index(low["reference"])
    assert 'hx-trigger="every' in html  # the rows refresh themselves
    assert AuditEntry.objects.filter(actor=operator, action="case.list").exists()


def test_the_queue_refreshing_itself_records_a_read_only_when_the_rows_change(operator, walk_in):
    walk_in()
    client = sign_in(operator)
    client.get("/console/queue/")
    before = AuditEntry.objects.filter(actor=operator, action="case.list").count()
    for _ in range(3):
        assert client.get("/console/queue/rows/?poll=1").status_code == 200
    assert AuditEntry.objects.filter(actor=operator, action="case.list").count() == before
    walk_in()
    client.get("/console/queue/rows/?poll=1")
    assert AuditEntry.objects.filter(actor=operator, action="case.list").count() == before + 1


def test_a_silent_contact_is_dismissed_in_one_click(operator, helpline):
    case = factories.CaseFactory(helpline=helpline)
    factories.ContactFactory(case=case, channel="sms", call_type="")
    client = sign_in(operator)
    page = client.get("/console/queue/").content.decode()
    assert f'action="/console/cases/{case.pk}/dismiss/"' in page
    answer = client.post(
        f"/console/cases/{case.pk}/dismiss/", {"call_type": "silent"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200
    case.refresh_from_db()
    assert case.state == "closed"
    assert Contact.objects.get(case=case).call_type == "silent"
    assert AuditEntry.objects.filter(action="case.transition.dismiss", case_id=case.pk).exists()


def test_a_child_seeking_help_is_not_dismissed_as_silent_halfway(operator, helpline):
    case = factories.CaseFactory(helpline=helpline)
    factories.ContactFactory(case=case, channel="sms", call_type="")
    client = sign_in(operator)
    answer = client.post(f"/console/cases/{case.pk}/dismiss/", {"call_type": "child"})
    assert answer.status_code == 400
    case.refresh_from_db()
    assert case.state == "intake"
    assert Contact.objects.get(case=case).call_type == ""


def test_the_workspace_offers_only_the_steps_the_person_may_take(operator, walk_in):
    case = walk_in()
    client = sign_in(operator)
    html = client.get(f"/console/cases/{case['id']}/").content.decode()
    assert 'name="name" value="start_assessment"' in html
    assert 'value="reopen"' not in html
    assert (
        client.post(f"/console/cases/{case['id']}/transition/", {"name": "start_assessment"}).status_code
        == 302
    )
    assert Case.objects.get(pk=case["id"]).state == "assessment"
    # A step the operator may not take is refused like the API refuses it (409: not from here).
    refused = client.post(f"/console/cases/{case['id']}/transition/", {"name": "reopen", "reason": "x"})
    assert refused.status_code in (403, 409)


def test_notes_risk_and_categories_are_written_by_the_services(operator, walk_in):
    case = walk_in()
    client = sign_in(operator)
    assert (
        client.post(f"/console/cases/{case['id']}/notes/", {"body": "Spoke with her teacher."}).status_code
        == 302
    )
    assert Note.objects.get(case_id=case["id"]).body == "Spoke with her teacher."
    answer = client.post(
        f"/console/cases/{case['id']}/details/", {"risk_level": "high", "categories": ["violence"]}
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    stored = Case.objects.get(pk=case["id"])
    assert (stored.risk_level, stored.categories) == ("high", ["violence"])
    bad = client.post(f"/console/cases/{case['id']}/details/", {"risk_level": "apocalyptic"})
    assert bad.status_code == 400
    assert "risk_level" in bad.content.decode()


def test_unknown_form_fields_are_refused(operator, walk_in):
    case = walk_in()
    answer = sign_in(operator).post(f"/console/cases/{case['id']}/notes/", {"body": "x", "author": "someone"})
    assert answer.status_code == 400
    assert "author" in answer.content.decode()
    assert not Note.objects.filter(case_id=case["id"]).exists()


def test_the_preview_is_exactly_the_packet_the_agency_receives(operator, walk_in, police):
    case = walk_in(child_first_name="Saraa", child_location="Block 4", safe_contact="aunt")
    client = sign_in(operator)
    client.post(f"/console/cases/{case['id']}/transition/", {"name": "start_assessment"})
    refer = {
        "agency": police.pk,
        "service_type": "investigation",
        "urgency": "urgent",
        "reason": "Beaten at home",
        "summary": "Needs a visit",
    }
    # Without consent there is no referral form, and a referral is refused.
    assert 'name="step" value="preview"' not in client.get(f"/console/cases/{case['id']}/").content.decode()
    assert client.post(f"/console/cases/{case['id']}/refer/", {**refer, "step": "send"}).status_code == 409
    consent = {"given_by": "child", "scope": ["referral", "information_sharing"]}
    assert client.post(f"/console/cases/{case['id']}/consent/", consent).status_code == 302
    preview = client.post(f"/console/cases/{case['id']}/refer/", {**refer, "step": "preview"})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Saraa" in html and "Block 4" in html
    assert not Referral.objects.exists()
    assert client.post(f"/console/cases/{case['id']}/refer/", {**refer, "step": "send"}).status_code == 302
    packet = Referral.objects.get().packet
    for key in ("first_name", "location", "safe_contact"):
        assert str(packet["child"][key]) in html
    assert packet["summary"] in html


def test_a_childs_sms_is_answered_from_the_workspace(operator, sms_number, settings):
    from django.test import Client

    from channels_sms.models import InboundEvent, Message
    from channels_sms.sms import inbound_event_process
    from tests.twilio_signing import PUBLIC, TOKEN, sms_params, twilio_signature

    settings.TWILIO_AUTH_TOKEN, settings.PUBLIC_BASE_URL = TOKEN, PUBLIC
    params = sms_params("SM" + "1" * 32, "+254712345678", "help me")
    path = "/webhooks/twilio/sms/"
    assert (
        Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=twilio_signature(path, params)).status_code == 200
    )
    inbound_event_process(event_id=InboundEvent.objects.get().pk)
    case = Message.objects.get().case
    client = sign_in(operator)
    assert "help me" in client.get(f"/console/cases/{case.pk}/").content.decode()
    answer = client.post(
        f"/console/cases/{case.pk}/reply/", {"body": "We are here."}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200, answer.content.decode()[:2000]
    assert "We are here." in answer.content.decode()
    assert [m.body for m in Message.objects.filter(case=case, direction="outbound")] == ["We are here."]


def test_a_contact_is_classified_from_the_timeline(operator, helpline):
    case = factories.CaseFactory(helpline=helpline, assigned_to=operator, state="assessment")
    contact = factories.ContactFactory(case=case, channel="sms", call_type="")
    client = sign_in(operator)
    answer = client.post(f"/console/cases/{case.pk}/contacts/{contact.pk}/", {"call_type": "child"})
    assert answer.status_code == 302
    contact.refresh_from_db()
    assert contact.call_type == "child"
    other = factories.CaseFactory(helpline=helpline, assigned_to=operator)
    # A contact named under another case's address is not found there.
    assert (
        client.post(f"/console/cases/{other.pk}/contacts/{contact.pk}/", {"call_type": "silent"}).status_code
        == 404
    )


def test_a_case_is_handed_over_with_a_note(operator, other_operator, walk_in):
    case = walk_in()
    client = sign_in(operator)
    client.post(f"/console/cases/{case['id']}/transition/", {"name": "start_assessment"})
    page = client.get(f"/console/cases/{case['id']}/").content.decode()
    assert f'<option value="{other_operator.pk}">operator2</option>' in page
    answer = client.post(
        f"/console/cases/{case['id']}/transfer/", {"to_user": other_operator.pk, "note": "Call her at 5"}
    )
    assert answer.status_code == 302
    assert Case.objects.get(pk=case["id"]).assigned_to == other_operator
    assert Note.objects.get(case_id=case["id"]).body == "Call her at 5"
    refused = client.post(f"/console/cases/{case['id']}/transfer/", {"note": "nobody named"})
    assert refused.status_code in (400, 404)


def test_two_cases_are_linked_by_reference(operator, walk_in):
    first, second = walk_in(), walk_in()
    client = sign_in(operator)
    answer = client.post(
        f"/console/cases/{first['id']}/links/", {"reference": second["reference"], "kind": "sibling"}
    )
    assert answer.status_code == 302
    assert second["reference"] in client.get(f"/console/cases/{first['id']}/").content.decode()
    unknown = client.post(f"/console/cases/{first['id']}/links/", {"reference": "NOPE-1", "kind": "sibling"})
    assert unknown.status_code == 400


def test_the_preview_masks_the_reporters_number_and_is_on_record(operator, walk_in, police):
    case = walk_in(reporter_name="Aunt", reporter_phone="+97699112233", reporter_relation="other_family")
    client = sign_in(operator)
    client.post(f"/console/cases/{case['id']}/transition/", {"name": "start_assessment"})
    refer = {
        "agency": police.pk,
        "service_type": "investigation",
        "urgency": "urgent",
        "reason": "r",
        "summary": "s",
    }
    # Without consent to a referral there is no preview either.
    assert client.post(f"/console/cases/{case['id']}/refer/", {**refer, "step": "preview"}).status_code == 409
    consent = {"given_by": "child", "scope": ["referral", "information_sharing", "reporter_identity"]}
    client.post(f"/console/cases/{case['id']}/consent/", consent)
    reads = AuditEntry.objects.filter(actor=operator, action="case.read", case_id=case["id"]).count()
    html = client.post(f"/console/cases/{case['id']}/refer/", {**refer, "step": "preview"}).content.decode()
    assert "+97699112233" not in html and "*********233" in html
    assert (
        AuditEntry.objects.filter(actor=operator, action="case.read", case_id=case["id"]).count() == reads + 1
    )


def test_the_conversation_refreshing_itself_is_recorded_only_when_it_changes(operator, helpline):
    from channels_sms.models import Message

    case = factories.CaseFactory(helpline=helpline, assigned_to=operator)
    contact = factories.ContactFactory(case=case, channel="sms", call_type="child")
    client = sign_in(operator)
    client.get(f"/console/cases/{case.pk}/")
    reads = AuditEntry.objects.filter(action="message.list", case_id=case.pk)
    before = reads.count()
    for _ in range(4):
        assert client.get(f"/console/cases/{case.pk}/conversation/?poll=1").status_code == 200
    assert reads.count() == before
    Message.objects.create(
        helpline=helpline,
        case=case,
        contact=contact,
        channel="sms",
        direction="inbound",
        body="are you there",
        at=timezone.now(),
    )
    assert "are you there" in client.get(f"/console/cases/{case.pk}/conversation/?poll=1").content.decode()
    assert AuditEntry.objects.filter(action="message.list", extra__case_ids=[case.pk]).count() == 1
