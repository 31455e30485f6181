"""Administrators configure their helpline's Twilio numbers and how its voice numbers answer in the
console, and supervisors and administrators keep its on-call rota there. Every write goes through
the apps' services (channels_sms.numbers, notifications.services): the rows and the audit entries
are those the API leaves, and the API reads back what the console wrote. Supervisors read the
numbers without a form to change them; other roles and other helplines' administrators get 404;
bad input and unknown fields answer 400 with nothing written; no page carries inline script or
style."""

import re

import pytest
from django.urls import reverse

from channels_sms.models import PhoneNumber, VoiceRoute
from helpline.models import AuditEntry
from notifications.models import OnCallShift
from tests import factories
from tests.console import sign_in
from tests.test_console_is_secure_by_default import INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE

pytestmark = pytest.mark.django_db

NUMBERS = reverse("console:admin-numbers")
ROUTES = reverse("console:admin-voice-routes")
ROTA = reverse("console:admin-on-call")
ACKNOWLEDGEMENT = "Сайн байна уу?"  # noqa: RUF001 (Mongolian: Cyrillic letters)
NUMBER_WRITES = (
    "phone_number.create",
    "phone_number.update",
    "phone_number.delete",
    "voice_route.create",
    "voice_route.update",
    "voice_route.delete",
)


def _entries(action: str, **more) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, **more).order_by("id"))


def _numbers_state() -> tuple:
    return (
        sorted(
            PhoneNumber.objects.values_list("pk", "helpline_id", "channel", "number", "language", "is_active")
        ),
        sorted(VoiceRoute.objects.values_list("pk", "number_id", "mode", "dial_numbers", "emergency_digit")),
        AuditEntry.objects.filter(action__in=NUMBER_WRITES).count(),
    )


def _rota_state() -> tuple:
    return (
        sorted(OnCallShift.objects.values_list("pk", "helpline_id", "user_id", "weekdays", "starts", "ends")),
        AuditEntry.objects.filter(action="notification.on_call_set").count(),
    )


@pytest.fixture
def voice(helpline):
    return PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550006")


@pytest.fixture
def theirs():
    """Another helpline, its administrator, operator and routed voice number."""
    elsewhere = factories.HelplineFactory(code="ELSEWHERE")
    number = PhoneNumber.objects.create(helpline=elsewhere, channel="voice", number="+15005550001")
    return {
        "admin": factories.AdminFactory(username="admin-elsewhere", helpline=elsewhere),
        "operator": factories.OperatorFactory(username="operator-elsewhere", helpline=elsewhere),
        "number": number,
        "route": VoiceRoute.objects.create(number=number),
    }


# --- numbers ----------------------------------------------------------------------------------------


def test_an_administrator_adds_a_number_and_it_is_listed(admin_user, helpline):
    client = sign_in(admin_user)
    answer = client.post(
        NUMBERS, {"channel": "sms", "number": " +1 500 555 0009", "language": "", "acknowledgement": ""}
    )
    number = PhoneNumber.objects.get(number="+15005550009")
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/numbers/{number.pk}/")
    assert (number.helpline, number.channel, number.language, number.is_active) == (helpline, "sms", "", True)
    [entry] = _entries("phone_number.create")
    assert (entry.actor, entry.helpline_id, entry.object_id) == (admin_user, helpline.pk, str(number.pk))
    assert entry.changes["number"] == {"before": None, "after": "+15005550009"}
    listed = client.get(NUMBERS).content.decode()
    row = re.search(
        rf'<tr data-row>\s*<td><a href="/console/admin/numbers/{number.pk}/">.*?</tr>', listed, re.S
    )
    assert row and "+15005550009" in row.group(0) and "SMS" in row.group(0)
    assert "The helpline's default" in row.group(0) and "Yes" in row.group(0)


@pytest.mark.parametrize(
    "form",
    [
        {"channel": "sms", "number": "15005550009"},  # no country code
        {"channel": "sms", "number": "+1 500 555"},  # too short
        {"channel": "fax", "number": "+15005550009"},
        {"channel": "sms"},
        {"channel": "sms", "number": "whatsapp:+15005550009"},  # only a WhatsApp sender
        {"channel": "sms", "number": "+15005550009", "language": "mn"},  # not one of the helpline's
        {"channel": "sms", "number": "+15005550009", "language": "klingon"},
        {"channel": "sms", "number": "+15005550001"},  # another helpline's number
        {"channel": "sms", "number": "+15005550009", "acknowledgement": "x" * 481},
    ],
)
def test_a_number_is_not_added_from_bad_input_and_nothing_is_written(admin_user, theirs, form):
    client = sign_in(admin_user)
    before = _numbers_state()
    answer = client.post(NUMBERS, form)
    assert answer.status_code == 400, form
    assert 'role="alert"' in answer.content.decode()
    assert _numbers_state() == before


