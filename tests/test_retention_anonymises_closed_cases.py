"""Closed cases are anonymised after the helpline's retention period; statistics and the audit
chain survive."""

from datetime import timedelta

from django.utils import timezone

from cases.models import Case, Contact, Note
from cases.services import anonymise_expired_cases
from helpline.audit import verify_chain
from helpline.models import AuditEntry


def close_case(api, operator, supervisor, walk_in, *, closed_days_ago: int):
    case = walk_in(
        child_location="Village by the river", child_age=12, categories=["neglect"], summary="He was hit"
    )
    client = api(operator)
    client.post(f"/api/v1/cases/{case['id']}/notes/", {"body": "Mother's name is Achieng"}, format="json")
    client.post(f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json")
    client.patch(f"/api/v1/cases/{case['id']}/", {"risk_level": "low"}, format="json")
    client.post(
        f"/api/v1/cases/{case['id']}/transitions/", {"name": "close", "reason": "Resolved"}, format="json"
    )
    Case.objects.filter(pk=case["id"]).update(closed_at=timezone.now() - timedelta(days=closed_days_ago))
    return case


def test_closed_case_past_retention_loses_personal_data_but_keeps_statistics(
    api, operator, supervisor, walk_in, helpline
):
    helpline.retention_years = 1
    helpline.save()
    old = close_case(api, operator, supervisor, walk_in, closed_days_ago=400)
    recent = close_case(api, operator, supervisor, walk_in, closed_days_ago=100)

    assert anonymise_expired_cases() == 1
    assert anonymise_expired_cases() == 0  # idempotent

    erased = Case.objects.get(pk=old["id"])
    assert erased.anonymised_at is not None
    assert (erased.child_location, erased.child_age, erased.child_details_note) == ("", None, "")
    assert (erased.reporter_phone, erased.reporter_phone_hash) == ("", "")
    assert (erased.categories, erased.risk_level, erased.state) == (["neglect"], "low", "closed")
    assert Contact.objects.get(case=erased).summary == ""
    assert Note.objects.get(case=erased).body == ""

    kept = Case.objects.get(pk=recent["id"])
    assert kept.child_location == "Village by the river"
    assert Note.objects.get(case=kept).body == "Mother's name is Achieng"

    entry = AuditEntry.objects.get(action="case.anonymise", case_id=old["id"])
    assert entry.actor is None
    assert "Village" not in str(entry.changes)
    assert verify_chain(helpline.pk).ok


def test_default_retention_is_seven_years(api, operator, supervisor, walk_in):
    close_case(api, operator, supervisor, walk_in, closed_days_ago=6 * 365)
    assert anonymise_expired_cases() == 0
    close_case(api, operator, supervisor, walk_in, closed_days_ago=7 * 365 + 2)
    assert anonymise_expired_cases() == 1


def test_anonymised_case_cannot_be_reopened(api, operator, supervisor, walk_in):
    case = close_case(api, operator, supervisor, walk_in, closed_days_ago=8 * 365)
    anonymise_expired_cases()
    response = api(supervisor).post(
        f"/api/v1/cases/{case['id']}/transitions/", {"name": "reopen", "reason": "x"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "transition_conditions_not_met"


def test_open_cases_are_never_anonymised(helpline, team):
    from tests.factories import CaseFactory

    CaseFactory(
        helpline=helpline,
        state="follow_up",
        child_location="x",
        created_at=timezone.now() - timedelta(days=3650),
    )
    assert anonymise_expired_cases() == 0


def test_beat_schedules_the_retention_sweep():
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE["anonymise-expired-cases"]["task"] in app.tasks


def _conversation(case_id: int, number: str, words: str):
    """An SMS conversation on the case as the channels write it: the raw webhook, the inbound
    message, a reply with its delivery callback, and an abandoned call's callback."""
    from channels_sms.models import Callback, InboundEvent, Message

    case = Case.objects.get(pk=case_id)
    contact = Contact.objects.filter(case=case).first()
    params = f'{{"From": ["{number}"], "Body": ["{words}"]}}'
    InboundEvent.objects.create(
        helpline=case.helpline,
        channel="sms",
        external_id=f"SMin{case_id}",
        sender=number,
        sender_hash="h" * 64,
        body=words,
        params=params,
        received_at=timezone.now(),
        contact=contact,
    )
    Message.objects.create(
        helpline=case.helpline,
        case=case,
        contact=contact,
        channel="sms",
        direction="inbound",
        sender_hash="h" * 64,
        body=words,
        at=timezone.now(),
    )
    Message.objects.create(
        helpline=case.helpline,
        case=case,
        contact=contact,
        channel="sms",
        direction="outbound",
        body="We are here for you",
        to_address=number,
        external_id=f"SMout{case_id}",
        at=timezone.now(),
    )
    InboundEvent.objects.create(
        helpline=case.helpline,
        channel="sms",
        kind="status",
        external_id=f"SMout{case_id}:delivered",
        params=f'{{"To": ["{number}"]}}',
        received_at=timezone.now(),
    )
    Callback.objects.create(
        helpline=case.helpline,
        contact=contact,
        case=case,
        reason="no-answer",
        requested_at=timezone.now(),
        outcome=f"Called {number} back",
    )


def test_anonymisation_erases_the_childs_messages_and_the_webhooks_that_carried_them(
    api, operator, supervisor, walk_in, helpline
):
    from channels_sms.models import Callback, InboundEvent, Message

    helpline.retention_years = 1
    helpline.save()
    old = close_case(api, operator, supervisor, walk_in, closed_days_ago=400)
    recent = close_case(api, operator, supervisor, walk_in, closed_days_ago=100)
    _conversation(old["id"], "+254712000001", "My uncle hits me")
    _conversation(recent["id"], "+254712000002", "I cannot sleep")

    assert anonymise_expired_cases() == 1

    for event in InboundEvent.objects.filter(external_id__contains=str(old["id"])):
        assert (event.sender, event.sender_hash, event.body, event.media) == ("", "", "", "")
        assert "+254712000001" not in event.params
    for message in Message.objects.filter(case_id=old["id"]):
        assert (message.body, message.to_address, message.sender_hash) == ("", "", "")
    assert Callback.objects.get(case_id=old["id"]).outcome == ""
    # The other case's conversation is untouched.
    assert "I cannot sleep" in [m.body for m in Message.objects.filter(case_id=recent["id"])]
    kept = InboundEvent.objects.get(external_id=f"SMout{recent['id']}:delivered")
    assert "+254712000002" in kept.params
    entry = AuditEntry.objects.get(action="case.anonymise", case_id=old["id"])
    assert entry.extra["messages_erased"] == 2
