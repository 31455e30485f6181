"""The administrators' pages of the console (console/urls_admin.py) stay within the policy and the
administrator's helpline: every route answers 404 to a role that does not have it (operators but
for reading the on-call rota, partner-agency users, supervisors but for canned replies, the rota
and reading the numbers) and to an administrator of another helpline for this helpline's objects,
and writes nothing. Their forms refuse fields they do not take (400, nothing written), and no page
carries inline script or style. The matrix names every route: a new one fails here until it is
given its row."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from channels_sms.models import CannedReply, PhoneNumber, VoiceRoute
from console import urls_admin
from helpline.models import AuditEntry, Helpline, Team, User
from notifications.models import OnCallShift
from referrals.models import Agency
from tests import factories
from tests.console import an_address, authenticator, current_code, sign_in
from tests.factories import PASSWORD
from tests.test_console_is_secure_by_default import INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE

pytestmark = pytest.mark.django_db

ROLES = ("operator", "supervisor", "agency", "admin", "other_admin")
ADMINS = {"admin"}
# The list pages answer another helpline's administrator with their own helpline's rows.
LIST_ROLES = {"admin", "other_admin"}

# route name -> (method, the roles answered (others: 404)).
MATRIX = {
    "admin-users": ("get", LIST_ROLES),
    "admin-user": ("get", ADMINS),
    "admin-user-password-link": ("post", ADMINS),
    "admin-user-second-factor": ("post", ADMINS),
    "admin-teams": ("get", LIST_ROLES),
    "admin-team": ("get", ADMINS),
    "admin-canned-replies": ("get", LIST_ROLES | {"supervisor"}),
    "admin-canned-reply": ("get", ADMINS | {"supervisor"}),
    "admin-agencies": ("get", LIST_ROLES),
    "admin-agency": ("get", ADMINS),
    "admin-helplines": ("get", LIST_ROLES),
    "admin-helpline-languages": ("post", ADMINS),
    "admin-helpline-chat": ("get", ADMINS),
    # Supervisors read the numbers and voice routes; administrators change them.
    "admin-numbers": ("get", LIST_ROLES | {"supervisor"}),
    "admin-number": ("get", ADMINS | {"supervisor"}),
    "admin-number-remove": ("post", ADMINS),
    "admin-voice-routes": ("get", LIST_ROLES | {"supervisor"}),
    "admin-voice-route": ("get", ADMINS | {"supervisor"}),
    "admin-voice-route-remove": ("post", ADMINS),
    # Each helpline's supervisors and administrators keep its own rota; its operators read it.
    "admin-on-call": ("get", LIST_ROLES | {"supervisor", "operator"}),
}
# Every route that takes a POST, with the roles it answers; an empty form is refused for what it
# lacks (400), never for scope.
POSTS = {
    "admin-users": LIST_ROLES,
    "admin-user": ADMINS,
    "admin-user-password-link": ADMINS,
    "admin-user-second-factor": ADMINS,
    "admin-teams": LIST_ROLES,
    "admin-team": ADMINS,
    "admin-canned-replies": LIST_ROLES | {"supervisor"},
    "admin-canned-reply": ADMINS | {"supervisor"},
    "admin-agencies": LIST_ROLES,
    "admin-agency": ADMINS,
    "admin-helpline-languages": ADMINS,
    "admin-helpline-chat": ADMINS,
    "admin-numbers": LIST_ROLES,
    "admin-number": ADMINS,
    "admin-number-remove": ADMINS,
    "admin-voice-routes": LIST_ROLES,
    "admin-voice-route": ADMINS,
    "admin-voice-route-remove": ADMINS,
    "admin-on-call": LIST_ROLES | {"supervisor"},
}
# A filled-in form for each.
FORMS = {
    "admin-users": {"username": "newperson", "role": "operator"},
    "admin-user": {"role": "supervisor", "is_active": "false"},
    "admin-user-password-link": {},
    "admin-user-second-factor": {},
    "admin-teams": {"name": "Night shift"},
    "admin-team": {"name": "Renamed", "is_active": "false"},
    "admin-canned-replies": {"language": "en", "title": "New", "body": "Hello"},
    "admin-canned-reply": {"title": "Changed", "is_active": "false"},
    "admin-agencies": {"code": "health", "name": "Health", "sector": "health"},
    "admin-agency": {"name": "Renamed", "is_active": "false"},
    "admin-helpline-languages": {"default_language": "es", "languages": ["mn"]},
    "admin-helpline-chat": {
        "timezone": "UTC",
        "hours": "set",
        "weekday_0": "monday",
        "opens_0": "08:00",
        "closes_0": "20:00",
    },
    "admin-numbers": {"channel": "sms", "number": "+15005550007"},
    "admin-number": {"acknowledgement": "Hello", "is_active": "false"},
    "admin-number-remove": {"confirm": "yes"},
    "admin-voice-routes": {"number": "{unrouted_id}", "mode": "enqueue"},
    "admin-voice-route": {"mode": "dial", "dial_numbers": "+254712345678"},
    "admin-voice-route-remove": {"confirm": "yes"},
    "admin-on-call": {
        "user_0": "{operator_id}",
        "weekdays_0": ["1", "2"],
        "starts_0": "18:00",
        "ends_0": "08:00",
    },
}
# What a write through these pages leaves in the audit log.
WRITES = (
    "user.create",
    "user.update",
    "user.password_link",
    "user.second_factor_reset",
    "team.create",
    "team.update",
    "canned_reply.create",
    "canned_reply.update",
    "agency.create",
    "agency.update",
    "agency.webhook_propose",
    "helpline.update",
    "phone_number.create",
    "phone_number.update",
    "phone_number.delete",
    "voice_route.create",
    "voice_route.update",
    "voice_route.delete",
    "notification.on_call_set",
)


def test_the_matrix_names_every_route():
    names = {p.name for p in urls_admin.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(MATRIX)
    assert set(POSTS) <= names
    assert all(name.startswith("admin-") for name in names)


@pytest.fixture
def world(helpline, team, operator, supervisor, agency_user, admin_user):
    from referrals.models import AgencyMembership

    reply = CannedReply.objects.create(
        helpline=helpline, language="en", title="Safe?", body="Are you safe?", created_by=admin_user
    )
    agency = AgencyMembership.objects.get(user=agency_user).agency
    elsewhere = factories.HelplineFactory(code="ELSEWHERE")
    other_admin = factories.AdminFactory(username="admin-elsewhere", helpline=elsewhere)
    number = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550006")
    route = VoiceRoute.objects.create(number=number)
    unrouted = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+15005550008")
    people = {
        "operator": operator,
        "supervisor": supervisor,
        "agency": agency_user,
        "admin": admin_user,
        "other_admin": other_admin,
    }
    kwargs = {
        "user_id": operator.pk,
        "team_id": team.pk,
        "reply_id": reply.pk,
        "agency_id": agency.pk,
        "helpline_id": helpline.pk,
        "number_id": number.pk,
        "voice_route_id": route.pk,
        # Named in forms (_form).
        "unrouted_id": unrouted.pk,
        "operator_id": operator.pk,
    }
    return people, kwargs


def _path(name: str, kwargs: dict) -> str:
    pattern = next(p for p in urls_admin.urlpatterns if p.name == name)
    wanted = {k: v for k, v in kwargs.items() if k in pattern.pattern.converters}
    return reverse(f"console:{name}", kwargs=wanted)


def _form(name: str, kwargs: dict) -> dict:
    """The filled-in form of a route, naming the world's rows where it says {...}."""
    return {
        key: value.format(**kwargs) if isinstance(value, str) else value for key, value in FORMS[name].items()
    }


