"""Each event that needs a person now leaves a notification in the inbox of those who can see the
case and must act (the assigned operator, the team's supervisors), never in the actor's own, and
never in the inbox of someone the policy keeps from the case."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, EscalationKind
from cases.services import (
    case_break_glass,
    case_flag_emergency,
    case_set_access,
    case_transition,
    case_update,
    escalate_overdue_cases,
    escalation_raise,
)
from notifications.models import Notification
from referrals.models import Referral
from referrals.services import expire_unanswered_referrals, referral_create, referral_transition

from . import factories


def told(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


@pytest.fixture
def assigned_case(walk_in, operator):
    """A case of the day-shift team, assigned to operator1, in assessment."""
    body = walk_in(risk_level="high", assigned_to=operator.pk)
    case = Case.objects.get(pk=body["id"])
    return case_transition(actor=operator, case=case, name="start_assessment")


@pytest.fixture
def police(helpline, agency_user):
    return agency_user.agency_membership.agency


def emergency_referral(case, operator, police) -> Referral:
    return referral_create(
        actor=operator,
        case=case,
        agency=police,
        service_type="investigation",
        urgency="emergency",
        reason="Immediate danger",
        summary="Child in danger tonight.",
    )


def test_a_critical_case_tells_the_supervisors_not_its_creator(walk_in, operator, other_operator, supervisor):
    body = walk_in(risk_level="critical")
    assert told("critical_case") == {"supervisor1"}
    notification = Notification.objects.get(kind="critical_case")
    assert (notification.case_id, notification.reference) == (body["id"], body["reference"])
    assert notification.link == f"/api/v1/cases/{body['id']}/"


def test_a_case_raised_to_critical_tells_its_people(api, walk_in, operator, supervisor):
    body = walk_in(risk_level="low", assigned_to=operator.pk)
    assert not Notification.objects.exists()
    response = api(supervisor).patch(
        f"/api/v1/cases/{body['id']}/", {"risk_level": "critical"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert told("critical_case") == {"operator1"}  # the supervisor raised it: only the assignee
    # Raised again (it already is critical): nobody is told twice.
    api(supervisor).patch(f"/api/v1/cases/{body['id']}/", {"risk_level": "critical"}, format="json")
    assert Notification.objects.filter(kind="critical_case").count() == 1


def test_an_emergency_digit_tells_the_supervisors(walk_in, operator, supervisor):
    body = walk_in(risk_level="low")
    case_flag_emergency(case_id=body["id"], event_id=1, channel="voice")
    assert told("critical_case") == {"supervisor1"}


def test_an_overdue_case_tells_its_operator_and_supervisors(assigned_case, operator, supervisor):
    escalate_overdue_cases(now=timezone.now() + timedelta(days=30))
    assert told("overdue") == {"operator1", "supervisor1"}
    escalate_overdue_cases(now=timezone.now() + timedelta(days=31))
    assert Notification.objects.filter(kind="overdue").count() == 2  # once per missed due date, each


def test_an_emergency_referral_tells_the_supervisors(assigned_case, operator, supervisor, police):
    referral = emergency_referral(assigned_case, operator, police)
    assert told("emergency_referral") == {"supervisor1"}
    notification = Notification.objects.get(kind="emergency_referral")
    assert (notification.referral_id, notification.link) == (referral.pk, f"/api/v1/referrals/{referral.pk}/")


def test_a_rejected_or_expired_referral_tells_the_case_people(
    assigned_case, operator, supervisor, police, agency_user
):
    rejected = emergency_referral(assigned_case, operator, police)
    referral_transition(actor=agency_user, referral=rejected, name="reject", reason="Outside our area")
    assert told("referral_rejected") == {"operator1", "supervisor1"}
    emergency_referral(assigned_case, operator, police)
    expire_unanswered_referrals(now=timezone.now() + timedelta(days=5))
    assert told("referral_expired") == {"operator1", "supervisor1"}


def test_a_failed_agency_delivery_tells_the_case_people(assigned_case, operator, supervisor, police):
    referral = emergency_referral(assigned_case, operator, police)
    for _ in range(2):  # every failed delivery alerts again
        escalation_raise(
            case=assigned_case, kind=EscalationKind.DELIVERY_FAILED, detail="x", referral=referral, once=False
        )
    assert Notification.objects.filter(kind="delivery_failed", user__username="supervisor1").count() == 2
    assert told("delivery_failed") == {"operator1", "supervisor1"}


def test_break_glass_tells_the_other_supervisors_on_the_case(helpline, team, walk_in, operator, supervisor):
    other = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
    case = Case.objects.get(pk=walk_in(risk_level="high")["id"])
    case_set_access(actor=supervisor, case=case, users=[])
    case.refresh_from_db()
    case_break_glass(actor=other, case=case, reason="Child called back, urgent")
    # supervisor1 (on the list) reviews it; operator1 is no supervisor; supervisor2 did it.
    assert told("break_glass") == {"supervisor1"}


def test_a_handover_tells_the_receiver_never_the_one_who_handed_it_over(
    api, helpline, walk_in, operator, other_operator, supervisor
):
    case = walk_in()
    response = api(supervisor).post(
        f"/api/v1/cases/{case['id']}/transfer/",
        {"to_user": other_operator.pk, "note": "Over to you."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert told("case_transferred") == {"operator2"}
    notification = Notification.objects.get(kind="case_transferred")
    assert notification.case_id == case["id"] and notification.reference == case["reference"]

    night = factories.TeamFactory(helpline=helpline, name="Night shift")
    night_ops = [
        factories.OperatorFactory(username=f"night{i}", helpline=helpline, team=night) for i in (1, 2)
    ]
    response = api(other_operator).post(
        f"/api/v1/cases/{case['id']}/transfer/",
        {"to_team": night.pk, "note": "Night shift, please."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    # The team's members, each once; operator2 handed it over and is not told again.
    assert told("case_transferred") == {"operator2", *(op.username for op in night_ops)}
    assert Notification.objects.filter(kind="case_transferred").count() == 3


def test_nobody_outside_a_restricted_case_is_told(helpline, team, walk_in, operator, supervisor):
    other = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
    case = Case.objects.get(pk=walk_in(risk_level="high", assigned_to=operator.pk)["id"])
    case_set_access(actor=supervisor, case=case, users=[])  # only supervisor1 may see it now
    case.refresh_from_db()
    case_update(actor=supervisor, case=case, risk_level="critical")
    assert told("critical_case") == set()  # operator1 and supervisor2 are off its list
    case_update(actor=supervisor, case=case, risk_level="high")
    case_update(actor=other, case=Case.objects.get(pk=case.pk), risk_level="critical")
    assert told("critical_case") == {"supervisor1"}
