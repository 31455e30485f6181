"""People choose their channels within what is required (urgent kinds need e-mail or SMS; SMS needs
a number); the defaults apply until they choose. Supervisors and administrators set the helpline's
on-call rota (weekly slots in its time zone, past midnight too); while a slot covers the present,
urgent notifications also page its person on every channel they have, and outside it nobody is
paged."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from cases.models import Case
from helpline.models import AuditEntry
from notifications.models import Delivery, Notification, Preference

from . import factories

NAIROBI = ZoneInfo("Africa/Nairobi")  # the test helpline's time zone


def test_defaults_then_a_choice_within_what_is_required(api, operator):
    operator.email = "operator1@helpline.example"
    operator.save()
    client = api(operator)
    defaults = client.get("/api/v1/notifications/preferences/").json()
    assert defaults["channels"]["emergency_referral"] == ["email", "sms"]
    assert defaults["channels"]["overdue"] == []
    assert sorted(defaults["urgent_kinds"]) == ["critical_case", "emergency_referral"]

    chosen = {"channels": {"emergency_referral": ["sms"], "overdue": ["email"]}, "sms_number": "0712 000 222"}
    response = client.put("/api/v1/notifications/preferences/", chosen, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["channels"]["emergency_referral"] == ["sms"]
    assert body["channels"]["overdue"] == ["email"]
    assert body["sms_number"] == "+254712000222"  # read in the helpline's country, stored E.164
    assert Preference.objects.get(user=operator).sms_number == "+254712000222"
    entry = AuditEntry.objects.get(action="notification.preferences_set")
    assert "+254712000222" not in str(entry.extra)  # the number stays out of the audit log


@pytest.mark.parametrize(
    "body, field",
    [
        ({"channels": {"emergency_referral": []}}, "channels.emergency_referral"),
        ({"channels": {"critical_case": ["pigeon"]}}, "channels.critical_case"),
        ({"channels": {"no_such_kind": ["email"]}}, "channels"),
        ({"channels": {"overdue": ["sms"]}}, "sms_number"),
        ({"channels": {}, "sms_number": "not a number"}, "sms_number"),
        ({"channels": {}, "colour": "blue"}, "colour"),
    ],
)
def test_choices_outside_what_is_required_are_refused(api, operator, body, field):
    operator.email = "operator1@helpline.example"
    operator.save()
    response = api(operator).put("/api/v1/notifications/preferences/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in {error["attr"] for error in response.json()["errors"]}
    assert not Preference.objects.exists()


def test_email_needs_an_address(api, operator):
    response = api(operator).put("/api/v1/notifications/preferences/", {"channels": {}}, format="json")
    assert response.status_code == 400  # the urgent kinds' default e-mail has nowhere to go


def rota(client, shifts):
    return client.put("/api/v1/notifications/on-call/", {"shifts": shifts}, format="json")


def test_supervisors_and_admins_set_the_rota_operators_read_it(
    api, helpline, operator, supervisor, admin_user
):
    night = [{"user": operator.pk, "weekdays": [1, 2, 3, 4, 5], "starts": "18:00", "ends": "08:00"}]
    assert rota(api(operator), night).status_code == 403
    response = rota(api(supervisor), night)
    assert response.status_code == 200, response.json()
    assert response.json()["timezone"] == "Africa/Nairobi"
    [shift] = response.json()["shifts"]
    assert (shift["username"], shift["weekdays"], shift["starts"], shift["ends"]) == (
        "operator1",
        [1, 2, 3, 4, 5],
        "18:00:00",
        "08:00:00",
    )
    assert api(operator).get("/api/v1/notifications/on-call/").json()["shifts"] == [shift]
    assert rota(api(admin_user), []).status_code == 200
    assert api(operator).get("/api/v1/notifications/on-call/").json()["shifts"] == []
    entries = AuditEntry.objects.filter(action="notification.on_call_set").order_by("id")
    assert [(e.actor_username, e.outcome) for e in entries] == [
        ("operator1", "denied"),
        ("supervisor1", "allowed"),
        ("admin1", "allowed"),
    ]


def test_only_staff_of_the_helpline_go_on_the_rota(api, supervisor, agency_user):
    stranger = factories.OperatorFactory(username="elsewhere")  # another helpline
    for user in (stranger, agency_user):
        response = rota(
            api(supervisor), [{"user": user.pk, "weekdays": [1], "starts": "18:00", "ends": "08:00"}]
        )
        assert response.status_code == 400
    response = rota(
        api(supervisor), [{"user": supervisor.pk, "weekdays": [8], "starts": "18:00", "ends": "18:00"}]
    )
    assert response.status_code == 400


@pytest.fixture
def night_duty(api, helpline, supervisor):
    """supervisor2 (another team's supervisor) is on call weeknights, Monday 18:00 to Tuesday 08:00
    and so on, paged by SMS at their number."""
    duty = factories.SupervisorFactory(
        username="supervisor2", helpline=helpline, email="night@helpline.example"
    )
    Preference.objects.create(user=duty, sms_number="+254700000999", channels={"critical_case": ["email"]})
    shifts = [{"user": duty.pk, "weekdays": [1, 2, 3, 4, 5], "starts": "18:00", "ends": "08:00"}]
    assert rota(api(supervisor), shifts).status_code == 200
    return duty


def critical_case(walk_in, operator) -> Case:
    return Case.objects.get(pk=walk_in(operator, risk_level="critical")["id"])


def test_out_of_hours_the_on_call_is_paged_on_every_channel(walk_in, operator, supervisor, night_duty):
    # Tuesday 02:30 in Nairobi: the Monday night slot runs past midnight.
    with time_machine.travel(datetime(2026, 12, 8, 2, 30, tzinfo=NAIROBI), tick=True):
        case = critical_case(walk_in, operator)
    paged = Notification.objects.get(user=night_duty)
    assert paged.on_call and paged.case_id == case.pk
    # Their preference says e-mail only; paged on call, every channel they have.
    channels = sorted(Delivery.objects.filter(notification=paged).values_list("channel", flat=True))
    assert channels == ["email", "sms"]
    assert not Notification.objects.get(user=supervisor).on_call  # the team's supervisor, as always


def test_in_hours_and_for_kinds_that_can_wait_nobody_is_paged(walk_in, operator, supervisor, night_duty):
    with time_machine.travel(datetime(2026, 12, 8, 11, 0, tzinfo=NAIROBI), tick=True):  # Tuesday 11:00
        critical_case(walk_in, operator)
    with time_machine.travel(datetime(2026, 12, 13, 2, 0, tzinfo=NAIROBI), tick=True):  # Sunday 02:00
        critical_case(walk_in, operator)
    assert not Notification.objects.filter(user=night_duty).exists()
