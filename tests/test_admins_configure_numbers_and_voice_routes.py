"""A helpline's administrators add, change and retire its Twilio numbers and voice routes through
the API (its supervisors read them; nobody else sees them); each write is audited, bad input is
refused in the one error shape, another helpline's rows answer 404, and a number added this way
takes its inbound webhooks at once."""

import pytest
from django.test import Client

from cases.models import Case
from channels_sms.models import InboundEvent, PhoneNumber, VoiceRoute
from channels_sms.sms import inbound_event_process
from helpline.models import AuditEntry
from tests.twilio_signing import PUBLIC, TOKEN, sms_params, twilio_signature

from . import factories

pytestmark = pytest.mark.django_db

NUMBERS = "/api/v1/phone-numbers/"
ROUTES = "/api/v1/voice-routes/"
NEW = "+15005550009"
CHILD = "+254712345678"


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def other_helpline():
    return factories.HelplineFactory(code="OTHER")


@pytest.fixture
def theirs(other_helpline):
    number = PhoneNumber.objects.create(helpline=other_helpline, channel="voice", number="+15005550001")
    return number, VoiceRoute.objects.create(number=number)


def errors(response) -> dict[str, str]:
    return {error["attr"]: error["code"] for error in response.json()["errors"]}


def test_an_admin_adds_a_number_and_its_first_sms_opens_a_case_in_their_helpline(
    api, admin_user, helpline, other_helpline
):
    response = api(admin_user).post(NUMBERS, {"channel": "sms", "number": "+1 500 555 0009"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["helpline"], body["channel"], body["number"], body["is_active"]) == (
        helpline.pk,
        "sms",
        NEW,
        True,
    )
    entry = AuditEntry.objects.get(action="phone_number.create")
    assert (entry.actor_id, entry.helpline_id, entry.object_id) == (
        admin_user.pk,
        helpline.pk,
        str(body["id"]),
    )
    assert entry.changes["number"] == {"before": None, "after": NEW}

    params = sms_params("SM" + "1" * 32, CHILD, "help", to=NEW)
    signed = twilio_signature("/webhooks/twilio/sms/", params)
    webhook = Client().post("/webhooks/twilio/sms/", params, HTTP_X_TWILIO_SIGNATURE=signed)
    assert webhook.status_code == 200, webhook.content
    event = InboundEvent.objects.get()
    assert event.helpline_id == helpline.pk
    assert inbound_event_process(event_id=event.pk) == "threaded"
    assert Case.objects.get().helpline_id == helpline.pk


def test_a_suspended_or_retired_number_takes_no_webhook_and_a_retired_one_can_be_added_again(
    api, admin_user, helpline, other_helpline
):
    number = PhoneNumber.objects.create(helpline=helpline, channel="sms", number=NEW)
    client = api(admin_user)
    assert client.get(NUMBERS).json()["results"][0]["number"] == NEW  # copied into this process
    suspended = client.patch(f"{NUMBERS}{number.pk}/", {"is_active": False}, format="json")
    assert suspended.status_code == 200 and suspended.json()["is_active"] is False
    params = sms_params("SM" + "2" * 32, CHILD, "help", to=NEW)
    signed = twilio_signature("/webhooks/twilio/sms/", params)
    assert Client().post("/webhooks/twilio/sms/", params, HTTP_X_TWILIO_SIGNATURE=signed).status_code != 200
    assert not InboundEvent.objects.exists()

    assert client.delete(f"{NUMBERS}{number.pk}/").status_code == 204
    assert not PhoneNumber.objects.filter(pk=number.pk).exists()
    assert [
        e.action for e in AuditEntry.objects.filter(action__startswith="phone_number.").order_by("id")
    ] == [
        "phone_number.update",
        "phone_number.delete",
    ]
    # Retired, the number may go to another helpline (by a platform administrator).
    platform = factories.AdminFactory(username="platform", helpline=None)
    moved = api(platform).post(
        NUMBERS, {"channel": "sms", "number": NEW, "helpline": other_helpline.pk}, format="json"
    )
    assert moved.status_code == 201 and moved.json()["helpline"] == other_helpline.pk


def test_supervisors_read_and_may_not_write_operators_and_agencies_see_nothing(
    api, supervisor, operator, agency_user, helpline
):
    number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number=NEW)
    route = VoiceRoute.objects.create(number=number)
    client = api(supervisor)
    assert [n["id"] for n in client.get(NUMBERS).json()["results"]] == [number.pk]
    assert client.get(f"{ROUTES}{route.pk}/").json()["number"] == number.pk
    assert (
        client.post(NUMBERS, {"channel": "sms", "number": "+15005550008"}, format="json").status_code == 403
    )
    assert client.patch(f"{NUMBERS}{number.pk}/", {"is_active": False}, format="json").status_code == 403
    assert client.delete(f"{ROUTES}{route.pk}/").status_code == 403
    for user in (operator, agency_user):
        assert api(user).get(NUMBERS).status_code == 403
        assert api(user).get(f"{ROUTES}{route.pk}/").status_code == 403
    assert PhoneNumber.objects.get().is_active and VoiceRoute.objects.exists()
    # The refusals are on the record as refusals.
    refused = AuditEntry.objects.filter(
        action__in=["phone_number.create", "phone_number.update", "voice_route.delete"]
    )
    assert sorted(refused.values_list("action", "outcome")) == [
        ("phone_number.create", "denied"),
        ("phone_number.update", "denied"),
        ("voice_route.delete", "denied"),
    ]