def test_an_administrator_changes_suspends_reactivates_and_removes_a_number(admin_user, helpline, voice):
    helpline.languages = ["mn"]
    helpline.save(update_fields=["languages"])
    client = sign_in(admin_user)
    url = reverse("console:admin-number", args=[voice.pk])
    page = client.get(url).content.decode()
    assert '<option value="mn" lang="mn">' in page and "Route the number" in page
    assert client.post(url, {"language": "mn", "acknowledgement": ACKNOWLEDGEMENT}).status_code == 302
    voice.refresh_from_db()
    assert (voice.language, voice.acknowledgement) == ("mn", ACKNOWLEDGEMENT)
    assert client.post(url, {"is_active": "false"}).status_code == 302
    voice.refresh_from_db()
    assert not voice.is_active
    assert 'name="is_active" value="true"' in client.get(url).content.decode()
    assert client.post(url, {"is_active": "true"}).status_code == 302
    voice.refresh_from_db()
    assert voice.is_active
    changes = [e.changes for e in _entries("phone_number.update", object_id=str(voice.pk))]
    assert [set(c) for c in changes] == [{"language", "acknowledgement"}, {"is_active"}, {"is_active"}]
    assert changes[1]["is_active"] == {"before": True, "after": False}
    # A language the helpline does not speak, or nothing to change: refused, nothing written.
    VoiceRoute.objects.create(number=voice)
    before = _numbers_state()
    assert client.post(url, {"language": "es"}).status_code == 400
    assert client.post(url, {}).status_code == 400
    assert _numbers_state() == before

    remove = reverse("console:admin-number-remove", args=[voice.pk])
    # Not without the box ticked.
    assert client.post(remove, {}).status_code == 400
    assert client.post(remove, {"confirm": "no"}).status_code == 400
    assert _numbers_state() == before
    answer = client.post(remove, {"confirm": "yes"})
    assert (answer.status_code, answer["Location"]) == (302, NUMBERS)
    assert not PhoneNumber.objects.filter(pk=voice.pk).exists() and not VoiceRoute.objects.exists()
    [removed] = _entries("phone_number.delete", object_id=str(voice.pk))
    assert removed.actor == admin_user and removed.extra["had_voice_route"] is True
    assert client.get(url).status_code == 404


# --- voice routes -----------------------------------------------------------------------------------


def test_an_administrator_routes_a_voice_number_changes_and_removes_the_route(api, admin_user, voice):
    client = sign_in(admin_user)
    answer = client.post(
        ROUTES,
        {
            "number": str(voice.pk),
            "mode": "dial",
            "dial_numbers": "+254 712 345 678\r\n\r\n+254712345679\r\n",
            "greeting": "You reached the helpline.",
            "emergency_digit": "",
            "queue_name": "",
        },
    )
    route = VoiceRoute.objects.get(number=voice)
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/voice-routes/{route.pk}/")
    assert (route.mode, route.dial_numbers, route.emergency_digit, route.queue_name) == (
        "dial",
        "+254712345678\n+254712345679",
        "9",
        "",
    )
    [created] = _entries("voice_route.create", object_id=str(route.pk))
    assert created.actor == admin_user and created.extra["number_id"] == voice.pk
    # The on-duty operators' numbers are personal: the audit log says they changed, not what they are.
    assert "254712345678" not in str(created.changes)
    # The API reads back what the console wrote.
    body = api(admin_user).get(f"/api/v1/voice-routes/{route.pk}/").json()
    assert body["dial_numbers"] == ["+254712345678", "+254712345679"]
    # The lists show it.
    assert f'href="/console/admin/voice-routes/{route.pk}/"' in client.get(ROUTES).content.decode()
    numbers_page = client.get(NUMBERS).content.decode()
    assert f'href="/console/admin/voice-routes/{route.pk}/"' in numbers_page

    url = reverse("console:admin-voice-route", args=[route.pk])
    page = client.get(url).content.decode()
    assert "+254712345678\n+254712345679</textarea>" in page
    assert (
        client.post(
            url,
            {
                "mode": "enqueue",
                "dial_numbers": "",
                "greeting": "",
                "emergency_digit": "0",
                "queue_name": "night_1",
            },
        ).status_code
        == 302
    )
    route.refresh_from_db()
    assert (route.mode, route.dial_numbers, route.emergency_digit, route.queue_name, route.greeting) == (
        "enqueue",
        "",
        "0",
        "night_1",
        "",
    )
    [updated] = _entries("voice_route.update", object_id=str(route.pk))
    assert updated.changes["mode"] == {"before": "dial", "after": "enqueue"}
    assert "254712345678" not in str(updated.changes)

    remove = reverse("console:admin-voice-route-remove", args=[route.pk])
    assert client.post(remove, {}).status_code == 400
    assert VoiceRoute.objects.filter(pk=route.pk).exists()
    answer = client.post(remove, {"confirm": "yes"})
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/numbers/{voice.pk}/")
    assert not VoiceRoute.objects.exists() and PhoneNumber.objects.filter(pk=voice.pk).exists()
    assert _entries("voice_route.delete", object_id=str(route.pk))


