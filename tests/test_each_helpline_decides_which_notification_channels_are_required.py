"""Each helpline decides, per kind of notification, which out-of-band channels its staff must keep
(none, e-mail or SMS, e-mail, SMS, both); until it does, emergency referrals and critical cases
need e-mail or SMS. Its administrators set the rules, its staff read them; a person's preferences
must meet them, and delivery applies them over a stored choice the helpline has since outgrown."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from helpline.models import AuditEntry
from notifications.models import ChannelRequirement, Delivery, Notification, Preference

from . import factories

URL = "/api/v1/notifications/requirements/"
PREFERENCES = "/api/v1/notifications/preferences/"
# A Tuesday morning in Nairobi: nobody is paged as on-call.
IN_HOURS = datetime(2026, 12, 8, 11, 0, tzinfo=ZoneInfo("Africa/Nairobi"))


def put(client, rules):
    return client.put(URL, {"requirements": rules}, format="json")


def test_a_helpline_that_has_set_nothing_requires_email_or_sms_for_urgent_kinds(api, operator):
    body = api(operator).get(URL).json()
    assert body["customised"] == []
    assert body["requirements"]["emergency_referral"] == "email_or_sms"
    assert body["requirements"]["critical_case"] == "email_or_sms"
    assert body["requirements"]["overdue"] == "none"
    assert "agency_referral" not in body["requirements"]  # agencies' addresses, not staff
    answer = api(operator).get(PREFERENCES).json()
    assert sorted(answer["urgent_kinds"]) == ["critical_case", "emergency_referral"]
    assert answer["required"]["critical_case"] == "email_or_sms"


def test_an_administrator_sets_the_rules_and_staff_read_them(api, operator, supervisor, admin_user):
    response = put(api(admin_user), {"overdue": "email", "critical_case": "email_and_sms"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["customised"] == ["critical_case", "overdue"]
    assert body["requirements"]["overdue"] == "email"
    assert body["requirements"]["critical_case"] == "email_and_sms"
    assert body["requirements"]["emergency_referral"] == "email_or_sms"  # left out: the default
    for reader in (operator, supervisor):
        assert api(reader).get(URL).json() == body
    answer = api(operator).get(PREFERENCES).json()
    assert sorted(answer["urgent_kinds"]) == ["critical_case", "emergency_referral", "overdue"]
    assert answer["channels"]["overdue"] == ["email"]

    # A kind left out of the next PUT returns to the default.
    body = put(api(admin_user), {"emergency_referral": "none"}).json()
    assert body["customised"] == ["emergency_referral"]
    assert body["requirements"]["overdue"] == "none"
    assert body["requirements"]["critical_case"] == "email_or_sms"


def test_the_change_is_audited_with_what_it_was_before(api, admin_user, helpline):
    assert put(api(admin_user), {"overdue": "sms"}).status_code == 200
    entry = AuditEntry.objects.get(action="notification.requirements_set")
    assert (entry.actor_username, entry.outcome) == ("admin1", "allowed")
    assert entry.extra["before"]["overdue"] == "none"
    assert entry.extra["after"]["overdue"] == "sms"
    assert entry.extra["changed"] == ["overdue"]


@pytest.mark.parametrize("who", ["operator", "supervisor"])
def test_supervisors_and_operators_cannot_change_the_rules(request, api, who):
    user = request.getfixturevalue(who)
    response = put(api(user), {"overdue": "email"})
    assert response.status_code == 403
    assert not ChannelRequirement.objects.exists()
    entry = AuditEntry.objects.get(action="notification.requirements_set")
    assert entry.outcome == "denied"


def test_another_helpline_keeps_its_own_rules(api, admin_user):
    elsewhere = factories.OperatorFactory(username="elsewhere", helpline=factories.HelplineFactory(code="XX"))
    assert put(api(admin_user), {"emergency_referral": "none", "overdue": "sms"}).status_code == 200
    body = api(elsewhere).get(URL).json()
    assert body["customised"] == []
    assert body["requirements"]["emergency_referral"] == "email_or_sms"
    assert body["requirements"]["overdue"] == "none"


def test_agency_users_neither_read_nor_change_the_rules(api, agency_user):
    assert api(agency_user).get(URL).status_code == 404
    assert put(api(agency_user), {"overdue": "sms"}).status_code == 403
    assert not ChannelRequirement.objects.exists()


@pytest.mark.parametrize(
    "body, attr",
    [
        ({"requirements": {"no_such_kind": "email"}}, "requirements"),
        ({"requirements": {"agency_referral": "email"}}, "requirements"),
        ({"requirements": {"overdue": "pigeon"}}, "requirements.overdue"),
        ({"requirements": {"overdue": ["email"]}}, "requirements.overdue"),
        ({"requirements": ["overdue"]}, "requirements"),
        ({}, "requirements"),
        ({"requirements": {}, "colour": "blue"}, "colour"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(api, admin_user, body, attr):
    ChannelRequirement.objects.create(helpline=admin_user.helpline, kind="overdue", requirement="sms")
    response = api(admin_user).put(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert attr in {error["attr"] for error in response.json()["errors"]}
    assert list(ChannelRequirement.objects.values_list("kind", "requirement")) == [("overdue", "sms")]


def test_a_choice_below_the_rule_is_refused_naming_the_kind(api, operator, admin_user):
    operator.email = "operator1@helpline.example"
    operator.save()
    assert put(api(admin_user), {"overdue": "email", "critical_case": "sms"}).status_code == 200
    choice = {"channels": {"overdue": [], "critical_case": ["email"]}}
    response = api(operator).put(PREFERENCES, choice, format="json")
    assert response.status_code == 400
    errors = {error["attr"]: error["detail"] for error in response.json()["errors"]}
    assert "overdue" in errors["channels.overdue"]
    assert "critical_case" in errors["channels.critical_case"]
    assert not Preference.objects.exists()

    within = {"channels": {"overdue": ["email"], "critical_case": ["sms"]}, "sms_number": "+254700000111"}
    response = api(operator).put(PREFERENCES, within, format="json")
    assert response.status_code == 200, response.json()


def test_delivery_uses_the_required_channel_even_where_the_person_opted_out(
    api, walk_in, operator, supervisor, admin_user
):
    supervisor.email = "supervisor1@helpline.example"
    supervisor.save()
    # Chosen when the helpline asked for e-mail or SMS: SMS only.
    Preference.objects.create(
        user=supervisor, sms_number="+254700000222", channels={"critical_case": ["sms"]}
    )
    assert put(api(admin_user), {"critical_case": "email"}).status_code == 200

    # Their preferences answer shows what will be used: their SMS and the required e-mail.
    assert api(supervisor).get(PREFERENCES).json()["channels"]["critical_case"] == ["email", "sms"]
    with time_machine.travel(IN_HOURS, tick=True):
        walk_in(operator, risk_level="critical")
    told = Notification.objects.get(user=supervisor, kind="critical_case")
    channels = sorted(Delivery.objects.filter(notification=told).values_list("channel", flat=True))
    assert channels == ["email", "sms"]
    # The stored choice is left as it was: the rule applies over it.
    assert Preference.objects.get(user=supervisor).channels == {"critical_case": ["sms"]}


def test_a_kind_the_helpline_no_longer_requires_follows_the_choice(
    api, walk_in, operator, supervisor, admin_user
):
    supervisor.email = "supervisor1@helpline.example"
    supervisor.save()
    Preference.objects.create(user=supervisor, channels={"critical_case": []})
    assert put(api(admin_user), {"critical_case": "none"}).status_code == 200
    with time_machine.travel(IN_HOURS, tick=True):
        walk_in(operator, risk_level="critical")
    told = Notification.objects.get(user=supervisor, kind="critical_case")
    assert not Delivery.objects.filter(notification=told).exists()  # in-app only, as chosen
