"""A case is handed over to a colleague or a team with a note the receiver reads in the case: by
the operator it is assigned to, an operator of its team while nobody has taken it, or a
supervisor; to someone who can then see it. Refusals change nothing."""

import pytest

from cases.models import Case, CaseAccess, Note
from cases.services import case_transfer
from helpline.models import AuditEntry

from . import factories
from .bad_input import assert_error, error_pairs

NOTE = "Her mother is the safe contact, not the aunt. Call after 5pm."


def transfer_url(case) -> str:
    return f"/api/v1/cases/{case.pk if hasattr(case, 'pk') else case['id']}/transfer/"


@pytest.fixture
def night(helpline):
    return factories.TeamFactory(helpline=helpline, name="Night shift")


@pytest.fixture
def colleague(helpline, night):
    """An operator of another team of the same helpline."""
    return factories.OperatorFactory(username="night_op", helpline=helpline, team=night)


@pytest.fixture
def assessed(api, operator, walk_in):
    """A case the operator took (start_assessment assigns it to them)."""
    case = walk_in()
    response = api(operator).post(
        f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json"
    )
    assert response.status_code == 200
    return Case.objects.get(pk=case["id"])


@pytest.fixture
def elsewhere(db):
    other = factories.HelplineFactory(code="ELSE")
    team = factories.TeamFactory(helpline=other, name="Else team")
    return {
        "team": team,
        "operator": factories.OperatorFactory(username="else_op", helpline=other, team=team),
    }


def test_the_assigned_operator_hands_a_case_to_a_colleague_who_reads_the_note(
    api, operator, colleague, night, assessed
):
    response = api(operator).post(
        transfer_url(assessed), {"to_user": colleague.pk, "note": NOTE}, format="json"
    )
    assert response.status_code == 200, response.json()
    answer = response.json()
    case = Case.objects.get(pk=assessed.pk)
    assert (case.assigned_to_id, case.team_id, case.state) == (colleague.pk, night.pk, "assessment")
    assert answer == {
        "case": case.pk,
        "reference": case.reference,
        "assigned_to": colleague.pk,
        "team": night.pk,
        "note": Note.objects.get(case=case).pk,
        "receivers": [colleague.pk],
    }
    # The receiver sees the case and reads the note in it; the giver, in another team, no longer does.
    assert api(colleague).get(f"/api/v1/cases/{case.pk}/").status_code == 200
    notes = api(colleague).get(f"/api/v1/cases/{case.pk}/notes/").json()
    assert [(n["body"], n["author"]) for n in notes] == [(NOTE, operator.username)]
    assert api(operator).get(f"/api/v1/cases/{case.pk}/").status_code == 404


def test_the_handover_is_one_audited_write_without_the_notes_text(api, operator, colleague, night, assessed):
    team_before = assessed.team_id
    api(operator).post(transfer_url(assessed), {"to_user": colleague.pk, "note": NOTE}, format="json")
    entries = AuditEntry.objects.filter(case_id=assessed.pk, action__in=["note.create", "case.transfer"])
    note_entry, transfer = entries.order_by("id")
    assert (note_entry.action, transfer.action) == ("note.create", "case.transfer")
    assert note_entry.txid == transfer.txid  # one transaction
    assert transfer.changes == {
        "assigned_to": {"before": operator.pk, "after": colleague.pk},
        "team": {"before": team_before, "after": night.pk},
    }
    assert transfer.extra["to_user"] == colleague.pk and transfer.extra["note"] == Note.objects.get().pk
    assert NOTE not in str(transfer.changes) + str(transfer.extra) + str(note_entry.changes)
    # Encrypted at rest, like every case note.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM cases_note")
        (stored,) = cursor.fetchone()
    assert NOTE not in stored


