"""Writes that bypass the services (bulk updates, raw SQL) are caught by the row history and
reported into the audit log, so a case's history is one complete timeline."""

import pytest
from django.db import connection

from cases.models import Case, Contact
from cases.services import reconcile_row_history
from helpline.audit import verify_chain
from helpline.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def bypass(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def outside_entries(case_id):
    return list(
        AuditEntry.objects.filter(action="row.changed_outside_services", case_id=case_id).order_by("id")
    )


def test_changes_through_the_api_need_no_reconciliation(api, operator, walk_in):
    case = walk_in()
    api(operator).patch(f"/api/v1/cases/{case['id']}/", {"risk_level": "low"}, format="json")
    assert reconcile_row_history() == 0


def test_raw_sql_update_is_reported_once_with_what_changed(api, operator, walk_in, helpline):
    case = walk_in(risk_level="low")
    bypass("UPDATE cases_case SET risk_level = 'critical' WHERE id = %s", [case["id"]])

    assert reconcile_row_history() == 1
    assert reconcile_row_history() == 0
    (entry,) = outside_entries(case["id"])
    assert entry.actor is None
    assert entry.changes["risk_level"] == {"before": "low", "after": "critical"}
    assert entry.extra["operation"] == "update"
    assert verify_chain(helpline.pk).ok


def test_bulk_update_and_raw_delete_are_reported(api, operator, walk_in, helpline):
    case = walk_in()
    Case.objects.filter(pk=case["id"]).update(team=None)
    contact = Contact.objects.create(
        helpline=helpline, case_id=case["id"], channel="voice", started_at=helpline.created_at
    )
    bypass("DELETE FROM cases_contact WHERE id = %s", [contact.pk])

    reconcile_row_history()
    operations = [(e.object_type, e.extra["operation"]) for e in outside_entries(case["id"])]
    assert operations == [("cases.case", "update"), ("cases.contact", "insert"), ("cases.contact", "delete")]


def test_personal_fields_changed_outside_services_are_reported_without_their_values(api, operator, walk_in):
    case = walk_in(child_location="Old town")
    bypass("UPDATE cases_case SET child_location = 'Secret street 5' WHERE id = %s", [case["id"]])
    reconcile_row_history()
    (entry,) = outside_entries(case["id"])
    assert entry.extra["personal_fields_not_shown"] is True
    assert "Secret street" not in str(entry.changes) + str(entry.extra)


def test_case_history_shows_outside_changes_in_the_timeline(api, operator, supervisor, walk_in):
    case = walk_in()
    bypass("UPDATE cases_case SET risk_level = 'medium' WHERE id = %s", [case["id"]])
    history = api(supervisor).get(f"/api/v1/cases/{case['id']}/history/").json()["results"]
    actions = [row["action"] for row in history]
    assert actions[:2] == ["case.create", "contact.create"]
    assert "row.changed_outside_services" in actions
