"""Supervisors search their helpline's audit log in the console as the API searches it (the same
filters, newest first, page by page, restricted cases they may not see left out, the search itself
on record), verify its hash chain, and export it as the very file the API's export writes."""

import csv
import html
import io
import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases.models import Case
from cases.services import case_set_access
from helpline.audit import audit_record
from helpline.models import AuditEntry
from helpline.vocabulary import AuditAction
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db

AUDIT = "/console/oversight/audit/"
EXPORT = "/console/oversight/audit/export/"
VERIFY = "/console/oversight/audit/verify/"
WORDS = {"mn": "Хүүхэд аюулгүй байна, ээжтэйгээ ярилцлаа.", "es": "Niña de 12 años, acompañada."}


def rows(answer) -> list[int]:
    assert answer.status_code == 200, answer.content.decode()[:2000]
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', answer.content.decode())]


def link(answer, text: str) -> str | None:
    found = re.search(r'<a href="([^"]+)"[^>]*>' + re.escape(text) + "</a>", answer.content.decode())
    return html.unescape(found.group(1)) if found else None


def bench_entries(actor, count: int, **fields) -> list[AuditEntry]:
    with transaction.atomic():
        return [
            audit_record(
                actor=actor, action=AuditAction.BENCH_ENTRY, object_type="x", object_id=str(n), **fields
            )
            for n in range(count)
        ]


def last_entry(action: str, actor) -> AuditEntry:
    return AuditEntry.objects.filter(action=action, actor=actor).latest("id")


def test_a_search_lists_the_matching_entries_newest_first_and_is_on_record(
    api, operator, supervisor, walk_in, helpline
):
    case = walk_in()
    walk_in()
    client = sign_in(supervisor)

    answer = client.get(AUDIT, {"action": "case.", "actor": operator.pk})

    expected = list(
        AuditEntry.objects.filter(helpline=helpline, action__startswith="case.", actor=operator)
        .order_by("-id")
        .values_list("pk", flat=True)
    )
    assert expected and rows(answer) == expected
    text = answer.content.decode()
    assert f'<a href="/console/cases/{case["id"]}/">' in text
    assert '<option value="case."></option>' in text  # the family is offered
    console_entry = last_entry("audit.list", supervisor)
    assert console_entry.extra == {
        "filters": {"action": "case.", "actor": str(operator.pk)},
        "count": len(expected),
    }
    # The API's search of the same filters is recorded the same way.
    assert api(supervisor).get("/api/v1/audit/", {"action": "case.", "actor": operator.pk}).status_code == 200
    assert last_entry("audit.list", supervisor).extra == console_entry.extra


def test_an_action_without_a_full_stop_is_that_action_only(supervisor, operator, walk_in):
    walk_in()
    client = sign_in(supervisor)
    exact = rows(client.get(AUDIT, {"action": "case.create"}))
    assert exact and {AuditEntry.objects.get(pk=i).action for i in exact} == {"case.create"}
    assert rows(client.get(AUDIT, {"action": "case"})) == []


def test_older_entries_come_page_by_page(supervisor):
    made = bench_entries(supervisor, 60)
    client = sign_in(supervisor)

    first = client.get(AUDIT, {"action": "bench.entry"})
    older = link(first, "Older entries")
    second = client.get(older)

    assert rows(first) == [e.pk for e in reversed(made)][:50]
    assert rows(second) == [e.pk for e in reversed(made)][50:]
    assert "action=bench.entry" in older and link(second, "Older entries") is None
    assert link(second, "Newest entries") == f"{AUDIT}?action=bench.entry"
    # Each page read is on record with its count; the page marker is not a filter.
    reads = AuditEntry.objects.filter(action="audit.list", actor=supervisor).order_by("id")
    assert [r.extra for r in reads] == [{"filters": {"action": "bench.entry"}, "count": n} for n in (50, 10)]


