"""A supervisor sees the open cases of their helpline per team and per person (counts: open,
overdue, high or critical risk), counting only the cases they may see: closed cases, other
helplines' cases and restricted cases they are not on the list of are not counted."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Case
from cases.services import case_set_access
from helpline.models import AuditEntry
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db

WORKLOAD = reverse("console:oversight-workload")


def table(html: str, caption: str) -> dict[str, list[str]]:
    """The rows of the table with this caption: its row header -> the other cells' text."""
    start = html.index(f"<caption>{caption}</caption>")
    body = html[start : html.index("</table>", start)]
    rows = {}
    for row in re.findall(r"<tr data-row>(.*?)</tr>", body, re.S):
        header = re.search(r'<th scope="row">(.*?)</th>', row, re.S).group(1)
        name = re.sub(r"<[^>]+>", "", header).strip()
        rows[name] = [
            re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
    return rows


def test_open_cases_per_team_and_per_person(helpline, team, operator, other_operator, supervisor):
    night = factories.TeamFactory(helpline=helpline, name="Night shift")
    retired_empty = factories.TeamFactory(helpline=helpline, name="Old shift", is_active=False)
    retired_busy = factories.TeamFactory(helpline=helpline, name="Weekend shift", is_active=False)
    other_operator.team = night
    other_operator.save()
    idle = factories.OperatorFactory(username="idle", helpline=helpline, team=night)
    gone = factories.OperatorFactory(username="gone", helpline=helpline, team=team, is_active=False)
    keeper = factories.SupervisorFactory(username="keeper", helpline=helpline, team=team)
    make = factories.CaseFactory
    make(helpline=helpline, team=team, assigned_to=operator, state="assessment", risk_level="high")
    make(helpline=helpline, team=team, assigned_to=operator, state="follow_up", overdue_since=timezone.now())
    make(helpline=helpline, team=team, assigned_to=operator, state="closed", risk_level="critical")
    make(helpline=helpline, team=night, assigned_to=other_operator, state="referral", risk_level="critical")
    make(helpline=helpline, team=retired_busy, assigned_to=gone, state="assessment")
    make(helpline=helpline, state="intake", overdue_since=timezone.now() - timedelta(hours=1))
    hidden = make(helpline=helpline, team=night, assigned_to=other_operator, state="assessment")
    case_set_access(actor=keeper, case=hidden, users=[other_operator])
    elsewhere = factories.HelplineFactory(code="ELSEWHERE")
    stranger = factories.OperatorFactory(username="stranger", helpline=elsewhere)
    make(helpline=elsewhere, team=stranger.team, assigned_to=stranger, state="assessment")
    before = AuditEntry.objects.latest("id").pk

    html = sign_in(supervisor).get(WORKLOAD).content.decode()

    assert "5 open cases in your helpline." in html
    assert table(html, "Open cases per team") == {
        "Day shift": ["2", "1", "1"],
        "Night shift": ["1", "0", "1"],
        "Weekend shift (retired)": ["1", "0", "0"],
        "No team": ["1", "1", "0"],
    }
    assert retired_empty.name not in html
    assert table(html, "Open cases per person") == {
        "gone (no longer active)": ["Day shift", "1", "0", "0"],
        "idle": ["Night shift", "0", "0", "0"],
        "keeper": ["Day shift", "0", "0", "0"],
        "operator1": ["Day shift", "2", "1", "1"],
        "operator2": ["Night shift", "1", "0", "1"],
        "supervisor1": ["Day shift", "0", "0", "0"],
        "Not assigned to anyone": ["", "1", "1", "0"],
    }
    assert "stranger" not in html and idle.username in html
    # Counts only, no case data: no read of cases to record.
    assert not AuditEntry.objects.filter(pk__gt=before, actor=supervisor, action__startswith="case.").exists()

    # The supervisor on the restricted case's list counts it.
    keeper_html = sign_in(keeper).get(WORKLOAD).content.decode()
    assert table(keeper_html, "Open cases per person")["operator2"] == ["Night shift", "2", "0", "1"]
    assert Case.objects.filter(pk=hidden.pk, restricted=True).exists()