def test_a_case_handed_to_a_team_waits_in_its_queue_for_its_active_staff(
    api, helpline, operator, night, colleague, assessed
):
    factories.OperatorFactory(username="night_gone", helpline=helpline, team=night, is_active=False)
    night_supervisor = factories.SupervisorFactory(username="night_sup", helpline=helpline, team=night)
    response = api(operator).post(transfer_url(assessed), {"to_team": night.pk, "note": NOTE}, format="json")
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["receivers"]) == sorted([colleague.pk, night_supervisor.pk])
    case = Case.objects.get(pk=assessed.pk)
    assert (case.assigned_to_id, case.team_id) == (None, night.pk)
    assert api(colleague).get(f"/api/v1/cases/{case.pk}/").status_code == 200
    # Waiting there already: handing it to the same queue again is refused.
    again = api(night_supervisor).post(transfer_url(case), {"to_team": night.pk, "note": NOTE}, format="json")
    assert error_pairs(again) == {("to_team", "already_assigned")}


def test_the_service_returns_the_receivers_to_notify(helpline, operator, colleague, assessed):
    done = case_transfer(actor=operator, case=assessed, to_user=colleague, note=NOTE)
    assert done.receivers == [colleague] and done.case.assigned_to_id == colleague.pk


def test_an_operator_may_hand_over_their_own_case_or_their_teams_untaken_one_but_no_other(
    api, helpline, operator, other_operator, colleague, night, walk_in
):
    own_team_untaken = Case.objects.get(pk=walk_in()["id"])  # the creator's team, assigned to nobody
    assert own_team_untaken.team_id == operator.team_id and own_team_untaken.assigned_to_id is None
    response = api(other_operator).post(
        transfer_url(own_team_untaken), {"to_user": colleague.pk, "note": NOTE}, format="json"
    )
    assert response.status_code == 200

    # Another team's intake case: visible in the intake queue, not theirs to hand over.
    night_case = Case.objects.get(pk=walk_in(user=colleague)["id"])
    before = Note.objects.count()
    response = api(operator).post(
        transfer_url(night_case), {"to_user": other_operator.pk, "note": NOTE}, format="json"
    )
    assert_error(response, 403)
    # A colleague's assigned case in their own team: not theirs either.
    taken = Case.objects.get(pk=walk_in(team=operator.team_id, assigned_to=other_operator.pk)["id"])
    response = api(operator).post(transfer_url(taken), {"to_user": colleague.pk, "note": NOTE}, format="json")
    assert_error(response, 403)
    assert Note.objects.count() == before
    assert AuditEntry.objects.filter(action="case.transfer", outcome="denied").count() == 2


def test_supervisors_hand_over_any_case_of_their_helpline(api, supervisor, colleague, assessed):
    response = api(supervisor).post(
        transfer_url(assessed), {"to_user": colleague.pk, "note": NOTE}, format="json"
    )
    assert response.status_code == 200


