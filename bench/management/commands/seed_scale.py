"""`manage.py seed_scale`: fills an empty database with synthetic scale data through COPY (bench.scale
says what it writes). A command of the `bench` app, installed by bench.settings only:

    DJANGO_SETTINGS_MODULE=bench.settings python manage.py seed_scale --cases 1000000 --contacts-per-case 10
"""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from bench.scale.copy_text import TABLES
from bench.scale.generator import Generator
from bench.scale.load import Stats, drop_secondary_indexes, finish, load
from bench.scale.reference import reference_data, token_pools
from bench.scale.shapes import DEFAULT_PASSWORD, HELPLINES, STATES
from cases.models import Case
from helpline.models import Helpline
from reports.rollups import rollups_rebuild


class Command(BaseCommand):
    help = (
        "Fill an empty database with synthetic scale data (helplines, cases, contacts, messages, "
        "referrals, a valid audit chain) using COPY. bench/scale/__init__.py says what is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=1_000_000)
        parser.add_argument("--contacts-per-case", type=float, default=10.0, help="Mean contacts per case.")
        parser.add_argument("--helplines", type=int, default=3, choices=range(1, len(HELPLINES) + 1))
        parser.add_argument("--batch-size", type=int, default=2000, help="Cases per COPY batch.")
        parser.add_argument("--seed", type=int, default=116, help="Random seed (same seed, same data).")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password of every seeded user.")
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="Maintain the secondary indexes row by row during the load instead of dropping them "
            "first and building them once at the end (slower; for comparison).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        n, k = options["cases"], options["contacts_per_case"]
        chosen = HELPLINES[: options["helplines"]]
        if n < len(STATES) * len(chosen) or k < 1:
            raise CommandError(
                f"--cases must be at least {len(STATES) * len(chosen)} (every state in every helpline) "
                "and --contacts-per-case at least 1."
            )
        if Case.objects.exists():
            raise CommandError(
                "The database already holds cases: seed_scale fills an empty database only "
                "(drop and re-create it, then migrate)."
            )
        if Helpline.objects.filter(code__in=[c[0] for c in chosen]).exists():
            raise CommandError("Helplines with the seed's codes exist already: seed an empty database.")
        started = time.monotonic()
        now = timezone.now().timestamp()
        stats = Stats()
        with transaction.atomic():
            helplines, users = reference_data(chosen, options["password"])
            reference_seconds = time.monotonic() - started
            self.stdout.write(
                f"Reference data: {len(helplines)} helplines, {len(users)} users "
                f"({reference_seconds:.1f} s). Encrypting the token pools..."
            )
            pools = token_pools()
            with connection.cursor() as cursor:
                # Superuser: no row-history or foreign-key triggers for the rest of this transaction.
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute("SELECT txid_current()")
                (txid,) = cursor.fetchone()
                start_ids = {}
                for table in TABLES:
                    cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # nosec B608  # TABLES
                    start_ids[table] = cursor.fetchone()[0]
            generator = Generator(
                cases=n,
                contacts_per_case=k,
                batch_size=options["batch_size"],
                seed=options["seed"],
                now=now,
                txid=txid,
                helplines=helplines,
                weights=[c[7] for c in chosen],
                users=users,
                start_ids=start_ids,
                pools=pools,
            )
            with connection.cursor() as cursor:
                # Building an index once from sorted data beats updating it for every row; indexes
                # behind constraints (primary keys, unique constraints) stay and check the load.
                dropped = [] if options["keep_indexes"] else drop_secondary_indexes(cursor)
            load(generator, stats, started, self.stdout.write)
            if dropped:
                self.stdout.write(f"Building {len(dropped)} secondary indexes...")
                t0 = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
                    for definition in dropped:
                        cursor.execute(definition)
                stats.index_seconds = time.monotonic() - t0
            finish(generator, helplines)
            # The reports' roll-ups of what was loaded (the load ran without the triggers that
            # mark hours to recount): counted once, as after a restore.
            self.stdout.write("Counting the reports' roll-ups...")
            t0 = time.monotonic()
            rollup_rows = rollups_rebuild()
            self.stdout.write(f"  {rollup_rows:,} roll-up rows in {time.monotonic() - t0:.1f} s")
        commit_done = time.monotonic()
        with connection.cursor() as cursor:
            for table in (*TABLES, "cases_casereferencecounter", "helpline_auditchainhead"):
                cursor.execute(f"ANALYZE {table}")
        analyzed = time.monotonic()
        self._report(stats, started, commit_done, analyzed)

    # --- reference data (ORM, a few hundred rows) ------------------------------------------------

    def _report(self, stats: Stats, started: float, committed: float, analyzed: float) -> None:
        total_seconds = analyzed - started
        total_rows = sum(stats.rows.values())
        self.stdout.write("")
        self.stdout.write(
            f"{'table':<28}{'rows':>14}{'COPY s':>10}{'rows/s (COPY)':>16}{'rows/s (wall)':>16}"
        )
        for table in TABLES:
            rows, seconds = stats.rows.get(table, 0), stats.seconds.get(table, 0.0)
            self.stdout.write(
                f"{table:<28}{rows:>14,}{seconds:>10.1f}{rows / seconds if seconds else 0:>16,.0f}"
                f"{rows / total_seconds:>16,.0f}"
            )
        self.stdout.write(
            f"{'total':<28}{total_rows:>14,}{sum(stats.seconds.values()):>10.1f}"
            f"{'':>16}{total_rows / total_seconds:>16,.0f}"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {total_rows:,} rows in {total_seconds:.1f} s "
                f"({total_rows / total_seconds:,.0f} rows/s; "
                f"index builds {stats.index_seconds:.1f} s, commit at {committed - started:.1f} s, "
                f"ANALYZE {analyzed - committed:.1f} s)."
            )
        )