def _state() -> tuple:
    """Everything these pages write, as it stands."""
    return (
        sorted(User.objects.values_list("pk", "username", "role", "team_id", "language", "is_active")),
        sorted(Team.objects.values_list("pk", "name", "is_active", "auto_assign")),
        sorted(CannedReply.objects.values_list("pk", "language", "title", "body", "is_active")),
        sorted(Agency.objects.values_list("pk", "name", "is_active", "webhook_url")),
        sorted(
            Helpline.objects.values_list(
                "pk", "default_language", "languages", "timezone", "opening_hours", "chat_greeting"
            )
        ),
        sorted(PhoneNumber.objects.values_list("pk", "number", "acknowledgement", "language", "is_active")),
        sorted(VoiceRoute.objects.values_list("pk", "mode", "greeting", "dial_numbers", "emergency_digit")),
        sorted(OnCallShift.objects.values_list("pk", "user_id", "weekdays", "starts", "ends")),
        AuditEntry.objects.filter(action__in=WRITES).count(),
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_its_pages_and_nothing_else(world, role):
    people, kwargs = world
    client = sign_in(people[role])
    for name, (method, allowed) in MATRIX.items():
        path = _path(name, kwargs)
        answer = client.get(path) if method == "get" else client.post(path, {})
        if role in allowed:
            assert answer.status_code != 404, (role, name, answer.status_code)
        else:
            assert answer.status_code == 404, (role, name, answer.status_code)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_every_form_refused_by_scope_writes_nothing(world, role):
    """Filled-in forms posted by everyone but this helpline's administrator to the routes their role
    does not have (or, for another helpline's administrator, about this helpline's objects): 404,
    and nothing written."""
    people, kwargs = world
    client = sign_in(people[role])
    before = _state()
    assert set(FORMS) == set(POSTS)
    posted = 0
    for name in FORMS:
        if role in POSTS[name]:
            continue  # theirs (a supervisor's canned replies and rota, another administrator's lists)
        answer = client.post(_path(name, kwargs), _form(name, kwargs))
        assert answer.status_code == 404, (role, name, answer.status_code)
        posted += 1
    assert posted
    assert _state() == before


def test_another_helplines_objects_are_not_found_for_an_administrator(world):
    people, kwargs = world
    client = sign_in(people["other_admin"])
    before = _state()
    for name in (
        "admin-user",
        "admin-team",
        "admin-canned-reply",
        "admin-agency",
        "admin-helpline-chat",
        "admin-number",
        "admin-voice-route",
    ):
        assert client.get(_path(name, kwargs)).status_code == 404, name
    for name in POSTS:
        if "other_admin" in POSTS[name]:
            continue  # their own lists and rota
        assert client.post(_path(name, kwargs), _form(name, kwargs)).status_code == 404, name
    assert _state() == before
    # Their lists hold their own helpline's rows only.
    people_page = client.get(reverse("console:admin-users")).content.decode()
    assert "operator1" not in people_page and "admin-elsewhere" in people_page
    assert "Day shift" not in client.get(reverse("console:admin-teams")).content.decode()
    assert "Safe?" not in client.get(reverse("console:admin-canned-replies")).content.decode()
    languages = client.get(reverse("console:admin-helplines")).content.decode()
    assert "ELSEWHERE" in languages and "DEMO" not in languages
    assert _path("admin-number", kwargs) not in client.get(reverse("console:admin-numbers")).content.decode()
    routes = client.get(reverse("console:admin-voice-routes")).content.decode()
    assert _path("admin-voice-route", kwargs) not in routes and "+15005550008" not in routes
    assert "operator1" not in client.get(reverse("console:admin-on-call")).content.decode()


def test_an_id_of_another_helpline_in_a_form_is_refused_and_nothing_written(world):
    people, kwargs = world
    other_team = factories.TeamFactory(helpline=people["other_admin"].helpline, name="Theirs")
    client = sign_in(people["admin"])
    before = _state()
    answer = client.post(_path("admin-user", kwargs), {"team": str(other_team.pk)})
    assert answer.status_code == 400
    assert "team" in answer.content.decode()
    answer = client.post(
        reverse("console:admin-users"), {"username": "newperson", "role": "operator", "team": other_team.pk}
    )
    assert answer.status_code == 400
    assert _state() == before


@pytest.mark.parametrize("name", sorted(POSTS))
def test_unknown_form_fields_answer_400_and_write_nothing(world, name):
    people, kwargs = world
    client = sign_in(people["admin"])
    before = _state()
    # A password is never a field of these pages (administrators never set one).
    answer = client.post(_path(name, kwargs), {"password": "Correct-horse-battery-9", "is_active": "false"})
    assert answer.status_code == 400, (name, answer.status_code)
    assert "password" in answer.content.decode()
    assert _state() == before


def test_the_administrators_pages_have_no_inline_script_or_style(world, helpline):
    people, kwargs = world
    client = sign_in(people["admin"])
    pages = [_path(name, kwargs) for name, (method, _roles) in MATRIX.items() if method == "get"]
    answers = [(path, client.get(path)) for path in pages]
    # The answer pages of a creation and of a new link (the set-password link shown once).
    answers.append(
        ("created", client.post(reverse("console:admin-users"), {"username": "new1", "role": "operator"}))
    )
    answers.append(("link", client.post(_path("admin-user-password-link", kwargs))))
    for path, answer in answers:
        assert answer.status_code == 200, path
        html = answer.content.decode()
        assert not INLINE_SCRIPT.search(html), path
        assert not INLINE_STYLE.search(html), path
        assert not INLINE_HANDLER.search(html), path
        assert "no-store" in answer["Cache-Control"], path
        assert "unsafe-inline" not in answer["Content-Security-Policy"]
        # Every form is a POST with the CSRF token; every field has its label.
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, re.S):
            if 'role="search"' in form:
                continue
            assert 'method="post"' in form and "csrfmiddlewaretoken" in form, (path, form[:200])
            for field_id in re.findall(
                r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', form
            ):
                assert f'for="{field_id}"' in html, (path, field_id)
        assert not re.search(
            r'<(?:input|select|textarea)\b(?![^>]*type="hidden")(?![^>]*\bid=)[^>]*>', html
        ), path
        for table in re.findall(r"<table\b.*?</table>", html, re.S):
            assert "<caption>" in table and 'scope="col"' in table, path


