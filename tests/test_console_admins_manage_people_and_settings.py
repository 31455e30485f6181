"""Administrators manage their helpline in the console: its people (created without a password,
with a set-password link shown once; a new link; role, team and language; deactivation; an
authenticator reset), its teams, its canned replies (supervisors too), its partner agencies (with
their webhook changes waiting for a supervisor) and its languages. Every write goes through the
apps' services: the rows and the audit entries are those the API leaves."""

import hashlib
import re

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from channels_sms.models import CannedReply
from helpline.models import AuditEntry, Helpline, SetPasswordLink, Team, User
from referrals.models import Agency, WebhookChange
from tests import factories
from tests.console import authenticator, sign_in

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'id="set-password-token" value="http://[^"]+/console/password/#([^"]+)"')


def _entries(action: str, **more) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, **more).order_by("id"))


# --- people -----------------------------------------------------------------------------------------


def test_the_people_page_lists_the_helplines_people(admin_user, operator, supervisor, agency_user):
    html = sign_in(admin_user).get(reverse("console:admin-users")).content.decode()
    for person in (admin_user, operator, supervisor, agency_user):
        assert f'href="/console/admin/people/{person.pk}/"' in html
        assert person.username in html
    assert "Day shift" in html and "Supervisor" in html and "Partner-agency user" in html