def test_the_time_range_is_read_in_the_helplines_zone(helpline, supervisor):
    helpline.timezone = "Asia/Ulaanbaatar"  # UTC+8 all year
    helpline.save()
    [entry] = bench_entries(supervisor, 1)
    local = timezone.now().astimezone(ZoneInfo("Asia/Ulaanbaatar"))
    minutes_ago, in_a_while = (
        (local + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M") for m in (-30, 30)
    )  # as the form's date-and-time fields send them
    client = sign_in(supervisor)

    assert rows(client.get(AUDIT, {"action": "bench.entry", "at_after": minutes_ago})) == [entry.pk]
    assert rows(client.get(AUDIT, {"action": "bench.entry", "at_after": in_a_while})) == []
    assert rows(client.get(AUDIT, {"action": "bench.entry", "at_before": minutes_ago})) == []
    both = {"action": "bench.entry", "at_after": minutes_ago, "at_before": in_a_while}
    assert rows(client.get(AUDIT, both)) == [entry.pk]
    # The API's form of a time (with its offset) is taken too.
    utc = (timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows(client.get(AUDIT, {"action": "bench.entry", "at_after": utc})) == [entry.pk]


def test_outcome_and_case_filters(api, supervisor, operator, walk_in):
    case = walk_in()
    assert api(operator).get("/api/v1/cases/999999999/").status_code == 404  # a denied read
    client = sign_in(supervisor)

    denied = rows(client.get(AUDIT, {"outcome": "denied", "actor": operator.pk}))
    of_case = rows(client.get(AUDIT, {"case": case["id"]}))

    assert denied and {AuditEntry.objects.get(pk=i).outcome for i in denied} == {"denied"}
    assert of_case and {AuditEntry.objects.get(pk=i).case_id for i in of_case} == {case["id"]}


def test_entries_of_a_restricted_case_the_supervisor_may_not_see_are_left_out(
    helpline, team, supervisor, operator, walk_in
):
    case = walk_in()
    keeper = factories.SupervisorFactory(username="keeper", helpline=helpline, team=team)
    case_set_access(actor=keeper, case=Case.objects.get(pk=case["id"]), users=[operator])

    outside = sign_in(supervisor)
    assert rows(outside.get(AUDIT, {"case": case["id"]})) == []
    assert f"/console/cases/{case['id']}/" not in outside.get(AUDIT).content.decode()
    assert case["reference"] not in outside.get(EXPORT).content.decode()
    # Whoever is on the list reads all of it.
    assert rows(sign_in(keeper).get(AUDIT, {"case": case["id"]}))


def _with_trigger_disabled(statement, params):
    """What an attacker with superuser rights on the database could do."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(statement, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


def test_the_chain_is_verified_as_the_api_verifies_it(api, helpline, supervisor, operator, walk_in):
    walk_in()
    client = sign_in(supervisor)

    intact = client.get(VERIFY)

    assert intact.status_code == 200
    assert "The audit log is intact." in intact.content.decode()
    recorded = last_entry("audit.verify", supervisor)
    # Every entry of the chain before the verification's own was checked.
    assert recorded.extra == {"filters": {}, "count": recorded.chain_seq - 1}

    victim = AuditEntry.objects.filter(chain=helpline.pk).order_by("chain_seq")[1]
    _with_trigger_disabled(
        "UPDATE helpline_auditentry SET actor_username = 'someone' WHERE id = %s", [victim.pk]
    )
    broken = client.get(VERIFY).content.decode()

    assert "The audit log's chain is broken." in broken
    assert f"<dd>{victim.pk}</dd>" in broken and "content does not match its hash" in broken
    assert api(supervisor).get("/api/v1/audit/verify/").json()["first_broken_entry"] == victim.pk
    assert link(client.get(AUDIT), "Verify the audit log's chain") == VERIFY


def test_the_export_is_the_apis_file_byte_for_byte_and_on_record(api, helpline, supervisor):
    helpline.timezone = "Asia/Ulaanbaatar"
    helpline.save()
    bench_entries(supervisor, 2, extra=WORDS)
    with transaction.atomic():
        audit_record(actor=supervisor, action=AuditAction.BENCH_ENTRY, object_type="x", object_id="=1+1")
    client = sign_in(supervisor)

    page = client.get(AUDIT, {"action": "bench.entry", "outcome": "allowed", "case": ""})
    export = link(page, "Export these entries (CSV)")
    answer = client.get(export)

    assert export == f"{EXPORT}?action=bench.entry&outcome=allowed"
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"] == 'attachment; filename="audit.csv"'
    ours = answer.content
    console_entry = last_entry("audit.export", supervisor)
    theirs = api(supervisor).get("/api/v1/audit/export/", {"action": "bench.entry", "outcome": "allowed"})
    assert theirs.status_code == 200
    assert ours == theirs.content
    assert last_entry("audit.export", supervisor).extra == console_entry.extra
    assert console_entry.extra == {"filters": {"action": "bench.entry", "outcome": "allowed"}, "count": 3}

    written = list(csv.DictReader(io.StringIO(ours.decode("utf-8"))))
    assert [json.loads(r["extra"]) for r in written[:2]] == [WORDS, WORDS]
    assert written[2]["object_id"] == "'=1+1"  # never a formula
    assert all(r["at"].endswith("+08:00") for r in written)  # the helpline's time, with its offset


def test_an_export_too_large_is_refused_and_not_recorded(supervisor, monkeypatch):
    monkeypatch.setattr("console.views.oversight.EXPORT_LIMIT", 3)
    bench_entries(supervisor, 4)
    client = sign_in(supervisor)

    answer = client.get(EXPORT, {"action": "bench.entry"})

    assert answer.status_code == 400
    assert "More than 3 entries match; narrow the time range." in answer.content.decode()
    assert not AuditEntry.objects.filter(action="audit.export").exists()