def test_an_administrator_lands_on_people_and_sees_the_pages_in_the_menu(world):
    people, _kwargs = world
    admin = people["admin"]
    client = Client(REMOTE_ADDR=an_address())
    answer = client.post(
        "/console/sign-in/",
        {"username": admin.username, "password": PASSWORD, "otp": current_code(authenticator(admin))},
    )
    assert (answer.status_code, answer["Location"]) == (302, "/console/admin/people/")
    assert client.get("/console/admin/people/").status_code == 200
    html = client.get("/console/account/").content.decode()
    nav = html[html.index("<nav") : html.index("</nav>")]
    assert re.findall(r'data-key="[a-z]">([^<]+)</a>', nav) == [
        "People",
        "Teams",
        "Canned replies",
        "Agencies",
        "Settings",
        "Numbers",
        "On-call rota",
        "Notifications",
    ]
    # Nobody else is offered them, but the supervisors the canned replies and the rota they also
    # keep, and the numbers they read; and the operators the rota they read.
    offers = {
        "operator": ["/console/admin/on-call/"],
        "supervisor": [
            "/console/admin/canned-replies/",
            "/console/admin/numbers/",
            "/console/admin/on-call/",
        ],
        "agency": [],
    }
    for role, expected in offers.items():
        html = sign_in(people[role]).get("/console/account/").content.decode()
        offered = re.findall(
            r'href="(/console/admin/[^"]*)"', html[html.index("<nav") : html.index("</nav>")]
        )
        assert offered == expected, role