def test_a_new_person_gets_a_set_password_link_shown_once(api, admin_user, helpline, team):
    client = sign_in(admin_user)
    answer = client.post(
        reverse("console:admin-users"),
        {
            "username": "operator9",
            "first_name": "Saraa",
            "last_name": "",
            "email": "",
            "role": "operator",
            "team": str(team.pk),
            "agency": "",
            "language": "mn",
        },
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    token = TOKEN.search(html).group(1)
    person = User.objects.get(username="operator9")
    assert (person.helpline, person.team, person.role, person.language) == (helpline, team, "operator", "mn")
    assert not person.has_usable_password()
    # Only the token's fingerprint is stored; the link was issued by the administrator.
    link = SetPasswordLink.objects.get(user=person)
    assert link.digest == hashlib.sha256(token.encode()).hexdigest() and link.issued_by == admin_user
    assert token not in str(SetPasswordLink.objects.values_list())
    [created] = _entries("user.create", object_id=str(person.pk))
    assert created.actor == admin_user and created.changes["role"]["after"] == "operator"
    assert _entries("user.password_link", object_id=str(person.pk))
    # Never shown again: not on the person's page, not in the list.
    assert token not in client.get(reverse("console:admin-user", args=[person.pk])).content.decode()
    assert token not in client.get(reverse("console:admin-users")).content.decode()
    # The person sets their own password with it.
    done = api().post(
        "/api/v1/auth/password/", {"token": token, "password": "A-new-long-passphrase-7"}, format="json"
    )
    assert done.status_code == 204
    person.refresh_from_db()
    assert person.check_password("A-new-long-passphrase-7")


def test_a_person_is_not_created_with_bad_input_and_nothing_is_written(admin_user, operator):
    client = sign_in(admin_user)
    before = User.objects.count()
    for form in (
        {"username": "x", "role": "operator"},  # too short
        {"username": operator.username, "role": "operator"},  # taken
        {"username": "valid-name", "role": "boss"},
        {"username": "police9", "role": "agency"},  # an agency user names their agency
    ):
        answer = client.post(reverse("console:admin-users"), form)
        assert answer.status_code == 400, form
    assert User.objects.count() == before
    assert not _entries("user.create")


def test_an_agency_user_is_created_for_an_agency_of_the_helpline(admin_user, helpline):
    from referrals.models import AgencyMembership

    agency = factories.AgencyFactory(helpline=helpline, code="health")
    answer = sign_in(admin_user).post(
        reverse("console:admin-users"), {"username": "nurse1", "role": "agency", "agency": str(agency.pk)}
    )
    assert answer.status_code == 200
    assert AgencyMembership.objects.get(user__username="nurse1").agency == agency


def test_a_new_set_password_link_ends_the_earlier_ones(admin_user, operator):
    client = sign_in(admin_user)
    first = TOKEN.search(
        client.post(reverse("console:admin-user-password-link", args=[operator.pk])).content.decode()
    ).group(1)
    answer = client.post(reverse("console:admin-user-password-link", args=[operator.pk]))
    assert answer.status_code == 200
    second = TOKEN.search(answer.content.decode()).group(1)
    assert first != second
    links = SetPasswordLink.objects.filter(user=operator).order_by("id")
    assert [link.revoked_at is not None for link in links] == [True, False]
    assert len(_entries("user.password_link", object_id=str(operator.pk))) == 2
    # The password they have keeps working until the link is used.
    operator.refresh_from_db()
    assert operator.check_password(factories.PASSWORD)


def test_an_administrator_changes_a_persons_role_team_and_language(admin_user, operator, helpline):
    night = factories.TeamFactory(helpline=helpline, name="Night shift")
    client = sign_in(admin_user)
    answer = client.post(
        reverse("console:admin-user", args=[operator.pk]),
        {
            "first_name": "Bat",
            "last_name": "Erdene",
            "email": "bat@example.org",
            "role": "supervisor",
            "team": str(night.pk),
            "agency": "",
            "language": "es",
        },
    )
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/people/{operator.pk}/")
    operator.refresh_from_db()
    assert (operator.role, operator.team, operator.language, operator.first_name) == (
        "supervisor",
        night,
        "es",
        "Bat",
    )
    [entry] = _entries("user.update", object_id=str(operator.pk))
    assert entry.actor == admin_user
    assert entry.changes["role"] == {"before": "operator", "after": "supervisor"}
    assert entry.changes["team"]["after"] == night.pk
    page = client.get(reverse("console:admin-user", args=[operator.pk])).content.decode()
    assert f'<option value="{night.pk}" selected>' in page


def test_a_person_is_not_moved_to_a_retired_team(admin_user, operator, helpline, team):
    retired = factories.TeamFactory(helpline=helpline, name="Old", is_active=False)
    answer = sign_in(admin_user).post(
        reverse("console:admin-user", args=[operator.pk]), {"team": str(retired.pk)}
    )
    assert answer.status_code == 400
    assert "retired" in answer.content.decode()
    operator.refresh_from_db()
    assert operator.team == team
    assert not _entries("user.update")


def test_an_administrator_deactivates_and_reactivates_a_person(admin_user, operator):
    client = sign_in(admin_user)
    page = client.get(reverse("console:admin-user", args=[operator.pk])).content.decode()
    assert 'name="is_active" value="false"' in page
    assert (
        client.post(reverse("console:admin-user", args=[operator.pk]), {"is_active": "false"}).status_code
        == 302
    )
    operator.refresh_from_db()
    assert not operator.is_active
    # They cannot sign in any more.
    from django.test import Client

    refused = Client().post(
        "/console/sign-in/", {"username": operator.username, "password": factories.PASSWORD}
    )
    assert refused.status_code == 401
    page = client.get(reverse("console:admin-user", args=[operator.pk])).content.decode()
    assert 'name="is_active" value="true"' in page and "No (deactivated)" in page
    assert (
        client.post(reverse("console:admin-user", args=[operator.pk]), {"is_active": "true"}).status_code
        == 302
    )
    operator.refresh_from_db()
    assert operator.is_active
    changes = [e.changes["is_active"] for e in _entries("user.update", object_id=str(operator.pk))]
    assert changes == [{"before": True, "after": False}, {"before": False, "after": True}]


def test_an_administrator_resets_a_persons_authenticator(admin_user, supervisor):
    authenticator(supervisor)
    client = sign_in(admin_user)
    page = client.get(reverse("console:admin-user", args=[supervisor.pk])).content.decode()
    assert "Reset their authenticator" in page and "Set up" in page
    answer = client.post(reverse("console:admin-user-second-factor", args=[supervisor.pk]))
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/people/{supervisor.pk}/")
    assert not TOTPDevice.objects.filter(user=supervisor).exists()
    [entry] = _entries("user.second_factor_reset", object_id=str(supervisor.pk))
    assert entry.actor == admin_user and entry.extra["removed_devices"] == 1


# --- teams ------------------------------------------------------------------------------------------


def test_an_administrator_creates_renames_retires_and_reactivates_a_team(
    admin_user, helpline, operator, team
):
    client = sign_in(admin_user)
    answer = client.post(reverse("console:admin-teams"), {"name": "Night shift", "auto_assign": "true"})
    night = Team.objects.get(helpline=helpline, name="Night shift")
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/teams/{night.pk}/")
    assert night.auto_assign
    assert "Night shift" in client.get(reverse("console:admin-teams")).content.decode()
    # The name is the helpline's own, letter case aside.
    assert client.post(reverse("console:admin-teams"), {"name": "night SHIFT"}).status_code == 400
    url = reverse("console:admin-team", args=[night.pk])
    assert client.post(url, {"name": "Evening shift", "auto_assign": "false"}).status_code == 302
    night.refresh_from_db()
    assert (night.name, night.auto_assign) == ("Evening shift", False)
    assert client.post(url, {"is_active": "false"}).status_code == 302
    night.refresh_from_db()
    assert not night.is_active and night.retired_at is not None
    assert "Reactivate the team" in client.get(url).content.decode()
    assert client.post(url, {"is_active": "true"}).status_code == 302
    night.refresh_from_db()
    assert night.is_active and night.retired_at is None
    assert len(_entries("team.create")) == 1
    assert [set(e.changes) for e in _entries("team.update", object_id=str(night.pk))] == [
        {"name", "auto_assign"},
        {"is_active"},
        {"is_active"},
    ]


def test_a_team_with_active_members_is_not_retired(admin_user, team, operator):
    client = sign_in(admin_user)
    answer = client.post(reverse("console:admin-team", args=[team.pk]), {"is_active": "false"})
    assert answer.status_code == 409
    assert "active members" in answer.content.decode()
    team.refresh_from_db()
    assert team.is_active
    assert not _entries("team.update")
    page = client.get(reverse("console:admin-team", args=[team.pk])).content.decode()
    assert operator.username in page


# --- canned replies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_supervisors_and_administrators_write_change_and_retire_canned_replies(
    role, admin_user, supervisor, helpline
):
    writer = {"admin": admin_user, "supervisor": supervisor}[role]
    client = sign_in(writer)
    answer = client.post(
        reverse("console:admin-canned-replies"),
        {"language": "en", "title": "Are you safe?", "body": "You reached {helpline}. Are you safe?"},
    )
    reply = CannedReply.objects.get(helpline=helpline, title="Are you safe?")
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/canned-replies/{reply.pk}/")
    assert reply.created_by == writer
    assert "Are you safe?" in client.get(reverse("console:admin-canned-replies")).content.decode()
    url = reverse("console:admin-canned-reply", args=[reply.pk])
    assert (
        client.post(url, {"language": "en", "title": "Safe now?", "body": "Are you safe now?"}).status_code
        == 302
    )
    reply.refresh_from_db()
    assert (reply.title, reply.body) == ("Safe now?", "Are you safe now?")
    assert client.post(url, {"is_active": "false"}).status_code == 302
    reply.refresh_from_db()
    assert not reply.is_active
    assert "Restore the reply" in client.get(url).content.decode()
    [created] = _entries("canned_reply.create")
    assert created.actor == writer
    assert len(_entries("canned_reply.update", object_id=str(reply.pk))) == 2


