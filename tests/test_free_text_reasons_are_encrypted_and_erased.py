"""Reasons people type (closing, reopening, breaking the glass, overriding consent, rejecting,
withdrawing, an outcome note) and the escalations quoting them are never in clear in the database
(row history and audit log included), supervisors still read them, and none of them can be
recovered once the case is anonymised, while the audit chain still verifies."""

import re

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import connection

from cases.models import Case, CaseAccess, Escalation
from cases.services import anonymise_expired_cases, case_anonymise
from helpline.audit import verify_chain
from referrals.models import Referral

from .factories import SupervisorFactory

# Each names a child and a number, as people do when they type a reason.
SECRETS = {
    "close": "Amina Njeri back home, mother's phone 0722 111 222",
    "reopen": "Amina Njeri called again from 0722 111 222",
    "close_again": "Amina Njeri placed with aunt Wanjiku",
    "break_glass": "Amina Njeri in danger tonight, list holder off duty",
    "override": "Amina Njeri at risk tonight, no consent possible",
    "reject": "We do not cover Kibera where Amina Njeri lives",
    "withdraw": "Amina Njeri's family moved to Mombasa",
    "outcome": "Amina Njeri placed in Kilimani shelter",
}
TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_\-]+=*")


def ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


@pytest.fixture
def worked_case(api, operator, supervisor, agency_user, walk_in):
    """A case that went through every reason-taking step, through the API."""
    case = walk_in(child_first_name="Amina")
    url = f"/api/v1/cases/{case['id']}/"
    staff, boss, police = api(operator), api(supervisor), api(agency_user)
    ok(staff.post(f"{url}transitions/", {"name": "start_assessment"}, format="json"))
    ok(staff.patch(url, {"risk_level": "medium"}, format="json"))

    def refer():
        body = {
            "agency": agency_user.agency_membership.agency_id,
            "service_type": "protection",
            "urgency": "urgent",
            "reason": "Abuse at home",
            "summary": "Child needs a safe place.",
            "override_reason": SECRETS["override"],
        }
        return ok(boss.post(f"{url}referrals/", body, format="json"), 201)["id"]

    rejected = refer()
    ok(police.post(f"/api/v1/referrals/{rejected}/reject/", {"reason": SECRETS["reject"]}, format="json"))
    withdrawn = refer()
    ok(staff.post(f"/api/v1/referrals/{withdrawn}/withdraw/", {"reason": SECRETS["withdraw"]}, format="json"))
    completed = refer()
    ok(police.post(f"/api/v1/referrals/{completed}/accept/", {}, format="json"))
    ok(
        police.post(
            f"/api/v1/referrals/{completed}/complete/",
            {"outcome": "other", "outcome_note": SECRETS["outcome"]},
            format="json",
        )
    )

    ok(boss.put(f"{url}access/", {"users": [operator.pk]}, format="json"))
    other = SupervisorFactory(username="supervisor2", helpline=supervisor.helpline, team=supervisor.team)
    ok(api(other).post(f"{url}break-glass/", {"reason": SECRETS["break_glass"]}, format="json"), 201)

    ok(staff.post(f"{url}transitions/", {"name": "close", "reason": SECRETS["close"]}, format="json"))
    ok(boss.post(f"{url}transitions/", {"name": "reopen", "reason": SECRETS["reopen"]}, format="json"))
    ok(staff.post(f"{url}transitions/", {"name": "close", "reason": SECRETS["close_again"]}, format="json"))
    return case


def every_table_as_text() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        dumps = {}
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" AS t')
            dumps[table] = "\n".join(row for (row,) in cursor.fetchall())
    return dumps


def readable_anywhere(dumps: dict[str, str], keys: list[bytes]) -> str:
    """Everything in the database that any of `keys` decrypts, and the clear text, together; with
    the helpline's own keys and every per-case key still stored (themselves decrypted)."""
    found = list(dumps.values())
    tokens = [token for dump in dumps.values() for token in TOKEN.findall(dump)]
    fernets = [Fernet(key) for key in keys]
    plain = []
    for token in tokens:
        for fernet in fernets:
            try:
                plain.append(fernet.decrypt(token.encode()).decode(errors="replace"))
            except InvalidToken:
                continue
    # A decrypted value may be a key (a case's own key): use those on every token too.
    for maybe_key in list(plain):
        try:
            fernet = Fernet(maybe_key.encode())
        except ValueError:
            continue
        for token in tokens:
            try:
                plain.append(fernet.decrypt(token.encode()).decode(errors="replace"))
            except InvalidToken:
                continue
    return "\n".join(found + plain)


def test_no_table_holds_a_reason_in_clear(worked_case):
    for table, dump in every_table_as_text().items():
        assert "Amina Njeri" not in dump, table


