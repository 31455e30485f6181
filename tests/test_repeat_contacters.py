"""Repeat contacters: a sender identifier's profile lists only the contacts and cases the caller may
see (404 when nothing is visible); supervisors flag an identifier blocked or abusive until an expiry.
A blocked sender's messages and calls are kept as contacts in no case; an abusive one's thread as
usual and are marked. Audit entries never carry the identifier, only a prefix of its hash."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cases.models import Case, Contact
from channels_sms import voice
from channels_sms.models import ContacterFlag, FlaggedContact, InboundEvent, Message, PhoneNumber
from channels_sms.senders import sender_hash
from channels_sms.sms import inbound_event_process
from helpline.models import AuditEntry
from tests.twilio_signing import PUBLIC, TOKEN, sms_params, twilio_signature

from . import factories

CHILD = "+254712345678"
OTHER_CHILD = "+254722000111"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.CONVERSATION_IDLE_MINUTES = 30


@pytest.fixture
def numbers(helpline):
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550006")


def post_signed(path, data):
    signature = twilio_signature(path, data)
    response = Client().post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200, response.content
    return response


def sms(sid, *, sender=CHILD, body="hello", to="+15005550006"):
    post_signed("/webhooks/twilio/sms/", sms_params(sid, sender, body, to=to))
    event = InboundEvent.objects.get(external_id=sid)
    assert inbound_event_process(event_id=event.pk) == "threaded"
    return Message.objects.select_related("contact").get(event=event)


def call(sid, *, sender=CHILD):
    post_signed(
        "/webhooks/twilio/voice/",
        {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": sid,
            "From": sender,
            "To": "+15005550006",
            "CallStatus": "ringing",
        },
    )
    assert voice.voice_call_process(call_sid=sid) == "processed"
    return InboundEvent.objects.select_related("contact").get(external_id__startswith=f"{sid}:")


def profile_url(hashed):
    return f"/api/v1/contacters/{hashed}/"


def flag(api, user, hashed, kind="blocked", expires_in=timedelta(days=7), reason="Prank calls every night"):
    return api(user).post(
        profile_url(hashed) + "flag/",
        {"flag": kind, "expires_at": (timezone.now() + expires_in).isoformat(), "reason": reason},
        format="json",
    )


def test_profile_lists_only_the_contacts_and_cases_in_the_callers_scope(
    api, numbers, helpline, operator, supervisor
):
    first = sms("SM1")
    hashed = sender_hash(CHILD)
    restricted = factories.CaseFactory(
        helpline=helpline,
        reference="HIDDEN-1",
        state="assessment",
        restricted=True,
        reporter_phone_hash=hashed,
    )
    hidden_contact = factories.ContactFactory(case=restricted, channel="sms")
    Message.objects.create(
        helpline=helpline,
        case=restricted,
        contact=hidden_contact,
        channel="sms",
        direction="inbound",
        sender_hash=hashed,
        at=timezone.now(),
    )
    sms("SM2", sender=OTHER_CHILD)  # another sender: not in this profile

    for user in (operator, supervisor):
        response = api(user).get(profile_url(hashed))
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["identifier_hash"] == hashed
        assert [c["id"] for c in body["contacts"]] == [first.contact_id]
        assert [c["id"] for c in body["cases"]] == [first.case_id]
        assert body["flag"] is None
        assert "HIDDEN-1" not in response.content.decode()
        assert CHILD not in response.content.decode()


def test_nothing_visible_other_helpline_or_no_right_is_404(
    api, numbers, helpline, operator, supervisor, agency_user
):
    sms("SM1")
    hashed = sender_hash(CHILD)
    elsewhere = factories.HelplineFactory(code="ELSE")
    PhoneNumber.objects.create(helpline=elsewhere, channel="sms", number="+15005550099")
    sms("SM2", sender=OTHER_CHILD, to="+15005550099")
    else_hash = sender_hash(OTHER_CHILD)
    for url in (profile_url("0" * 64), profile_url("not-a-hash"), profile_url(else_hash)):
        response = api(operator).get(url)
        assert response.status_code == 404, (url, response.content)
        assert api(supervisor).post(url + "flag/", {}, format="json").status_code in (400, 404)
    assert flag(api, supervisor, else_hash).status_code == 404
    assert api(agency_user).get(profile_url(hashed)).status_code == 404
    assert api().get(profile_url(hashed)).status_code == 401
    assert not ContacterFlag.objects.exists()


def test_supervisors_flag_and_lift_operators_may_not(api, numbers, operator, supervisor):
    sms("SM1")
    hashed = sender_hash(CHILD)
    assert flag(api, operator, hashed).status_code == 403
    assert not ContacterFlag.objects.exists()

    response = flag(api, supervisor, hashed, "abusive")
    assert response.status_code == 201, response.content
    assert response.json()["flag"] == "abusive"
    assert api(operator).get(profile_url(hashed)).json()["flag"]["flag"] == "abusive"
    # A new flag replaces the live one.
    assert flag(api, supervisor, hashed, "blocked").status_code == 201
    assert ContacterFlag.objects.filter(lifted_at__isnull=True).get().flag == "blocked"
    assert flag(api, supervisor, hashed, expires_in=-timedelta(minutes=1)).status_code == 400
    assert (
        api(supervisor).post(profile_url(hashed) + "flag/", {"flag": "nope"}, format="json").status_code
        == 400
    )

    assert api(operator).delete(profile_url(hashed) + "flag/").status_code == 403
    assert api(supervisor).delete(profile_url(hashed) + "flag/").status_code == 204
    assert not ContacterFlag.objects.filter(lifted_at__isnull=True).exists()
    assert api(supervisor).delete(profile_url(hashed) + "flag/").status_code == 404
    assert api(operator).get(profile_url(hashed)).json()["flag"] is None


def test_a_blocked_senders_message_is_kept_but_opens_no_case_and_joins_none(api, numbers, supervisor):
    first = sms("SM1")
    hashed = sender_hash(CHILD)
    assert flag(api, supervisor, hashed).status_code == 201

    blocked = sms("SM2", body="still here")
    assert Case.objects.count() == 1
    assert blocked.case_id is None and blocked.contact.case_id is None
    assert blocked.contact_id != first.contact_id
    assert (blocked.contact.call_type, blocked.body) == ("", "still here")
    assert FlaggedContact.objects.get(contact=blocked.contact).kind == "blocked"
    assert Contact.objects.filter(case_id=first.case_id).count() == 1

    # A new sender who is blocked: kept, no case either.
    other = sender_hash(OTHER_CHILD)
    ContacterFlag.objects.create(
        helpline_id=supervisor.helpline_id,
        identifier_hash=other,
        flag="blocked",
        reason="r",
        expires_at=timezone.now() + timedelta(hours=1),
        set_by=supervisor,
        set_at=timezone.now(),
    )
    lone = sms("SM3", sender=OTHER_CHILD)
    assert lone.contact.case_id is None and Case.objects.count() == 1
    # The operator still sees the unattached contact in the profile.
    assert [c["id"] for c in api(supervisor).get(profile_url(other)).json()["contacts"]] == [lone.contact_id]


def test_a_blocked_callers_call_is_kept_without_a_case(api, numbers, supervisor):
    sms("SM1")
    assert flag(api, supervisor, sender_hash(CHILD)).status_code == 201
    event = call("CA" + "1" * 32)
    assert event.contact.channel == "voice" and event.contact.case_id is None
    assert Case.objects.count() == 1


def test_an_expired_block_threads_normally(api, numbers, supervisor):
    first = sms("SM1")
    ContacterFlag.objects.create(
        helpline_id=supervisor.helpline_id,
        identifier_hash=sender_hash(CHILD),
        flag="blocked",
        reason="r",
        expires_at=timezone.now() - timedelta(minutes=1),
        set_by=supervisor,
        set_at=timezone.now() - timedelta(days=1),
    )
    second = sms("SM2")
    assert (second.case_id, second.contact_id) == (first.case_id, first.contact_id)
    assert not FlaggedContact.objects.exists()


def test_an_abusive_senders_messages_thread_and_are_marked(api, numbers, supervisor, operator):
    first = sms("SM1")
    hashed = sender_hash(CHILD)
    assert flag(api, supervisor, hashed, "abusive").status_code == 201
    second = sms("SM2")
    third = sms("SM3")
    assert second.case_id == first.case_id and second.contact_id == third.contact_id == first.contact_id
    assert FlaggedContact.objects.get().kind == "abusive"
    contacts = api(operator).get(profile_url(hashed)).json()["contacts"]
    assert [(c["id"], c["flagged"]) for c in contacts] == [(first.contact_id, "abusive")]
    voice_event = call("CA" + "2" * 32)
    assert voice_event.contact.case_id == first.case_id
    assert FlaggedContact.objects.get(contact=voice_event.contact).kind == "abusive"


def test_reads_and_flags_are_audited_without_the_identifier(api, numbers, operator, supervisor):
    sms("SM1")
    hashed = sender_hash(CHILD)
    api(operator).get(profile_url(hashed))
    flag(api, operator, hashed)  # refused
    flag(api, supervisor, hashed, reason="REASON-TEXT")
    api(supervisor).delete(profile_url(hashed) + "flag/")
    api(operator).get(profile_url("f" * 64))  # nothing visible

    entries = list(AuditEntry.objects.filter(action__startswith="contacter."))
    seen = {(e.action, e.outcome) for e in entries}
    assert {
        ("contacter.read", "allowed"),
        ("contacter.read", "denied"),
        ("contacter.flag", "allowed"),
        ("contacter.flag", "denied"),
        ("contacter.unflag", "allowed"),
    } <= seen
    for entry in AuditEntry.objects.all():
        text = json.dumps([entry.object_id, entry.extra, entry.changes], default=str)
        assert hashed not in text and "f" * 64 not in text
        assert CHILD not in text and CHILD.lstrip("+") not in text
        assert "REASON-TEXT" not in text


# --- flagging a number never seen ---------------------------------------------------------------------

NEVER_SEEN = "+254733000999"
BY_NUMBER = profile_url("-") + "flag/"


def flag_number(api, user, body=None, *, path=BY_NUMBER, kind="blocked"):
    body = body or {
        "flag": kind,
        "expires_at": (timezone.now() + timedelta(days=7)).isoformat(),
        "reason": "Prank caller from another line",
        "phone_number": NEVER_SEEN,
    }
    return api(user).post(path, body, format="json")


def test_a_supervisor_blocks_a_number_never_seen_and_its_first_sms_opens_no_case(
    api, numbers, supervisor, operator
):
    hashed = sender_hash(NEVER_SEEN)
    assert not InboundEvent.objects.filter(sender_hash=hashed).exists()
    response = flag_number(api, supervisor)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["flag"], body["identifier_hash"], body["lifted_at"]) == ("blocked", hashed, None)
    assert NEVER_SEEN not in response.content.decode()
    stored = ContacterFlag.objects.get()
    assert (stored.identifier_hash, stored.flag, stored.set_by_id) == (hashed, "blocked", supervisor.pk)
    entry = AuditEntry.objects.get(action="contacter.flag", outcome="allowed")
    assert entry.actor_id == supervisor.pk and entry.object_id == str(stored.pk)
    assert entry.extra["identifier"] == hashed[:8] and entry.extra["by"] == "phone_number"
    assert NEVER_SEEN not in json.dumps([entry.object_id, entry.extra, entry.changes], default=str)

    # Its first SMS finds the flag: kept as a contact in no case, marked blocked.
    message = sms("SM9", sender=NEVER_SEEN, body="haha")
    assert message.case_id is None and message.contact.case_id is None
    assert message.body == "haha" and message.sender_hash == hashed
    assert FlaggedContact.objects.get(contact=message.contact).flag_id == stored.pk
    assert not Case.objects.exists()
    # The flag and the kept contact show in the profile; the supervisor can lift it.
    profile = api(operator).get(profile_url(hashed)).json()
    assert profile["flag"]["id"] == stored.pk
    assert [(c["id"], c["flagged"]) for c in profile["contacts"]] == [(message.contact_id, "blocked")]
    assert api(supervisor).delete(profile_url(hashed) + "flag/").status_code == 204


def test_a_flag_on_a_number_never_seen_shows_in_its_profile_and_can_be_lifted(api, numbers, supervisor):
    hashed = sender_hash(NEVER_SEEN)
    assert api(supervisor).get(profile_url(hashed)).status_code == 404
    assert flag_number(api, supervisor, kind="abusive").status_code == 201
    profile = api(supervisor).get(profile_url(hashed))
    assert profile.status_code == 200, profile.content
    assert (profile.json()["flag"]["flag"], profile.json()["contacts"]) == ("abusive", [])
    assert api(supervisor).delete(profile_url(hashed) + "flag/").status_code == 204
    assert ContacterFlag.objects.get().lifted_by_id == supervisor.pk
    assert api(supervisor).get(profile_url(hashed)).status_code == 404


def test_flagging_a_number_that_wrote_answers_the_same_and_replaces_its_flag(api, numbers, supervisor):
    sms("SM1")
    first = flag_number(api, supervisor, {**_number_body(), "phone_number": CHILD})
    assert first.status_code == 201, first.content
    again = flag_number(api, supervisor, {**_number_body(), "phone_number": CHILD, "flag": "abusive"})
    assert again.status_code == 201
    assert set(first.json()) == set(again.json())
    assert ContacterFlag.objects.get(lifted_at__isnull=True).flag == "abusive"
    assert ContacterFlag.objects.filter(identifier_hash=sender_hash(CHILD)).count() == 2


def _number_body(**fields):
    return {
        "flag": "blocked",
        "expires_at": (timezone.now() + timedelta(days=7)).isoformat(),
        "reason": "Prank caller",
        "phone_number": NEVER_SEEN,
        **fields,
    }


def test_only_supervisors_flag_a_number_and_the_refusal_is_the_same_seen_or_not(
    api, numbers, operator, agency_user
):
    sms("SM1")
    for user in (operator, agency_user):
        answers = [
            flag_number(api, user, _number_body(phone_number=number)) for number in (CHILD, NEVER_SEEN)
        ]
        assert [r.status_code for r in answers] == [403, 403]
        assert answers[0].json() == answers[1].json()
        assert answers[0].json()["errors"][0]["code"] == "permission_denied"
    assert api().post(BY_NUMBER, _number_body(), format="json").status_code == 401
    assert not ContacterFlag.objects.exists()
    denied = AuditEntry.objects.filter(action="contacter.flag", outcome="denied")
    assert denied.count() == 4
    for entry in denied:
        assert NEVER_SEEN not in json.dumps([entry.object_id, entry.extra], default=str)
        assert CHILD not in json.dumps([entry.object_id, entry.extra], default=str)


@pytest.mark.parametrize(
    ("path", "body", "attr", "code"),
    [
        (BY_NUMBER, _number_body(phone_number="not a number"), "phone_number", "invalid"),
        (BY_NUMBER, _number_body(phone_number="+1"), "phone_number", "invalid"),
        (BY_NUMBER, _number_body(phone_number="0712345678"), "phone_number", "invalid"),
        (BY_NUMBER, _number_body(phone_number=""), "phone_number", "blank"),
        (BY_NUMBER, _number_body(phone_number=None), "phone_number", "null"),
        (BY_NUMBER, _number_body(phone_number=254712345678), "phone_number", "invalid"),
        (
            BY_NUMBER,
            _number_body(phone_number="+2547\u00001234"),
            "phone_number",
            "null_characters_not_allowed",
        ),
        (BY_NUMBER, _number_body(phone_number="+" + "1" * 40), "phone_number", "max_length"),
        (
            BY_NUMBER,
            {k: v for k, v in _number_body().items() if k != "phone_number"},
            "phone_number",
            "required",
        ),
        ("HASHED", _number_body(), "phone_number", "invalid"),  # both a hash and a number
        ("UNKNOWN", _number_body(), "phone_number", "invalid"),
    ],
    ids=[
        "words",
        "too short",
        "national form",
        "blank",
        "null",
        "number type",
        "NUL",
        "huge",
        "neither",
        "both",
        "both, unknown hash",
    ],
)
def test_bad_phone_number_input_is_400_in_the_one_error_shape(
    api, numbers, supervisor, path, body, attr, code
):
    sms("SM1")
    path = {
        "HASHED": profile_url(sender_hash(CHILD)) + "flag/",
        "UNKNOWN": profile_url("0" * 64) + "flag/",
    }.get(path, path)
    audit = AuditEntry.objects.count()
    response = api(supervisor).post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"code": code, "detail": response.json()["errors"][0]["detail"], "attr": attr}],
    }
    assert not ContacterFlag.objects.exists()
    assert AuditEntry.objects.count() == audit