def test_a_canned_reply_with_an_unknown_placeholder_is_refused(admin_user, helpline):
    answer = sign_in(admin_user).post(
        reverse("console:admin-canned-replies"), {"language": "en", "title": "Hi", "body": "Hi {name}"}
    )
    assert answer.status_code == 400
    assert not CannedReply.objects.exists()


# --- agencies ---------------------------------------------------------------------------------------


def test_an_administrator_registers_and_changes_an_agency(admin_user, helpline):
    client = sign_in(admin_user)
    answer = client.post(
        reverse("console:admin-agencies"),
        {
            "code": "health-ub",
            "name": "City Health",
            "sector": "health",
            "country": "",
            "areas_served": "North\r\nSouth\r\n",
            "service_types": "medical\ncounselling",
            "response_emergency": "2",
            "response_urgent": "",
            "response_routine": "",
            "notify_email": "intake@health.example.org",
            "notify_sms": "",
            "webhook_url": "",
            "webhook_secret": "",
        },
    )
    agency = Agency.objects.get(helpline=helpline, code="health-ub")
    assert (answer.status_code, answer["Location"]) == (302, f"/console/admin/agencies/{agency.pk}/")
    assert (agency.country, agency.areas_served, agency.service_types) == (
        helpline.country,
        ["North", "South"],
        ["medical", "counselling"],
    )
    assert agency.response_hours_for("emergency") == 2
    assert _entries("agency.create", object_id=str(agency.pk))
    url = reverse("console:admin-agency", args=[agency.pk])
    page = client.get(url).content.decode()
    assert "North\nSouth</textarea>" in page
    answer = client.post(
        url, {"name": "City Health Dept", "sector": "health", "country": "mn", "areas_served": "North"}
    )
    assert answer.status_code == 302
    agency.refresh_from_db()
    assert (agency.name, agency.country, agency.areas_served) == ("City Health Dept", "MN", ["North"])
    assert client.post(url, {"is_active": "false"}).status_code == 302
    agency.refresh_from_db()
    assert not agency.is_active
    assert len(_entries("agency.update", object_id=str(agency.pk))) == 2


def test_a_webhook_proposal_waits_for_a_supervisor_and_is_listed(admin_user, helpline, settings):
    settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = True
    agency = factories.AgencyFactory(helpline=helpline, code="police")
    client = sign_in(admin_user)
    url = reverse("console:admin-agency", args=[agency.pk])
    # A URL without a signing secret is refused.
    assert (
        client.post(url, {"webhook_url": "https://10.0.0.5/hooks", "webhook_secret": ""}).status_code == 400
    )
    answer = client.post(url, {"webhook_url": "https://10.0.0.5/hooks", "webhook_secret": "s" * 20})
    assert answer.status_code == 302
    change = WebhookChange.objects.get(agency=agency)
    assert (change.state, change.url, change.proposed_by) == ("pending", "https://10.0.0.5/hooks", admin_user)
    agency.refresh_from_db()
    assert agency.webhook_url == ""  # not in use before a supervisor approves it
    assert _entries("agency.webhook_propose", object_id=str(agency.pk))
    listed = client.get(reverse("console:admin-agencies")).content.decode()
    assert "https://10.0.0.5/hooks" in listed
    page = client.get(url).content.decode()
    assert "https://10.0.0.5/hooks" in page and admin_user.username in page
    # The secret is never shown back.
    assert "s" * 20 not in listed and "s" * 20 not in page


