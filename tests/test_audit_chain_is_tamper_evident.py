"""The audit log is one hash chain per helpline: supervisors can verify it, and any altered,
removed or reordered entry is found."""

import itertools
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from helpline import audit
from helpline.audit import GENESIS, verify_chain
from helpline.models import AuditChainHead, AuditEntry
from helpline.vocabulary import AuditAction
from tests.factories import HelplineFactory, SupervisorFactory


def _with_trigger_disabled(statement, params):
    """What an attacker with superuser rights on the database could do."""
    with connection.cursor() as cursor:
        # Superuser-only: ordinary triggers (our append-only guard) do not fire for a "replica".
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(statement, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


def test_entries_link_to_their_predecessor(api, operator, walk_in, helpline):
    walk_in()
    walk_in()
    entries = list(AuditEntry.objects.filter(chain=helpline.pk).order_by("chain_seq"))
    assert [e.chain_seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))
    assert verify_chain(helpline.pk).ok


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE helpline_auditentry SET action = 'case.read' WHERE id = %s", "altered"),
        ("UPDATE helpline_auditentry SET changes = '{}'::jsonb WHERE id = %s", "altered"),
        ("DELETE FROM helpline_auditentry WHERE id = %s", "missing"),
    ],
)
def test_verify_audit_names_the_first_broken_entry(
    api, operator, walk_in, helpline, capsys, statement, problem
):
    for _ in range(3):
        walk_in()
    victim = AuditEntry.objects.filter(chain=helpline.pk).order_by("chain_seq")[2]
    _with_trigger_disabled(statement, [victim.pk])

    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit", "--helpline", helpline.code)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "BROKEN" in err and problem in err
    broken_position = 3 if problem != "missing" else 4
    assert f"position={broken_position}" in err


def test_verify_audit_passes_on_an_intact_log(api, operator, walk_in, helpline, capsys):
    walk_in()
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out


def test_supervisor_verifies_the_chain_over_the_api(api, supervisor, operator, walk_in, helpline):
    walk_in()
    response = api(supervisor).get("/api/v1/audit/verify/")
    assert response.status_code == 200
    assert response.json()["intact"] is True
    victim = AuditEntry.objects.filter(chain=helpline.pk).order_by("chain_seq").first()
    _with_trigger_disabled(
        "UPDATE helpline_auditentry SET actor_username = 'someone' WHERE id = %s", [victim.pk]
    )
    body = api(supervisor).get("/api/v1/audit/verify/").json()
    assert (body["intact"], body["first_broken_entry"]) == (False, victim.pk)
    assert api(operator).get("/api/v1/audit/verify/").status_code == 404


def test_each_helpline_has_its_own_chain(api, operator, walk_in, helpline):
    other = HelplineFactory(code="OTHER")
    other_supervisor = SupervisorFactory(helpline=other)
    walk_in()
    api(other_supervisor).get("/api/v1/audit/verify/")
    assert AuditEntry.objects.filter(chain=other.pk).first().chain_seq == 1
    assert verify_chain(helpline.pk).ok and verify_chain(other.pk).ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_a_strict_sequence(helpline, team, operator, other_operator):
    from helpline.audit import audit_record

    def write(actor):
        try:
            for _ in range(15):
                audit_record(actor=actor, action=AuditAction.BENCH_ENTRY, object_type="x")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(user,)) for user in (operator, other_operator)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    report = verify_chain(helpline.pk)
    assert report.ok, report.problem
    assert report.entries == 30


def test_entries_held_back_for_a_batch_are_chained_in_the_order_recorded(helpline):
    other = HelplineFactory(code="OTHER")
    before = {h.pk: AuditEntry.objects.filter(chain=h.pk).count() for h in (helpline, other)}
    with transaction.atomic(), audit.deferred():
        recorded = [
            audit.audit_record(
                actor=None, action=AuditAction.BENCH_ENTRY, object_type="batch", object_id=str(i), helpline=h
            )
            for i, h in enumerate([helpline, other, helpline, helpline])
        ]
        # Held back: nothing written yet, so the chain heads are not locked for the batch.
        assert AuditEntry.objects.filter(object_type="batch").count() == 0
    for chain, ids in ((helpline.pk, ["0", "2", "3"]), (other.pk, ["1"])):
        entries = list(AuditEntry.objects.filter(chain=chain).order_by("chain_seq"))
        assert [e.object_id for e in entries[before[chain] :]] == ids
        assert [e.chain_seq for e in entries] == list(range(1, len(entries) + 1))
        assert verify_chain(chain).ok
    assert {entry.pk for entry in recorded} == set(
        AuditEntry.objects.filter(object_type="batch").values_list("pk", flat=True)
    )


def test_a_batch_that_fails_appends_nothing(helpline):
    audit.audit_record(actor=None, action=AuditAction.BENCH_ENTRY, object_type="before", helpline=helpline)
    head = AuditChainHead.objects.get(chain=helpline.pk)
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(RuntimeError, match="broke"),
        transaction.atomic(),
        audit.deferred(),
    ):
        audit.audit_record(
            actor=None, action=AuditAction.BENCH_ENTRY, object_type="batch.lost", helpline=helpline
        )
        raise RuntimeError("the batch broke")
    # Not even sent (and so not hidden by the rollback either).
    assert not [q for q in queries.captured_queries if "helpline_audit" in q["sql"]]
    assert not AuditEntry.objects.filter(object_type="batch.lost").exists()
    assert AuditChainHead.objects.get(chain=helpline.pk).last_seq == head.last_seq
    audit.audit_record(actor=None, action=AuditAction.BENCH_ENTRY, object_type="after", helpline=helpline)
    assert verify_chain(helpline.pk).ok


@pytest.mark.django_db(transaction=True)
def test_entries_cannot_be_held_back_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"), audit.deferred():
        pass


def test_a_position_taken_in_another_chain_is_refused(helpline):
    other = HelplineFactory(code="OTHER")
    with pytest.raises(ValueError, match="chain"), transaction.atomic():
        audit.audit_record(
            actor=None,
            action=AuditAction.BENCH_ENTRY,
            object_type="misplaced",
            helpline=helpline,
            position=audit.ChainPosition(chain=other.pk, seq=1, prev_hash="", txid=1),
        )
    assert not AuditEntry.objects.filter(object_type="misplaced").exists()
