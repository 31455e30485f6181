"""Supervisors watch the floor in the console: the dashboard's live figures count what they may
see, escalations are acknowledged from their list, and a case's history reads as a timeline."""

import re

import pytest
from django.utils import timezone

from cases.models import Escalation
from helpline.models import AuditEntry
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db


def test_the_dashboard_counts_what_the_supervisor_may_see(supervisor, helpline):
    for _ in range(3):
        factories.CaseFactory(helpline=helpline)
    factories.CaseFactory(helpline=helpline, restricted=True)  # not on their need-to-know list
    factories.CaseFactory(helpline=factories.HelplineFactory(code="OTHER"))
    client = sign_in(supervisor)
    page = client.get("/console/dashboard/").content.decode()
    assert '<span class="figure">3</span> waiting in intake' in page
    figures = client.get("/console/dashboard/figures/?poll=1")
    assert figures.status_code == 200 and "waiting in intake" in figures.content.decode()


def test_an_escalation_is_acknowledged_from_the_list(supervisor, helpline):
    case = factories.CaseFactory(helpline=helpline)
    escalation = Escalation.objects.create(
        case=case, helpline=helpline, due_at=timezone.now(), state="intake"
    )
    client = sign_in(supervisor)
    assert case.reference in client.get("/console/escalations/").content.decode()
    assert client.post(f"/console/escalations/{escalation.pk}/acknowledge/").status_code == 302
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == supervisor
    assert case.reference not in client.get("/console/escalations/").content.decode()
    assert client.post(f"/console/escalations/{escalation.pk}/acknowledge/").status_code == 409


def test_a_cases_history_is_a_timeline(supervisor, operator, walk_in):
    case = walk_in()
    sign_in(operator).post(f"/console/cases/{case['id']}/transition/", {"name": "start_assessment"})
    page = sign_in(supervisor).get(f"/console/cases/{case['id']}/history/").content.decode()
    assert page.index("case.create") < page.index("case.transition.start_assessment")
    assert page.index("Case opened") < page.index("Assessment started")
    assert AuditEntry.objects.filter(actor=supervisor, action="case.history", case_id=case["id"]).exists()


def test_the_dashboard_shows_what_waits_for_a_worker(supervisor, helpline):
    from datetime import timedelta

    from channels_sms.models import InboundEvent

    InboundEvent.objects.create(
        helpline=helpline,
        channel="sms",
        external_id="SM" + "5" * 32,
        params="{}",
        received_at=timezone.now() - timedelta(minutes=3),
    )
    page = sign_in(supervisor).get("/console/dashboard/").content.decode()
    shown = re.search(
        r'<span class="figure alarm">1</span> messages and calls waiting for a worker \(oldest (\d+) s\)',
        page,
    )
    assert shown and 180 <= int(shown.group(1)) < 200