def test_outside_the_callers_scope_the_case_is_not_there(
    api, agency_user, admin_user, elsewhere, colleague, assessed
):
    for user in (agency_user, admin_user, elsewhere["operator"]):
        response = api(user).post(
            transfer_url(assessed), {"to_user": colleague.pk, "note": NOTE}, format="json"
        )
        assert_error(response, 404)
    assert_error(
        api(colleague).post("/api/v1/cases/999999/transfer/", {"to_user": 1, "note": NOTE}, format="json"),
        404,
    )
    assert Case.objects.get(pk=assessed.pk).assigned_to_id != colleague.pk


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"note": NOTE}, {("non_field_errors", "one_receiver")}),
        (
            {"to_user": "@colleague", "to_team": "@night", "note": NOTE},
            {("non_field_errors", "one_receiver")},
        ),
        ({"to_user": "@colleague"}, {("note", "required")}),
        ({"to_user": "@colleague", "note": "   "}, {("note", "blank")}),
        ({"to_user": "@colleague", "note": "x" * 10001}, {("note", "max_length")}),
        ({"to_user": "@colleague", "note": NOTE, "urgent": True}, {("urgent", "unknown_field")}),
        ({"to_user": None, "note": NOTE}, {("to_user", "null")}),
        ({"to_user": "@else_operator", "note": NOTE}, {("to_user", "does_not_exist")}),
        ({"to_team": "@else_team", "note": NOTE}, {("to_team", "does_not_exist")}),
        ({"to_team": "@retired", "note": NOTE}, {("to_team", "retired")}),
        ({"to_user": "@gone", "note": NOTE}, {("to_user", "cannot_receive")}),
        ({"to_user": "@agency_user", "note": NOTE}, {("to_user", "cannot_receive")}),
        ({"to_user": "@admin_user", "note": NOTE}, {("to_user", "cannot_receive")}),
        ({"to_user": "@operator", "note": NOTE}, {("to_user", "already_assigned")}),
    ],
)
def test_bad_handovers_are_refused_and_nothing_is_written(
    api, helpline, operator, colleague, night, agency_user, admin_user, elsewhere, assessed, body, expected
):
    named = {
        "@colleague": colleague.pk,
        "@night": night.pk,
        "@else_operator": elsewhere["operator"].pk,
        "@else_team": elsewhere["team"].pk,
        "@retired": factories.TeamFactory(helpline=helpline, name="Old", is_active=False).pk,
        "@gone": factories.OperatorFactory(username="gone", helpline=helpline, is_active=False).pk,
        "@agency_user": agency_user.pk,
        "@admin_user": admin_user.pk,
        "@operator": operator.pk,
    }
    body = {key: named.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    response = api(operator).post(transfer_url(assessed), body, format="json")
    assert error_pairs(response) == expected
    case = Case.objects.get(pk=assessed.pk)
    assert (case.assigned_to_id, case.team_id) == (operator.pk, operator.team_id)
    assert not Note.objects.exists() and not AuditEntry.objects.filter(
        action="case.transfer", outcome="allowed"
    )


def test_a_closed_case_is_not_handed_over(api, supervisor, colleague, walk_in):
    case = walk_in(call_type="silent")
    closed = api(supervisor).post(
        f"/api/v1/cases/{case['id']}/transitions/",
        {"name": "dismiss", "reason": "Silent call"},
        format="json",
    )
    assert closed.status_code == 200, closed.json()
    response = api(supervisor).post(
        transfer_url(case), {"to_user": colleague.pk, "note": NOTE}, format="json"
    )
    assert_error(response, 409, code="case_closed")
    assert not Note.objects.exists()


def test_a_restricted_case_goes_to_someone_on_its_list_or_a_supervisor_adds_them(
    api, helpline, operator, supervisor, colleague, night, assessed
):
    listed_colleague = factories.OperatorFactory(username="listed", helpline=helpline, team=night)
    response = api(supervisor).put(
        f"/api/v1/cases/{assessed.pk}/access/", {"users": [operator.pk, listed_colleague.pk]}, format="json"
    )
    assert response.status_code == 200

    # The operator on the list may not widen it by a handover, nor hand it to a team.
    response = api(operator).post(
        transfer_url(assessed), {"to_user": colleague.pk, "note": NOTE}, format="json"
    )
    assert error_pairs(response) == {("to_user", "not_on_need_to_know")}
    response = api(operator).post(transfer_url(assessed), {"to_team": night.pk, "note": NOTE}, format="json")
    assert error_pairs(response) == {("to_team", "restricted")}
    # To a colleague on the list: yes.
    response = api(operator).post(
        transfer_url(assessed), {"to_user": listed_colleague.pk, "note": NOTE}, format="json"
    )
    assert response.status_code == 200
    assert api(listed_colleague).get(f"/api/v1/cases/{assessed.pk}/").status_code == 200

    # A supervisor hands it to someone off the list: they are added to it, on the record.
    response = api(supervisor).post(
        transfer_url(assessed), {"to_user": colleague.pk, "note": NOTE}, format="json"
    )
    assert response.status_code == 200
    assert CaseAccess.objects.filter(
        case=assessed, user=colleague, kind="need_to_know", revoked_at=None
    ).exists()
    assert api(colleague).get(f"/api/v1/cases/{assessed.pk}/").status_code == 200
    entry = AuditEntry.objects.filter(action="case.transfer").latest("id")
    assert entry.extra["need_to_know_added"] == [colleague.pk]
