"""`manage.py seed_scale` (a command of the bench, bench/management/commands/seed_scale.py) fills an
empty database, through COPY, with data the application takes as its own: every case state in every
helpline, references unique and in step with their counters, valid audit chains that new entries
extend, sequences past the seeded ids (the API creates the next case), tokens that decrypt, and a
refusal to touch a database that already has cases."""

import io
import zoneinfo
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from bench.management.commands.seed_scale import Command as SeedScale
from bench.scale import shapes
from cases.models import Case, CaseReferenceCounter, Contact
from channels_sms.models import InboundEvent, Message
from helpline.audit import audit_record, chains, verify_chain
from helpline.crypto import identifier_hash
from helpline.models import AuditChainHead, AuditEntry, Helpline, User
from helpline.vocabulary import AuditAction
from referrals.models import Consent, Referral

pytestmark = pytest.mark.django_db(transaction=True)  # the seed sets session_replication_role

CASES, PER_CASE = 300, 3
SEEDED_TABLES = ["cases_case", "cases_contact", "channels_sms_message", "helpline_auditentry"]


@pytest.fixture
def seeded():
    out = io.StringIO()
    call_command(SeedScale(), cases=CASES, contacts_per_case=PER_CASE, stdout=out)
    return out.getvalue()


def _ids_where(table: str, condition: str) -> list[int]:
    # Encrypted columns refuse ORM lookups; the seed's own check goes to SQL.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE {condition} ORDER BY id LIMIT 20")
        return [row[0] for row in cursor.fetchall()]


def test_rows_states_references_and_referrals_are_as_asked(seeded):
    assert "rows/s" in seeded and "cases_contact" in seeded
    assert Helpline.objects.count() == 3
    assert Case.objects.count() == CASES
    contacts = Contact.objects.count()
    assert 0.8 * CASES * PER_CASE <= contacts <= 1.2 * CASES * PER_CASE
    messaging = Contact.objects.filter(channel__in=["sms", "whatsapp", "chat"]).count()
    assert messaging <= Message.objects.count() <= 5 * messaging
    assert InboundEvent.objects.exists()
    assert Message.objects.filter(event__isnull=False).count() == InboundEvent.objects.count()

    per_helpline = Counter(Case.objects.values_list("helpline__code", "state"))
    for code in ("KE116", "BR100", "MN108"):
        for state in shapes.STATES:
            assert per_helpline[(code, state)] > 0, (code, state)
    assert per_helpline.most_common(1)[0][0][1] == "closed"

    # References: unique per helpline, and each yearly counter is the number handed out.
    references = list(Case.objects.values_list("helpline__code", "helpline_id", "reference"))
    assert len({(h, r) for _, h, r in references}) == CASES
    per_year = Counter((h, int(r.split("-")[1])) for _, h, r in references)
    counters = {(c.helpline_id, c.year): c.last_value for c in CaseReferenceCounter.objects.all()}
    assert counters == dict(per_year)
    assert {r.rsplit("-", 1)[1] for _, _, r in references} >= {"000001"}

    # Referrals only on cases that went to referral; open referral cases have an active one, closed
    # cases none; every referred case has its consent row.
    by_case: dict[int, set[str]] = {}
    for case_id, state in Referral.objects.values_list("case_id", "state"):
        by_case.setdefault(case_id, set()).add(state)
    states = dict(Case.objects.filter(pk__in=by_case).values_list("pk", "state"))
    assert set(states.values()) <= {"referral", "follow_up", "closed"}
    active = {"awaiting_approval", "sent", "accepted"}
    for case_id in Case.objects.filter(state="referral").values_list("pk", flat=True):
        assert by_case.get(case_id, set()) & active
    for case_id, state in states.items():
        if state == "closed":
            assert not by_case[case_id] & active
    assert set(Consent.objects.values_list("case_id", flat=True)) == set(by_case)

    # Seeded rows bypass the row-history triggers (documented): no event rows for them.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_caseevent")
        assert cursor.fetchone()[0] == 0


def test_audit_chains_verify_and_new_entries_extend_them(seeded):
    seeded_chains = chains()
    assert sorted(seeded_chains) == sorted(Helpline.objects.values_list("pk", flat=True))
    for chain in seeded_chains:
        report = verify_chain(chain)
        assert report.ok, (chain, report.problem)
    assert AuditEntry.objects.filter(action="case.create").count() == CASES
    assert AuditEntry.objects.filter(action__startswith="case.transition.").exists()

    helpline = Helpline.objects.get(code="KE116")
    head = AuditChainHead.objects.get(chain=helpline.pk)
    operator = User.objects.get(username="ke116-op01")
    entry = audit_record(actor=operator, action=AuditAction.BENCH_ENTRY, object_type="test", object_id="1")
    assert (entry.chain, entry.chain_seq, entry.prev_hash) == (helpline.pk, head.last_seq + 1, head.last_hash)
    assert entry.pk > AuditEntry.objects.exclude(pk=entry.pk).order_by("-pk").first().pk
    assert verify_chain(helpline.pk).ok


def test_the_application_carries_on_where_the_seed_ends(seeded, api):
    with connection.cursor() as cursor:
        for table in SEEDED_TABLES:
            cursor.execute(f"SELECT MAX(id) FROM {table}")
            (max_id,) = cursor.fetchone()
            cursor.execute(f"SELECT last_value FROM {table}_id_seq")
            assert cursor.fetchone()[0] >= max_id, table

    operator = User.objects.get(username="ke116-op01")
    client = api(operator)
    queue = client.get("/api/v1/cases/", {"state": "intake"})
    assert queue.status_code == 200
    rows = queue.json()["results"]
    assert rows and {row["state"] for row in rows} == {"intake"}

    helpline = operator.helpline
    year = timezone.now().astimezone(zoneinfo.ZoneInfo(helpline.timezone)).year
    counter = CaseReferenceCounter.objects.filter(helpline=helpline, year=year).first()
    last = counter.last_value if counter else 0
    created = client.post("/api/v1/cases/", {"call_type": "child"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["reference"] == f"{helpline.code}-{year}-{last + 1:06d}"
    assert Case.objects.count() == CASES + 1
    for chain in chains():
        assert verify_chain(chain).ok


def test_encrypted_fields_decrypt(seeded):
    names = {
        c.child_first_name
        for c in Case.objects.filter(pk__in=_ids_where("cases_case", "child_first_name <> ''"))
    }
    assert names and names <= set(shapes.FIRST_NAMES)
    for case in Case.objects.filter(pk__in=_ids_where("cases_case", "reporter_phone <> ''")).select_related(
        "helpline"
    ):
        assert case.reporter_phone.startswith("+")
        assert case.reporter_phone_hash == identifier_hash(case.reporter_phone)
    summaries = Contact.objects.filter(pk__in=_ids_where("cases_contact", "summary <> ''"))
    assert {c.summary for c in summaries} <= set(shapes.SUMMARIES)
    bodies = {m.body for m in Message.objects.all()[:50]}
    assert bodies <= set(shapes.BODIES + shapes.REPLIES)
    assert all(
        r.reason for r in Referral.objects.filter(pk__in=_ids_where("referrals_referral", "reason <> ''"))
    )


def test_a_database_with_cases_is_refused(walk_in):
    walk_in()
    with pytest.raises(CommandError, match="already holds cases"):
        call_command(SeedScale(), cases=CASES, contacts_per_case=PER_CASE, stdout=io.StringIO())
    assert Case.objects.count() == 1
    assert not Helpline.objects.filter(code="KE116").exists()
