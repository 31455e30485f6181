"""Every read and write of case data leaves an audit entry, in the same transaction, append-only."""

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError

from cases.models import Note
from helpline.models import AuditEntry
from tests.factories import ContactFactory


def entries(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def test_creating_a_case_records_the_case_and_its_contact(api, operator, walk_in):
    case = walk_in(child_location="Kibera, house 12", summary="Hurt at home", risk_level="high")
    created = entries(case_id=case["id"])
    assert [e.action for e in created] == ["case.create", "contact.create"]
    case_entry = created[0]
    assert (case_entry.actor, case_entry.actor_role, case_entry.outcome) == (operator, "operator", "allowed")
    assert case_entry.changes["risk_level"] == {"before": None, "after": "high"}
    # Personal data is recorded as changed, never copied into the log.
    assert case_entry.changes["child_location"] == {"before": "[redacted]", "after": "[redacted]"}
    assert "Hurt at home" not in str(created[1].changes)


def test_reading_a_case_records_a_read(api, operator, walk_in):
    case = walk_in()
    response = api(operator).get(
        f"/api/v1/cases/{case['id']}/", HTTP_X_REQUEST_ID="req-123", HTTP_USER_AGENT="pytest-ua"
    )
    (read,) = entries(action="case.read", case_id=case["id"])
    assert (read.outcome, read.request_id, read.user_agent, read.client_ip) == (
        "allowed",
        response["X-Request-ID"],
        "pytest-ua",
        "127.0.0.1",
    )


def test_listing_cases_records_which_cases_were_shown(api, operator, walk_in):
    ids = {walk_in()["id"], walk_in()["id"]}
    response = api(operator).get("/api/v1/cases/")
    assert response.headers["X-Request-ID"]
    (listing,) = entries(action="case.list", actor=operator)
    assert set(listing.extra["case_ids"]) == ids


def test_updating_a_case_records_before_and_after(api, operator, walk_in):
    case = walk_in()
    api(operator).patch(
        f"/api/v1/cases/{case['id']}/", {"risk_level": "medium", "categories": ["bullying"]}, format="json"
    )
    (update,) = entries(action="case.update", case_id=case["id"])
    assert update.changes["risk_level"] == {"before": "unassessed", "after": "medium"}
    assert update.changes["categories"] == {"before": [], "after": ["bullying"]}
    assert "next_action_due_at" in update.changes


def test_notes_contacts_and_transitions_are_recorded(api, operator, helpline, walk_in):
    case = walk_in()
    client = api(operator)
    client.post(f"/api/v1/cases/{case['id']}/notes/", {"body": "She is safe tonight"}, format="json")
    client.get(f"/api/v1/cases/{case['id']}/notes/")
    contact = ContactFactory(helpline=helpline, case=None)
    client.get(f"/api/v1/contacts/{contact.pk}/")
    client.patch(f"/api/v1/contacts/{contact.pk}/", {"call_type": "caller_about_child"}, format="json")
    client.post(f"/api/v1/contacts/{contact.pk}/attach/", {"case": case["id"]}, format="json")
    client.get("/api/v1/contacts/")
    client.post(f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json")

    actions = [e.action for e in entries(actor=operator)]
    assert actions[2:] == [
        "note.create",
        "note.list",
        "contact.read",
        "contact.update",
        "contact.attach",
        "contact.list",
        "case.transition.start_assessment",
    ]
    (note_entry,) = entries(action="note.create")
    assert "She is safe tonight" not in str(note_entry.changes)


def test_a_refused_write_leaves_no_change_and_no_allowed_entry(api, operator, walk_in):
    case = walk_in()
    before = AuditEntry.objects.count()
    response = api(operator).patch(
        f"/api/v1/cases/{case['id']}/", {"categories": ["not_a_category"]}, format="json"
    )
    assert response.status_code == 400
    # Only the refusal is on the record (a refusal on a case's route is recorded, bad input too).
    added = AuditEntry.objects.order_by("id")[before:]
    assert [(e.action, e.outcome) for e in added] == [("case.update", "denied")]


def test_supervisor_reads_a_case_history_in_order(api, operator, supervisor, walk_in):
    case = walk_in()
    client = api(operator)
    client.get(f"/api/v1/cases/{case['id']}/")
    client.post(f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json")
    history = api(supervisor).get(f"/api/v1/cases/{case['id']}/history/").json()["results"]
    assert [row["action"] for row in history] == [
        "case.create",
        "contact.create",
        "case.read",
        "case.transition.start_assessment",
        "case.history",
    ]
    assert history[3]["actor_username"] == operator.username
    assert history[3]["changes"]["state"] == {"before": "intake", "after": "assessment"}


def test_operators_cannot_read_case_history(api, operator, walk_in):
    case = walk_in()
    assert api(operator).get(f"/api/v1/cases/{case['id']}/history/").status_code == 404
    assert entries(action="case.history", actor=operator)[0].outcome == "denied"


def test_audit_rows_refuse_update_and_delete_even_by_raw_sql(api, operator, walk_in):
    walk_in()
    entry = AuditEntry.objects.first()
    for statement in (
        "UPDATE helpline_auditentry SET action = 'tampered' WHERE id = %s",
        "DELETE FROM helpline_auditentry WHERE id = %s",
    ):
        with pytest.raises(InternalError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == entry.action


def test_notes_are_append_only_in_the_database(api, operator, walk_in):
    case = walk_in()
    api(operator).post(f"/api/v1/cases/{case['id']}/notes/", {"body": "original"}, format="json")
    note = Note.objects.get()
    with pytest.raises(InternalError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE cases_note SET body = 'rewritten' WHERE id = %s", [note.pk])
    assert Note.objects.get().body == "original"


@pytest.mark.parametrize(
    ("source", "target"), [("intake", "follow_up"), ("intake", "referral"), ("closed", "intake")]
)
def test_database_refuses_state_jumps_outside_the_workflow(helpline, source, target):
    from tests.factories import CaseFactory

    case = CaseFactory(helpline=helpline, state=source)
    with pytest.raises(InternalError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE cases_case SET state = %s WHERE id = %s", [target, case.pk])
    case.refresh_from_db()
    assert case.state == source