@pytest.mark.parametrize(
    "form",
    [
        {"mode": "dial", "dial_numbers": ""},  # dialling needs an on-duty number
        {"mode": "dial", "dial_numbers": "0712345678"},  # not E.164
        {"mode": "ring"},
        {"emergency_digit": "12"},
        {"queue_name": "night shift!"},
        {"greeting": "x" * 481},
        {"number": "SMS"},  # an SMS number has no voice route
        {"number": "ROUTED"},  # one route per number
        {"number": "THEIRS"},  # another helpline's number: not found
        {"number": ""},
    ],
)
def test_a_route_is_not_written_from_bad_input_and_nothing_is_written(
    admin_user, helpline, voice, theirs, form
):
    routed = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550002")
    VoiceRoute.objects.create(number=routed)
    sms = PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    ids = {"SMS": sms.pk, "ROUTED": routed.pk, "THEIRS": theirs["number"].pk}
    data = {"number": str(voice.pk), "mode": "enqueue", **form}
    data["number"] = str(ids.get(data["number"], data["number"]))
    client = sign_in(admin_user)
    before = _numbers_state()
    assert client.post(ROUTES, data).status_code == 400, form
    # The same refused as a change of a route (but the number, which a route's form does not take).
    if "number" not in form:
        url = reverse("console:admin-voice-route", args=[routed.voice_route.pk])
        assert client.post(url, form).status_code == 400, form
    assert _numbers_state() == before


def test_supervisors_read_the_numbers_and_routes_without_changing_them(supervisor, helpline, voice):
    route = VoiceRoute.objects.create(number=voice, mode="dial", dial_numbers="+254712345678")
    client = sign_in(supervisor)
    pages = {
        NUMBERS: "+15005550006",
        reverse("console:admin-number", args=[voice.pk]): "+15005550006",
        ROUTES: "+15005550006",
        reverse("console:admin-voice-route", args=[route.pk]): "+254712345678",
    }
    for url, shown in pages.items():
        answer = client.get(url)
        assert answer.status_code == 200, url
        html = answer.content.decode()
        assert shown in html, url
        # Read only: no form in the page (but signing out).
        assert re.findall(r'<form\b[^>]*action="([^"]+)"', html) == ["/console/sign-out/"], url
    before = _numbers_state()
    forms = {
        NUMBERS: {"channel": "sms", "number": "+15005550009"},
        reverse("console:admin-number", args=[voice.pk]): {"is_active": "false"},
        reverse("console:admin-number-remove", args=[voice.pk]): {"confirm": "yes"},
        ROUTES: {"number": str(voice.pk), "mode": "enqueue"},
        reverse("console:admin-voice-route", args=[route.pk]): {"mode": "enqueue"},
        reverse("console:admin-voice-route-remove", args=[route.pk]): {"confirm": "yes"},
    }
    for url, form in forms.items():
        assert client.post(url, form).status_code == 404, url
    assert _numbers_state() == before