def test_another_helplines_numbers_and_routes_are_not_found(api, admin_user, supervisor, theirs):
    number, route = theirs
    for user in (admin_user, supervisor):
        client = api(user)
        assert client.get(NUMBERS).json()["results"] == []
        assert client.get(ROUTES).json()["results"] == []
        assert client.get(f"{NUMBERS}{number.pk}/").status_code == 404
        assert client.get(f"{ROUTES}{route.pk}/").status_code == 404
    client = api(admin_user)
    assert client.patch(f"{NUMBERS}{number.pk}/", {"is_active": False}, format="json").status_code == 404
    assert client.delete(f"{NUMBERS}{number.pk}/").status_code == 404
    assert client.patch(f"{ROUTES}{route.pk}/", {"greeting": "hi"}, format="json").status_code == 404
    # Naming their number for a route is as if it did not exist.
    response = client.post(ROUTES, {"number": number.pk}, format="json")
    assert response.status_code == 400 and errors(response) == {"number": "does_not_exist"}
    # Their number cannot be added here, on any channel.
    response = client.post(NUMBERS, {"channel": "sms", "number": number.number}, format="json")
    assert response.status_code == 400 and errors(response) == {"number": "unique"}
    assert PhoneNumber.objects.filter(number=number.number).count() == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"channel": "sms", "number": "15005550009"}, {"number": "invalid"}),
        ({"channel": "sms", "number": "+1"}, {"number": "invalid"}),
        ({"channel": "sms", "number": "whatsapp:+15005550009"}, {"number": "invalid"}),
        ({"channel": "fax", "number": NEW}, {"channel": "invalid_choice"}),
        ({"number": NEW}, {"channel": "required"}),
        ({"channel": "sms", "number": NEW, "is_active": False}, {"is_active": "unknown_field"}),
    ],
)
def test_bad_numbers_are_refused(api, admin_user, body, expected):
    response = api(admin_user).post(NUMBERS, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "validation_error"
    assert {attr: code for attr, code in errors(response).items() if attr in expected} == expected
    assert (
        not PhoneNumber.objects.exists()
        and not AuditEntry.objects.filter(action="phone_number.create").exists()
    )


def test_a_number_is_configured_once_per_channel_and_whatsapp_senders_keep_their_prefix(api, admin_user):
    client = api(admin_user)
    assert client.post(NUMBERS, {"channel": "sms", "number": NEW}, format="json").status_code == 201
    again = client.post(NUMBERS, {"channel": "sms", "number": NEW}, format="json")
    assert again.status_code == 400 and errors(again) == {"number": "unique"}
    # The same number on other channels of the same helpline is fine.
    voice = client.post(NUMBERS, {"channel": "voice", "number": NEW}, format="json")
    assert voice.status_code == 201
    # A number is not renumbered in place: retire it and add the new one.
    renumber = client.patch(f"{NUMBERS}{voice.json()['id']}/", {"number": "+15005550008"}, format="json")
    assert renumber.status_code == 400 and errors(renumber) == {"number": "unknown_field"}
    whatsapp = client.post(NUMBERS, {"channel": "whatsapp", "number": NEW}, format="json")
    assert whatsapp.status_code == 201 and whatsapp.json()["number"] == f"whatsapp:{NEW}"


def test_an_admin_routes_a_voice_number_and_the_next_call_rings_the_on_duty_numbers(
    api, admin_user, helpline
):
    number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number=NEW)
    client = api(admin_user)
    response = client.post(
        ROUTES,
        {"number": number.pk, "mode": "dial", "dial_numbers": ["+254 700 000 001"], "emergency_digit": "5"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    route = response.json()
    assert (route["address"], route["dial_numbers"], route["emergency_digit"]) == (
        NEW,
        ["+254700000001"],
        "5",
    )
    created = AuditEntry.objects.get(action="voice_route.create")
    assert created.changes["dial_numbers"] == {"before": "[redacted]", "after": "[redacted]"}
    assert "254700000001" not in str(created.changes) + str(created.extra)

    call = {
        "CallSid": "CA" + "b" * 32,
        "From": CHILD,
        "To": NEW,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    signed = twilio_signature("/webhooks/twilio/voice/", call)
    answer = Client().post("/webhooks/twilio/voice/", call, HTTP_X_TWILIO_SIGNATURE=signed)
    assert answer.status_code == 200 and b"<Number>+254700000001</Number>" in answer.content
    assert InboundEvent.objects.get().helpline_id == helpline.pk

    updated = client.patch(
        f"{ROUTES}{route['id']}/", {"mode": "enqueue", "queue_name": "night"}, format="json"
    )
    assert updated.status_code == 200 and updated.json()["queue_name"] == "night"
    assert client.delete(f"{ROUTES}{route['id']}/").status_code == 204
    assert not VoiceRoute.objects.exists()
    assert list(
        AuditEntry.objects.filter(action__startswith="voice_route.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["voice_route.create", "voice_route.update", "voice_route.delete"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"mode": "dial"}, {"dial_numbers": "required"}),
        ({"dial_numbers": ["0700000001"]}, {"dial_numbers": "invalid"}),
        ({"emergency_digit": "99"}, {"emergency_digit": "invalid"}),
        ({"queue_name": "a queue!"}, {"queue_name": "invalid"}),
        ({"mode": "ring"}, {"mode": "invalid_choice"}),
        ({"colour": "red"}, {"colour": "unknown_field"}),
    ],
)
def test_bad_voice_routes_are_refused(api, admin_user, helpline, body, expected):
    number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number=NEW)
    response = api(admin_user).post(ROUTES, {"number": number.pk, **body}, format="json")
    assert response.status_code == 400, response.json()
    assert {attr: code for attr, code in errors(response).items() if attr in expected} == expected
    assert not VoiceRoute.objects.exists()


def test_only_a_voice_number_has_one_voice_route(api, admin_user, helpline):
    sms = PhoneNumber.objects.create(helpline=helpline, channel="sms", number=NEW)
    voice = PhoneNumber.objects.create(helpline=helpline, channel="voice", number=NEW)
    client = api(admin_user)
    response = client.post(ROUTES, {"number": sms.pk}, format="json")
    assert response.status_code == 400 and errors(response) == {"number": "invalid"}
    assert client.post(ROUTES, {"number": voice.pk}, format="json").status_code == 201
    second = client.post(ROUTES, {"number": voice.pk}, format="json")
    assert second.status_code == 400 and errors(second) == {"number": "unique"}
    assert VoiceRoute.objects.count() == 1


def test_a_voice_route_rings_several_on_duty_numbers_and_counts_them_not_their_characters(
    api, admin_user, helpline
):
    number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number=NEW)
    on_duty = [f"+254 700 000 {n:03d}" for n in range(1, 6)]
    client = api(admin_user)
    response = client.post(
        ROUTES, {"number": number.pk, "mode": "dial", "dial_numbers": on_duty}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert len(response.json()["dial_numbers"]) == 5
    too_many = [f"+254 700 001 {n:03d}" for n in range(21)]
    refused = client.patch(f"{ROUTES}{response.json()['id']}/", {"dial_numbers": too_many}, format="json")
    assert refused.status_code == 400 and errors(refused) == {"dial_numbers": "max_length"}