# --- languages --------------------------------------------------------------------------------------


def test_an_administrator_sets_the_helplines_languages(admin_user, helpline):
    client = sign_in(admin_user)
    page = client.get(reverse("console:admin-helplines")).content.decode()
    assert helpline.code in page
    url = reverse("console:admin-helpline-languages", args=[helpline.pk])
    answer = client.post(url, {"default_language": "mn", "languages": ["es", "en"]})
    assert (answer.status_code, answer["Location"]) == (302, "/console/admin/helplines/")
    helpline.refresh_from_db()
    assert (helpline.default_language, helpline.languages) == ("mn", ["en", "es"])
    [entry] = _entries("helpline.update")
    assert entry.changes["default_language"] == {"before": "en", "after": "mn"}
    # No box ticked: no other language.
    assert client.post(url, {"default_language": "mn"}).status_code == 302
    helpline.refresh_from_db()
    assert helpline.languages == []
    # A language this installation does not speak is refused.
    assert client.post(url, {"default_language": "fr"}).status_code == 400
    assert Helpline.objects.get(pk=helpline.pk).default_language == "mn"


def test_an_administrator_sets_the_web_chats_hours_and_texts(admin_user, helpline):
    client = sign_in(admin_user)
    url = reverse("console:admin-helpline-chat", args=[helpline.pk])
    assert url in client.get(reverse("console:admin-helplines")).content.decode()
    page = client.get(url).content.decode()
    assert 'id="hours-always" name="hours" type="radio" value="always" checked' in page
    form = {
        "timezone": "Asia/Ulaanbaatar",
        "hours": "set",
        "weekday_0": "monday",
        "opens_0": "08:00",
        "closes_0": "20:00",
        "weekday_1": "friday",
        "opens_1": "22:00",
        "closes_1": "02:00",
        "weekday_2": "sunday",
        "opens_2": "",
        "closes_2": "",
        "greeting_en": "Hello, this is {helpline}.\r\nWhat happened?",
        "greeting_mn": "",
        "out_of_hours_en": "We answer from 08:00.",
    }
    answer = client.post(url, form)
    assert (answer.status_code, answer["Location"]) == (302, url)
    helpline.refresh_from_db()
    assert helpline.timezone == "Asia/Ulaanbaatar"
    assert helpline.opening_hours == [
        {"weekday": "monday", "opens": "08:00", "closes": "20:00"},
        {"weekday": "friday", "opens": "22:00", "closes": "02:00"},
    ]
    assert helpline.chat_greeting == {"en": "Hello, this is {helpline}.\nWhat happened?"}
    assert helpline.out_of_hours_message == {"en": "We answer from 08:00."}
    [entry] = _entries("helpline.update")
    assert {"timezone", "opening_hours", "chat_greeting"} <= set(entry.changes)
    page = client.get(url).content.decode()
    assert 'name="opens_1" value="22:00"' in page and '<option value="friday" selected>' in page
    # Refused: an unknown placeholder, a bad time, no period at all; nothing changes.
    for bad in (
        {**form, "greeting_en": "Hi {name}"},
        {**form, "opens_0": "8am"},
        {"timezone": "Asia/Ulaanbaatar", "hours": "set"},
        {**form, "timezone": "Mars/Olympus"},
    ):
        assert client.post(url, bad).status_code == 400, bad
    assert len(_entries("helpline.update")) == 1
    # Always open again.
    assert client.post(url, {**form, "hours": "always"}).status_code == 302
    helpline.refresh_from_db()
    assert helpline.opening_hours is None


# --- a platform administrator (of no helpline) ------------------------------------------------------


def test_a_platform_administrator_names_the_helpline_of_what_they_create(helpline):
    platform = factories.AdminFactory(username="platform", helpline=None)
    client = sign_in(platform)
    page = client.get(reverse("console:admin-teams")).content.decode()
    assert 'name="helpline"' in page
    assert client.post(reverse("console:admin-teams"), {"name": "Weekend"}).status_code == 400
    assert not Team.objects.filter(name="Weekend").exists()
    answer = client.post(reverse("console:admin-teams"), {"name": "Weekend", "helpline": str(helpline.pk)})
    assert answer.status_code == 302
    assert Team.objects.get(name="Weekend").helpline == helpline