@pytest.mark.parametrize("role", ["operator", "agency"])
def test_other_roles_get_404_for_the_numbers_and_the_rota(role, operator, agency_user, voice):
    """(Operators read the rota, below, and may not change it.)"""
    route = VoiceRoute.objects.create(number=voice)
    client = sign_in({"operator": operator, "agency": agency_user}[role])
    gets = [
        NUMBERS,
        reverse("console:admin-number", args=[voice.pk]),
        ROUTES,
        reverse("console:admin-voice-route", args=[route.pk]),
        *([ROTA] if role == "agency" else []),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    before = (_numbers_state(), _rota_state())
    assert (
        client.post(reverse("console:admin-number-remove", args=[voice.pk]), {"confirm": "yes"}).status_code
        == 404
    )
    assert (
        client.post(
            ROTA, {"user_0": str(operator.pk), "weekdays_0": "1", "starts_0": "18:00", "ends_0": "08:00"}
        ).status_code
        == 404
    )
    assert (_numbers_state(), _rota_state()) == before


def test_another_helplines_numbers_and_routes_are_not_found(admin_user, theirs):
    client = sign_in(admin_user)
    number, route = theirs["number"], theirs["route"]
    before = _numbers_state()
    assert client.get(reverse("console:admin-number", args=[number.pk])).status_code == 404
    assert client.get(reverse("console:admin-voice-route", args=[route.pk])).status_code == 404
    posts = {
        reverse("console:admin-number", args=[number.pk]): {"is_active": "false"},
        reverse("console:admin-number-remove", args=[number.pk]): {"confirm": "yes"},
        reverse("console:admin-voice-route", args=[route.pk]): {"mode": "enqueue"},
        reverse("console:admin-voice-route-remove", args=[route.pk]): {"confirm": "yes"},
    }
    for url, form in posts.items():
        assert client.post(url, form).status_code == 404, url
    assert _numbers_state() == before
    assert "+15005550001" not in client.get(NUMBERS).content.decode()
    assert "+15005550001" not in client.get(ROUTES).content.decode()


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("admin-numbers", {"channel": "sms", "number": "+15005550009", "is_active": "false"}),
        ("admin-number", {"number": "+15005550009"}),
        ("admin-number-remove", {"confirm": "yes", "force": "1"}),
        ("admin-voice-routes", {"number": "VOICE", "mode": "enqueue", "helpline": "1"}),
        ("admin-voice-route", {"number": "VOICE"}),
        ("admin-voice-route-remove", {"confirm": "yes", "number": "VOICE"}),
        ("admin-on-call", {"user_0": "OPERATOR", "starts_0": "18:00", "ends_0": "08:00", "helpline": "1"}),
        ("admin-on-call", {"user_200": "OPERATOR", "starts_200": "18:00", "ends_200": "08:00"}),
    ],
)
def test_unknown_fields_answer_400_and_write_nothing(admin_user, operator, voice, name, form):
    route = VoiceRoute.objects.create(number=voice)
    args = {
        "admin-number": [voice.pk],
        "admin-number-remove": [voice.pk],
        "admin-voice-route": [route.pk],
        "admin-voice-route-remove": [route.pk],
    }.get(name, [])
    ids = {"VOICE": str(voice.pk), "OPERATOR": str(operator.pk)}
    data = {key: ids.get(value, value) for key, value in form.items()}
    before = (_numbers_state(), _rota_state())
    answer = sign_in(admin_user).post(reverse(f"console:{name}", args=args), data)
    assert answer.status_code == 400
    assert "does not take these fields" in answer.content.decode()
    assert (_numbers_state(), _rota_state()) == before


