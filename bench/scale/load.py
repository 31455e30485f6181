"""Loading the generated rows: COPY in the main thread while the generator builds the next batch in
its own, the secondary indexes dropped before and built after, and the counters, chain heads and
sequences set so the application carries on where the seed ends."""

import contextlib
import io
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from cases.models import CaseReferenceCounter
from helpline.models import AuditChainHead

from .copy_text import COLUMNS, TABLES
from .generator import Generator
from .reference import HelplineData


@dataclass
class Stats:
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    index_seconds: float = 0.0


def drop_secondary_indexes(cursor: Any) -> list[str]:
    """Drops the seeded tables' indexes that back no constraint; returns their definitions."""
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        [list(TABLES)],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in found]


def load(generator: Generator, stats: Stats, started: float, write: Callable[[str], Any]) -> None:
    """The generator thread builds batch i+1 while this thread COPYs batch i."""
    batches: queue.Queue = queue.Queue(maxsize=3)
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in generator.batches():
                while not stop.is_set():
                    try:
                        batches.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the main thread, which re-raises it
            failure.append(error)
        finally:
            batches.put(None)

    producer = threading.Thread(target=produce, name="seed_scale-generator", daemon=True)
    producer.start()
    last_report = time.monotonic()
    try:
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg2's own cursor: copy_expert
            while True:
                item = batches.get()
                if item is None:
                    break
                done, batch = item
                for table, (text, rows) in batch.items():
                    t0 = time.monotonic()
                    raw.copy_expert(
                        f"COPY {table} ({COLUMNS[table]}) FROM STDIN", io.StringIO(text), size=1 << 20
                    )
                    stats.seconds[table] += time.monotonic() - t0
                    stats.rows[table] += rows
                if time.monotonic() - last_report > 5 or done == generator.n:
                    last_report = time.monotonic()
                    elapsed = last_report - started
                    total = sum(stats.rows.values())
                    eta = elapsed / done * (generator.n - done) if done else 0
                    write(
                        f"  {done:,}/{generator.n:,} cases, {total:,} rows, "
                        f"{total / elapsed:,.0f} rows/s, {elapsed:.0f} s elapsed, ~{eta:.0f} s to go"
                    )
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        producer.join()
    if failure:
        raise failure[0]


def finish(generator: Generator, helplines: list[HelplineData]) -> None:
    """Counters, chain heads and sequences, so the application carries on where the seed ends."""
    with connection.cursor() as cursor:
        for h in helplines:
            for year, value in h.counters.items():
                CaseReferenceCounter.objects.update_or_create(
                    helpline_id=h.id, year=year, defaults={"last_value": value}
                )
            if h.seq:
                AuditChainHead.objects.update_or_create(
                    chain=h.id, defaults={"last_seq": h.seq, "last_hash": h.last_hash}
                )
        for table in TABLES:
            last = generator.ids[table] - 1
            if last > 0:
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, last])
        cursor.execute("SET LOCAL session_replication_role = origin")
