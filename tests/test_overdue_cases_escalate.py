"""Cases whose next action falls due without being taken are raised to supervisors."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, Escalation
from cases.services import escalate_overdue_cases
from helpline.models import AuditEntry
from tests.factories import CaseFactory


def overdue_case(helpline, team, **fields):
    return CaseFactory(
        helpline=helpline,
        team=team,
        state=fields.pop("state", "intake"),
        risk_level="high",
        next_action_due_at=timezone.now() - timedelta(minutes=5),
        **fields,
    )


def test_overdue_case_is_marked_and_escalated_once(helpline, team):
    case = overdue_case(helpline, team)
    assert escalate_overdue_cases() == 1
    assert escalate_overdue_cases() == 0
    escalation = Escalation.objects.get(case=case)
    assert (escalation.state, escalation.risk_level, escalation.team_id) == ("intake", "high", team.pk)
    assert Case.objects.get(pk=case.pk).overdue_since is not None
    entry = AuditEntry.objects.get(action="case.escalate", case_id=case.pk)
    assert entry.actor is None and entry.actor_role == "system"


def test_cases_not_yet_due_and_closed_cases_are_left_alone(helpline, team):
    CaseFactory(helpline=helpline, team=team, next_action_due_at=timezone.now() + timedelta(minutes=5))
    CaseFactory(
        helpline=helpline, team=team, state="closed", next_action_due_at=timezone.now() - timedelta(days=1)
    )
    assert escalate_overdue_cases() == 0
    assert not Escalation.objects.exists()


def test_case_overdue_again_after_a_new_due_date_escalates_again(api, operator, helpline, team):
    case = overdue_case(helpline, team, assigned_to=operator)
    escalate_overdue_cases()
    # Taking the next step sets a new due date; missing that one escalates again.
    api(operator).post(f"/api/v1/cases/{case.pk}/transitions/", {"name": "start_assessment"}, format="json")
    Case.objects.filter(pk=case.pk).update(next_action_due_at=timezone.now() - timedelta(seconds=1))
    assert escalate_overdue_cases() == 1
    assert Escalation.objects.filter(case=case).count() == 2


def test_supervisor_sees_and_acknowledges_escalations(api, supervisor, operator, helpline, team):
    case = overdue_case(helpline, team)
    escalate_overdue_cases()
    listed = api(supervisor).get("/api/v1/escalations/", {"acknowledged": "false"}).json()["results"]
    assert [(row["case"], row["case_reference"]) for row in listed] == [(case.pk, case.reference)]

    escalation_id = listed[0]["id"]
    assert api(operator).post(f"/api/v1/escalations/{escalation_id}/acknowledge/").status_code == 403
    response = api(supervisor).post(f"/api/v1/escalations/{escalation_id}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == supervisor.pk
    assert api(supervisor).post(f"/api/v1/escalations/{escalation_id}/acknowledge/").status_code == 409
    assert api(supervisor).get("/api/v1/escalations/", {"acknowledged": "false"}).json()["results"] == []
    acknowledgements = AuditEntry.objects.filter(action="escalation.acknowledge", actor=supervisor)
    assert sorted(acknowledgements.values_list("outcome", flat=True)) == ["allowed", "denied"]


@pytest.mark.parametrize("fixture", ["agency_user", "admin_user"])
def test_escalations_are_not_shown_outside_the_helpline_staff(request, api, helpline, team, fixture):
    overdue_case(helpline, team)
    escalate_overdue_cases()
    client = api(request.getfixturevalue(fixture))
    assert client.get("/api/v1/escalations/").json()["results"] == []
    escalation = Escalation.objects.get()
    assert client.post(f"/api/v1/escalations/{escalation.pk}/acknowledge/").status_code == 404


def test_beat_schedules_the_escalation_sweep():
    from django.conf import settings

    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["escalate-overdue-cases"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_sweep_from_the_broker(celery_worker, helpline, team):
    from cases.tasks import escalate_overdue_cases as task

    case = overdue_case(helpline, team)
    result = task.delay()
    assert result.get(timeout=30) == 1
    assert Escalation.objects.filter(case=case).count() == 1
    entry = AuditEntry.objects.get(action="case.escalate", case_id=case.pk)
    assert entry.request_id == f"task-{result.id}"
