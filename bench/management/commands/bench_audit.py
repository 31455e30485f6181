"""Measures what the audit log costs, in one run on this machine (figures, not assertions):

    DJANGO_SETTINGS_MODULE=bench.settings python manage.py bench_audit

- how many entries per second `verify_audit` re-computes;
- the overhead of the audit entry on a case update (the same update with and without it).

It runs in a throwaway database (created like the test database, dropped at the end), with one
transaction per operation as in production, so the configured database is never touched.
"""

import time
from unittest import mock

from django.core.management.base import BaseCommand
from django.test.utils import setup_databases, teardown_databases

from cases.services import case_create, case_update, category_defaults_install
from cases.services import cases as case_writes
from helpline.audit import audit_record, verify_chain
from helpline.models import Helpline, Role, Team, User
from helpline.vocabulary import AuditAction


class Command(BaseCommand):
    help = "Measure audit chain verification throughput and the audit overhead of a case update."

    def add_arguments(self, parser):
        parser.add_argument("--entries", type=int, default=20000)
        parser.add_argument("--updates", type=int, default=400)

    def handle(self, *args, entries=20000, updates=400, **options):
        databases = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        try:
            self._measure(entries, updates)
        finally:
            teardown_databases(databases, verbosity=0)

    def _measure(self, entries: int, updates: int) -> None:
        helpline = Helpline.objects.create(code="BENCHAUDIT", name="bench", country="KE")
        category_defaults_install(helpline=helpline)
        team = Team.objects.create(helpline=helpline, name="bench")
        operator = User.objects.create(
            username="bench-audit-op", role=Role.OPERATOR, helpline=helpline, team=team
        )

        started = time.perf_counter()
        for i in range(entries):
            audit_record(actor=operator, action=AuditAction.BENCH_ENTRY, object_type="bench", object_id=i)
        write_rate = entries / (time.perf_counter() - started)

        started = time.perf_counter()
        report = verify_chain(helpline.pk)
        verify_rate = report.entries / (time.perf_counter() - started)
        if not report.ok:
            raise RuntimeError(report.problem)

        case = case_create(actor=operator, call_type="child")
        risks = ["low", "medium"]

        def run(n: int) -> float:
            started = time.perf_counter()
            for i in range(n):
                case_update(actor=operator, case=case, risk_level=risks[i % 2])
            return time.perf_counter() - started

        run(20)  # warm up
        with_audit = run(updates)
        with mock.patch.object(case_writes, "audit_record", lambda **kwargs: None):
            without_audit = run(updates)
        with_audit_again = run(updates)  # interleaved, to see the noise
        with_audit = min(with_audit, with_audit_again)

        self.stdout.write(f"audit entries written:        {write_rate:,.0f} per second")
        self.stdout.write(f"verify_audit re-computation:  {verify_rate:,.0f} entries per second")
        ratio = with_audit / without_audit
        self.stdout.write(
            f"case update: {updates / with_audit:,.0f}/s with audit, "
            f"{updates / without_audit:,.0f}/s without; with/without time ratio {ratio:.2f}"
        )