# --- the on-call rota -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_administrators_replace_the_rota(
    api, role, helpline, operator, supervisor, admin_user
):
    keeper = {"supervisor": supervisor, "admin": admin_user}[role]
    client = sign_in(keeper)
    page = client.get(ROTA).content.decode()
    assert "Nobody is on call." in page
    # Five empty rows to fill in; the people who may be on call to choose from (not the administrator).
    assert len(re.findall(r'<select id="user-\d+"', page)) == 5
    assert f'<option value="{operator.pk}">operator1</option>' in page
    assert f'<option value="{admin_user.pk}">' not in page
    answer = client.post(
        ROTA,
        {
            "user_0": str(operator.pk),
            "weekdays_0": ["1", "2", "3", "4", "5"],
            "starts_0": "18:00",
            "ends_0": "08:00",
            # An unused row in between.
            "user_1": "",
            "starts_1": "",
            "ends_1": "",
            "user_2": str(supervisor.pk),
            "weekdays_2": ["7", "6"],
            "starts_2": "00:00",
            "ends_2": "23:59",
        },
    )
    assert (answer.status_code, answer["Location"]) == (302, ROTA)
    shifts = list(OnCallShift.objects.filter(helpline=helpline).order_by("id"))
    assert [(s.user, s.weekdays, f"{s.starts:%H:%M}", f"{s.ends:%H:%M}") for s in shifts] == [
        (operator, [1, 2, 3, 4, 5], "18:00", "08:00"),
        (supervisor, [6, 7], "00:00", "23:59"),
    ]
    [entry] = _entries("notification.on_call_set")
    assert (entry.actor, entry.helpline_id) == (keeper, helpline.pk)
    assert [shift["user_id"] for shift in entry.extra["after"]] == [operator.pk, supervisor.pk]
    # The API reads the same rota.
    read = api(operator).get("/api/v1/notifications/on-call/").json()["shifts"]
    assert [(s["username"], s["starts"]) for s in read] == [
        ("operator1", "18:00:00"),
        ("supervisor1", "00:00:00"),
    ]
    # The page shows it, and the form holds it with five more empty rows.
    page = client.get(ROTA).content.decode()
    assert len(re.findall(r'<select id="user-\d+"', page)) == 7
    assert f'<option value="{operator.pk}" selected>operator1</option>' in page
    assert 'id="weekdays-0-5" name="weekdays_0" type="checkbox" value="5" checked' in page
    assert 'id="weekdays-0-6" name="weekdays_0" type="checkbox" value="6">' in page
    assert 'name="starts_0" type="time" value="18:00"' in page
    assert "Monday, Tuesday, Wednesday, Thursday, Friday" in page
    # Emptied, the rota is nobody.
    assert client.post(ROTA, {"user_0": "", "starts_0": "", "ends_0": ""}).status_code == 302
    assert not OnCallShift.objects.exists()
    assert len(_entries("notification.on_call_set")) == 2


@pytest.mark.parametrize(
    ("shift", "problem"),
    [
        ({"weekdays": ["1"], "starts": "18:00", "ends": "08:00"}, "shift 3, user"),  # nobody
        ({"user": "OPERATOR", "weekdays": ["1"], "starts": "18:00"}, "shift 3, ends"),
        ({"user": "OPERATOR", "starts": "18:00", "ends": "08:00"}, "shift 3, weekdays"),  # no day
        ({"user": "OPERATOR", "weekdays": ["8"], "starts": "18:00", "ends": "08:00"}, "shift 3, weekdays"),
        ({"user": "OPERATOR", "weekdays": ["1"], "starts": "6pm", "ends": "08:00"}, "shift 3, starts"),
        ({"user": "OPERATOR", "weekdays": ["1"], "starts": "18:00", "ends": "18:00"}, "shift 3, ends"),
        ({"user": "AGENCY", "weekdays": ["1"], "starts": "18:00", "ends": "08:00"}, "shift 3, user"),
        ({"user": "THEIRS", "weekdays": ["1"], "starts": "18:00", "ends": "08:00"}, "shift 3, user"),
        ({"user": "FORMER", "weekdays": ["1"], "starts": "18:00", "ends": "08:00"}, "shift 3, user"),
    ],
)
def test_a_rota_with_a_bad_shift_is_refused_naming_its_row_and_nothing_is_written(
    supervisor, operator, agency_user, theirs, shift, problem
):
    former = factories.OperatorFactory(username="former", helpline=operator.helpline, is_active=False)
    ids = {
        "OPERATOR": operator.pk,
        "AGENCY": agency_user.pk,
        "THEIRS": theirs["operator"].pk,
        "FORMER": former.pk,
    }
    client = sign_in(supervisor)
    assert (
        client.post(
            ROTA, {"user_0": str(supervisor.pk), "weekdays_0": "3", "starts_0": "20:00", "ends_0": "23:00"}
        ).status_code
        == 302
    )
    before = _rota_state()
    form = {"user_0": str(operator.pk), "weekdays_0": ["1", "2"], "starts_0": "18:00", "ends_0": "08:00"}
    # Row 2 unused; the bad shift on row 3.
    for part, value in shift.items():
        form[f"{part}_2"] = str(ids.get(value, value)) if part == "user" else value
    answer = client.post(ROTA, form)
    assert answer.status_code == 400, answer.content.decode()[-1500:]
    html = answer.content.decode()
    assert f'<span class="field">{problem}</span>' in html
    assert _rota_state() == before


