"""A supervisor restricts a case to a need-to-know list from the console, as PUT
/api/v1/cases/{id}/access/ does (cases.services.case_set_access): they stay on it, and every one
else, other supervisors included, no longer sees the case. The list read, the change and a refused
change are on record as the API's."""

import pytest
from django.urls import reverse

from cases.models import AccessKind, Case, CaseAccess
from helpline.models import AuditEntry
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db


def access_path(case) -> str:
    return reverse("console:oversight-case-access", args=[case.pk])


def test_a_supervisor_restricts_a_case_and_other_supervisors_lose_it(
    helpline, team, supervisor, operator, other_operator
):
    case = factories.CaseFactory(helpline=helpline, team=team, assigned_to=operator, state="assessment")
    colleague = factories.SupervisorFactory(username="colleague", helpline=helpline, team=team)
    client = sign_in(supervisor)

    page = client.get(access_path(case)).content.decode()
    assert "This case is not restricted" in page and f'value="{operator.pk}"' in page
    read = AuditEntry.objects.filter(action="case.access", actor=supervisor).latest("id")
    assert read.outcome == "allowed" and read.case_id == case.pk

    answer = client.post(access_path(case), {"users": [operator.pk]})

    assert answer.status_code == 302 and answer["Location"] == access_path(case)
    assert Case.objects.get(pk=case.pk).restricted
    on_the_list = set(
        CaseAccess.objects.filter(
            case=case, kind=AccessKind.NEED_TO_KNOW, revoked_at__isnull=True
        ).values_list("user_id", flat=True)
    )
    assert on_the_list == {operator.pk, supervisor.pk}
    restricted = AuditEntry.objects.get(action="case.restrict", actor=supervisor)
    assert restricted.extra["need_to_know"] == sorted([operator.pk, supervisor.pk])
    page = client.get(access_path(case)).content.decode()
    assert "This case is restricted" in page and f'value="{operator.pk}" checked' in page
    outside = sign_in(colleague)
    assert outside.get(reverse("console:case", args=[case.pk])).status_code == 404
    assert outside.get(access_path(case)).status_code == 404
    assert sign_in(other_operator).get(reverse("console:case", args=[case.pk])).status_code == 404


def test_someone_of_another_helpline_cannot_be_put_on_the_list_and_the_refusal_is_on_record(
    helpline, team, supervisor, operator
):
    case = factories.CaseFactory(helpline=helpline, team=team, state="assessment")
    stranger = factories.OperatorFactory(
        username="stranger", helpline=factories.HelplineFactory(code="ELSEWHERE")
    )
    client = sign_in(supervisor)

    answer = client.post(access_path(case), {"users": [operator.pk, stranger.pk]})

    assert answer.status_code == 400
    assert '<span class="field">users</span>' in answer.content.decode()
    assert not Case.objects.get(pk=case.pk).restricted
    assert not CaseAccess.objects.filter(case=case).exists()
    refusal = AuditEntry.objects.get(action="case.restrict", actor=supervisor)
    assert refusal.outcome == "denied" and refusal.case_id == case.pk and refusal.extra == {"status": 400}


def test_an_agency_user_cannot_be_put_on_the_list(helpline, team, supervisor, agency_user):
    case = factories.CaseFactory(helpline=helpline, team=team, state="assessment")
    answer = sign_in(supervisor).post(access_path(case), {"users": [agency_user.pk]})
    assert answer.status_code == 400
    assert not Case.objects.get(pk=case.pk).restricted


def test_a_case_of_another_helpline_is_not_found_and_not_written(supervisor):
    case = factories.CaseFactory(helpline=factories.HelplineFactory(code="ELSEWHERE"), state="assessment")
    client = sign_in(supervisor)
    assert client.get(access_path(case)).status_code == 404
    assert client.post(access_path(case), {"users": []}).status_code == 404
    assert not Case.objects.get(pk=case.pk).restricted
    denied = AuditEntry.objects.filter(
        actor=supervisor, outcome="denied", action__in=["case.access", "case.restrict"]
    )
    assert {(e.action, e.case_id) for e in denied} == {("case.access", None), ("case.restrict", None)}
