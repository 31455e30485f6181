"""New intake cases that reach a team with round-robin on are assigned to its active operators in
turn, fairly even when many arrive at once; off by default. Each assignment is on the record."""

import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from cases.models import Case
from cases.services import case_create_from_inbound
from channels_sms.models import InboundEvent
from channels_sms.sms import inbound_event_process
from helpline.models import AuditEntry, Helpline, Team

from . import factories
from .twilio_signing import OUR_NUMBER, PUBLIC, TOKEN, sms_params, twilio_signature


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


def sms_from(n: int) -> Case:
    """A first SMS from a new sender, through Twilio's webhook and the processing task: a new case."""
    data = sms_params(f"SM{n}", f"+2547120000{n:02d}", "hello", to=OUR_NUMBER)
    signature = twilio_signature("/webhooks/twilio/sms/", data)
    response = Client().post("/webhooks/twilio/sms/", data, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get(external_id=f"SM{n}")
    assert inbound_event_process(event_id=event.pk) == "threaded"
    event.refresh_from_db()
    return Case.objects.get(contacts=event.contact_id)


@pytest.fixture
def intake(helpline):
    """The helpline's intake team with round-robin on: two active operators (ids in this order), a
    deactivated one between them and a supervisor, neither of whom receives cases in turn."""
    team = factories.TeamFactory(helpline=helpline, name="Intake", auto_assign=True)
    first = factories.OperatorFactory(username="rr_a", helpline=helpline, team=team)
    factories.OperatorFactory(username="rr_gone", helpline=helpline, team=team, is_active=False)
    second = factories.OperatorFactory(username="rr_b", helpline=helpline, team=team)
    factories.SupervisorFactory(username="rr_sup", helpline=helpline, team=team)
    Helpline.objects.filter(pk=helpline.pk).update(intake_team=team)
    return team, first, second


@pytest.mark.django_db
def test_without_an_intake_team_inbound_cases_wait_unassigned(sms_number, helpline):
    factories.TeamFactory(helpline=helpline, name="Would-be", auto_assign=True)
    case = sms_from(1)
    assert (case.team_id, case.assigned_to_id) == (None, None)
    assert not AuditEntry.objects.filter(action="case.auto_assign").exists()


@pytest.mark.django_db
def test_an_intake_team_without_round_robin_receives_the_cases_unassigned(sms_number, helpline, intake):
    team, _, _ = intake
    Team.objects.filter(pk=team.pk).update(auto_assign=False)
    case = sms_from(1)
    assert (case.team_id, case.assigned_to_id) == (team.pk, None)


@pytest.mark.django_db
def test_inbound_cases_go_to_the_intake_teams_active_operators_in_turn(sms_number, helpline, intake):
    team, first, second = intake
    cases = [sms_from(n) for n in range(5)]
    assert [c.assigned_to_id for c in cases] == [first.pk, second.pk, first.pk, second.pk, first.pk]
    assert {c.team_id for c in cases} == {team.pk}
    entries = AuditEntry.objects.filter(action="case.auto_assign").order_by("id")
    assert [(e.case_id, e.actor_id, e.changes["assigned_to"]["after"]) for e in entries] == [
        (c.pk, None, c.assigned_to_id) for c in cases
    ]
    assert {e.extra["team"] for e in entries} == {team.pk}


@pytest.mark.django_db
def test_a_person_deactivated_or_moved_away_is_skipped_from_the_next_turn(sms_number, helpline, intake):
    team, first, second = intake
    third = factories.OperatorFactory(username="rr_c", helpline=helpline, team=team)
    assert sms_from(1).assigned_to_id == first.pk
    second.is_active = False
    second.save()
    assert [sms_from(n).assigned_to_id for n in (2, 3, 4)] == [third.pk, first.pk, third.pk]


@pytest.mark.django_db
def test_staff_cases_for_a_round_robin_team_naming_nobody_are_assigned_in_turn(
    api, helpline, intake, operator
):
    team, first, second = intake
    client = api(operator)
    made = [
        client.post("/api/v1/cases/", {"call_type": "child", "team": team.pk}, format="json").json()
        for _ in range(2)
    ]
    assert [c["assigned_to"] for c in made] == [first.pk, second.pk]
    # Naming a person, or the creator's own team by default: nobody's turn is taken.
    named = client.post(
        "/api/v1/cases/", {"call_type": "child", "team": team.pk, "assigned_to": second.pk}, format="json"
    ).json()
    own = client.post("/api/v1/cases/", {"call_type": "child"}, format="json").json()
    assert (named["assigned_to"], own["assigned_to"], own["team"]) == (second.pk, None, operator.team_id)
    assert AuditEntry.objects.filter(action="case.auto_assign").count() == 2
    assert Team.objects.get(pk=team.pk).last_assigned_to_id == second.pk


@pytest.mark.django_db
def test_a_creator_without_a_team_sends_the_case_to_the_intake_team(api, helpline, intake):
    team, first, _ = intake
    teamless = factories.SupervisorFactory(username="floating", helpline=helpline, team=None)
    case = api(teamless).post("/api/v1/cases/", {"call_type": "child"}, format="json").json()
    assert (case["team"], case["assigned_to"]) == (team.pk, first.pk)


@pytest.mark.django_db
def test_a_team_with_no_active_operator_receives_the_case_unassigned(sms_number, helpline, intake):
    team, first, second = intake
    for person in (first, second):
        person.is_active = False
        person.save()
    case = sms_from(1)
    assert (case.team_id, case.assigned_to_id) == (team.pk, None)


@pytest.mark.django_db(transaction=True)
def test_many_cases_arriving_at_once_are_shared_out_evenly(helpline, intake):
    team, first, second = intake
    third = factories.OperatorFactory(username="rr_c", helpline=helpline, team=team)
    arrivals, per_thread = 6, 4
    start = threading.Barrier(arrivals)
    failures: list[BaseException] = []

    def arrive() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                with transaction.atomic():
                    case_create_from_inbound(helpline=helpline, channel="sms", started_at=timezone.now())
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=arrive) for _ in range(arrivals)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    cases = list(Case.objects.order_by("id"))
    assert len(cases) == arrivals * per_thread
    assert Counter(c.assigned_to_id for c in cases) == {first.pk: 8, second.pk: 8, third.pk: 8}
    # In commit order the turns go round without a repeat: the team's row lock holds the turn.
    by_entry = AuditEntry.objects.filter(action="case.auto_assign").order_by("id")
    turns = [e.changes["assigned_to"]["after"] for e in by_entry]
    assert turns == [first.pk, second.pk, third.pk] * 8


@pytest.mark.django_db(transaction=True)
def test_the_turn_itself_is_never_taken_twice_at_once(helpline, intake):
    """The team's row lock alone (no reference number to wait for): concurrent picks share out."""
    from helpline.teams import team_next_assignee

    team, first, second = intake
    third = factories.OperatorFactory(username="rr_c", helpline=helpline, team=team)
    pickers, per_thread = 8, 3
    start = threading.Barrier(pickers)
    picked: list[int] = []
    failures: list[BaseException] = []

    def pick() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                with transaction.atomic():
                    chosen = team_next_assignee(team_id=team.pk, case=Case(helpline=helpline))
                    picked.append(chosen.pk)
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=pick) for _ in range(pickers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Counter(picked) == {first.pk: 8, second.pk: 8, third.pk: 8}