def test_a_former_member_on_the_rota_is_shown_in_the_form_to_be_taken_off(supervisor, operator, helpline):
    OnCallShift.objects.create(helpline=helpline, user=operator, weekdays=[1], starts="18:00", ends="08:00")
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    client = sign_in(supervisor)
    page = client.get(ROTA).content.decode()
    assert f'<option value="{operator.pk}" selected>operator1</option>' in page
    assert page.count(f'<option value="{operator.pk}"') == 1  # only in their own row
    before = _rota_state()
    form = {"user_0": str(operator.pk), "weekdays_0": "1", "starts_0": "18:00", "ends_0": "08:00"}
    assert client.post(ROTA, form).status_code == 400
    assert _rota_state() == before
    assert client.post(ROTA, {"user_0": "", "starts_0": "", "ends_0": ""}).status_code == 302
    assert not OnCallShift.objects.exists()


def test_another_helplines_administrator_keeps_only_their_own_rota(theirs, operator, helpline):
    OnCallShift.objects.create(helpline=helpline, user=operator, weekdays=[1], starts="18:00", ends="08:00")
    client = sign_in(theirs["admin"])
    page = client.get(ROTA).content.decode()
    assert "operator1" not in page and "operator-elsewhere" in page
    before = _rota_state()
    form = {"user_0": str(operator.pk), "weekdays_0": "1", "starts_0": "18:00", "ends_0": "08:00"}
    answer = client.post(ROTA, form)
    assert answer.status_code == 400
    assert '<span class="field">shift 1, user</span>' in answer.content.decode()
    assert _rota_state() == before


def test_a_platform_administrator_is_told_the_rota_is_each_helplines(helpline):
    platform = factories.AdminFactory(username="root-admin", helpline=None)
    client = sign_in(platform)
    page = client.get(ROTA).content.decode()
    assert "you belong to no helpline" in page and "<form" not in page.split("</header>", 1)[1]
    assert client.post(ROTA, {"user_0": "", "starts_0": "", "ends_0": ""}).status_code == 404
    assert not _entries("notification.on_call_set")


# --- pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_the_pages_have_no_inline_script_or_style_and_label_every_field(
    role, admin_user, supervisor, helpline, operator, voice
):
    route = VoiceRoute.objects.create(number=voice, mode="dial", dial_numbers="+254712345678")
    PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550002")
    OnCallShift.objects.create(
        helpline=helpline, user=operator, weekdays=[1, 5], starts="18:00", ends="08:00"
    )
    client = sign_in({"admin": admin_user, "supervisor": supervisor}[role])
    answers = [
        (url, client.get(url))
        for url in (
            NUMBERS,
            reverse("console:admin-number", args=[voice.pk]),
            ROUTES,
            reverse("console:admin-voice-route", args=[route.pk]),
            ROTA,
        )
    ]
    # A refusal answered in the page's shape.
    answers.append(("refused", client.post(ROTA, {"user_0": str(operator.pk), "starts_0": "18:00"})))
    for url, answer in answers:
        html = answer.content.decode()
        assert answer.status_code in (200, 400), url
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_STYLE.search(html), url
        assert not INLINE_HANDLER.search(html), url
        assert "unsafe-inline" not in answer["Content-Security-Policy"], url
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, re.S):
            assert 'method="post"' in form and "csrfmiddlewaretoken" in form, (url, form[:200])
        for field_id in re.findall(
            r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html
        ):
            assert f'for="{field_id}"' in html, (url, field_id)
        assert not re.search(
            r'<(?:input|select|textarea)\b(?![^>]*type="hidden")(?![^>]*\bid=)[^>]*>', html
        ), url
        for table in re.findall(r"<table\b.*?</table>", html, re.S):
            assert "<caption>" in table and 'scope="col"' in table, url


def test_operators_read_the_rota_and_cannot_change_it(helpline, operator, supervisor):
    shift = OnCallShift.objects.create(
        helpline=helpline, user=supervisor, weekdays=[6, 7], starts="18:00", ends="08:00"
    )
    client = sign_in(operator)
    page = client.get(ROTA).content.decode()
    assert "supervisor1" in page and "Saturday, Sunday" in page
    assert "<form" not in page.split("<main", 1)[1].split("</main>", 1)[0]  # no form to change it
    assert "On-call rota" in page.split("<nav", 1)[1].split("</nav>", 1)[0]
    answer = client.post(ROTA, {"user_0": str(operator.pk), "starts_0": "18:00", "ends_0": "08:00"})
    assert answer.status_code == 404
    assert list(OnCallShift.objects.filter(helpline=helpline)) == [shift]
    assert not _entries("notification.on_call_set")