def test_the_rows_and_the_api_still_answer_the_reasons(api, supervisor, agency_user, worked_case):
    case = Case.objects.get(pk=worked_case["id"])
    assert case.closure_reason == SECRETS["close_again"]
    assert CaseAccess.objects.get(case=case, kind="break_glass").reason == SECRETS["break_glass"]
    referrals = {r.state: r for r in Referral.objects.filter(case=case)}
    assert referrals["rejected"].rejection_reason == SECRETS["reject"]
    assert referrals["withdrawn"].withdrawal_reason == SECRETS["withdraw"]
    assert referrals["completed"].outcome_note == SECRETS["outcome"]
    assert {r.override_reason for r in referrals.values()} == {SECRETS["override"]}
    escalation = Escalation.objects.get(case=case, kind="referral_rejected")
    assert SECRETS["reject"] in escalation.detail

    client = api(supervisor)
    detail = ok(client.get(f"/api/v1/cases/{case.pk}/"))
    assert detail["closure_reason"] == SECRETS["close_again"]
    # The history keeps every reason given, in the order given, readable by its readers.
    history = ok(client.get(f"/api/v1/cases/{case.pk}/history/"))["results"]
    reasons = [
        (e["action"], e["extra"].get("reason") or e["extra"].get("override_reason"))
        for e in history
        if e["extra"].get("reason") or e["extra"].get("override_reason")
    ]
    assert reasons == [
        ("referral.create", SECRETS["override"]),
        ("referral.reject", SECRETS["reject"]),
        ("referral.create", SECRETS["override"]),
        ("referral.withdraw", SECRETS["withdraw"]),
        ("referral.create", SECRETS["override"]),
        ("case.break_glass", SECRETS["break_glass"]),
        ("case.transition.close", SECRETS["close"]),
        ("case.transition.reopen", SECRETS["reopen"]),
        ("case.transition.close", SECRETS["close_again"]),
    ]
    listed = ok(client.get("/api/v1/audit/", {"action": "case.transition.reopen"}))["results"]
    assert [e["extra"]["reason"] for e in listed] == [SECRETS["reopen"]]
    export = client.get("/api/v1/audit/export/", {"action": "case.break_glass"})
    assert export.status_code == 200 and SECRETS["break_glass"] in export.content.decode()


def test_anonymisation_leaves_no_reason_recoverable_even_with_the_keys(api, supervisor, worked_case):
    case = Case.objects.get(pk=worked_case["id"])
    assert case_anonymise(case=case)

    keys = [key.encode() for key in settings.FIELD_ENCRYPTION_KEYS]
    everything = readable_anywhere(every_table_as_text(), keys)
    for what, secret in SECRETS.items():
        assert secret not in everything, what
    assert "Amina Njeri" not in everything

    case.refresh_from_db()
    assert case.closure_reason == ""
    assert CaseAccess.objects.get(case=case, kind="break_glass").reason == ""
    for referral in Referral.objects.filter(case=case):
        assert (referral.override_reason, referral.rejection_reason) == ("", "")
        assert (referral.withdrawal_reason, referral.outcome_note) == ("", "")
    assert {e.detail for e in Escalation.objects.filter(case=case)} == {""}

    # The audit trail is still whole and says a reason was given, not what it was.
    assert verify_chain(case.helpline_id).ok
    history = ok(api(supervisor).get(f"/api/v1/cases/{case.pk}/history/"))["results"]
    closes = [e["extra"]["reason"] for e in history if e["action"] == "case.transition.close"]
    assert closes == ["[erased]", "[erased]"]


def test_the_retention_sweep_erases_the_reasons_too(helpline, worked_case):
    from datetime import timedelta

    from django.utils import timezone

    helpline.retention_years = 1
    helpline.save()
    Case.objects.filter(pk=worked_case["id"]).update(closed_at=timezone.now() - timedelta(days=400))
    assert anonymise_expired_cases() == 1
    keys = [key.encode() for key in settings.FIELD_ENCRYPTION_KEYS]
    assert "Amina Njeri" not in readable_anywhere(every_table_as_text(), keys)


@pytest.mark.migration_history
@pytest.mark.django_db(transaction=True)
def test_the_migrations_encrypt_the_reasons_already_stored_and_reverse(operator):
    from django.db.migrations.executor import MigrationExecutor

    from .factories import CaseFactory, ReferralFactory

    case = CaseFactory(helpline=operator.helpline)
    referral = ReferralFactory(case=case)
    plain = {
        ("cases", "cases_case", "closure_reason", case.pk): SECRETS["close"],
        ("referrals", "referrals_referral", "rejection_reason", referral.pk): SECRETS["reject"],
        ("referrals", "referrals_referral", "outcome_note", referral.pk): SECRETS["outcome"],
    }
    migrations = {"cases": "_free_text_encrypted", "referrals": "_free_text_encrypted"}

    def raw(table, column, pk):
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE id = %s', [pk])
            return cursor.fetchone()[0]

    executor = MigrationExecutor(connection)
    targets = {}
    for app, suffix in migrations.items():
        (node,) = [k for k in executor.loader.graph.nodes if k[0] == app and k[1].endswith(suffix)]
        (parent,) = [k for k in executor.loader.graph.node_map[node].parents if k[0] == app]
        targets[app] = (parent, node)
    try:
        # Stored by the release before: plain text in the plain columns.
        executor.migrate([parent for parent, _ in targets.values()])
        with connection.cursor() as cursor:
            for (_, table, column, pk), value in plain.items():
                cursor.execute(f'UPDATE "{table}" SET "{column}" = %s WHERE id = %s', [value, pk])
        executor = MigrationExecutor(connection)
        executor.migrate([node for _, node in targets.values()])
        for (_, table, column, pk), value in plain.items():
            stored = raw(table, column, pk)
            assert stored.startswith("gAAAAA") and "Amina" not in stored
            assert Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(stored.encode()).decode() == value

        executor = MigrationExecutor(connection)
        executor.migrate([parent for parent, _ in targets.values()])
        for (_, table, column, pk), value in plain.items():
            assert raw(table, column, pk) == value  # reversed: plain text again
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert Case.objects.get(pk=case.pk).closure_reason == SECRETS["close"]
    assert Referral.objects.get(pk=referral.pk).outcome_note == SECRETS["outcome"]
