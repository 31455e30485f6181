"""The reports' roll-up lag under load (issue #18): while new contacts arrive, this
process does what Celery beat does in production (reports.tasks:
`rollups_refresh` every `ROLLUP_SWEEP_SECONDS`) and records, each round, how old the oldest
change waiting was when the round began plus how long the round took: how long after a change the
reports include it, at worst, in that round."""

from __future__ import annotations

import threading
import time
from typing import Any


class Sweeper:
    def __init__(self, every: float) -> None:
        self.every = every
        self.rounds: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollup-sweeper", daemon=True)

    def __enter__(self) -> Sweeper:
        from django.db import connection

        from reports.rollups import REFRESH_BATCH, rollups_refresh

        # What earlier phases left waiting is not this phase's lag: taken in first, unmeasured.
        while rollups_refresh(wait=True) >= REFRESH_BATCH:
            pass
        connection.close()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from django.db import connection

        from reports.rollups import REFRESH_BATCH, rollups_refresh, rollups_waiting

        try:
            while True:
                stopping = self._stop.wait(self.every)
                waiting, age = rollups_waiting()
                began = time.monotonic()
                while rollups_refresh(wait=True) >= REFRESH_BATCH:
                    pass
                took = time.monotonic() - began
                if waiting:
                    self.rounds.append({"waiting": waiting, "oldest_s": age or 0.0, "refresh_s": took})
                if stopping:  # a last round when told to stop: nothing the phase made is left out
                    break
        finally:
            connection.close()

    def figures(self) -> dict[str, Any]:
        lags = sorted(r["oldest_s"] + r["refresh_s"] for r in self.rounds)
        refreshes = sorted(r["refresh_s"] for r in self.rounds)
        if not lags:
            return {"rounds": 0}

        def p(values: list[float], q: float) -> float:
            return values[min(len(values) - 1, int(q / 100 * len(values)))]

        return {
            "rounds": len(lags),
            "every_s": self.every,
            "marks_per_round_max": max(int(r["waiting"]) for r in self.rounds),
            "lag_p50_s": p(lags, 50),
            "lag_p95_s": p(lags, 95),
            "lag_max_s": lags[-1],
            "refresh_p95_s": p(refreshes, 95),
        }


CHANNELS = ("voice", "sms", "whatsapp", "chat")
CALL_TYPES = ("child", "caller_about_child", "silent", "hang_up", "")


def contacts_load(settings_dict: Any, helpline_id: int, *, concurrency: int, seconds: float) -> Any:
    """New contacts as fast as `concurrency` connections write them (raw SQL, one per
    transaction, each marking its hour through the roll-ups' trigger), for `seconds`: the load the
    lag is measured under. A Result of the inserts."""
    from bench.load import Result
    from tests.processes import db_connect

    result = Result("contacts")
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(number: int) -> None:
        conn = db_connect(settings_dict, autocommit=True)
        latencies: list[float] = []
        try:
            with conn.cursor() as cursor:
                n = number
                while time.monotonic() < deadline:
                    began = time.monotonic()
                    cursor.execute(
                        "INSERT INTO cases_contact (helpline_id, channel, direction, call_type, summary, "
                        "started_at, created_at, language) "
                        "VALUES (%s, %s, 'inbound', %s, '', now(), now(), 'en')",
                        [helpline_id, CHANNELS[n % len(CHANNELS)], CALL_TYPES[n % len(CALL_TYPES)]],
                    )
                    latencies.append(time.monotonic() - began)
                    n += concurrency
        finally:
            conn.close()
            with lock:
                result.latencies.extend(latencies)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = seconds
    return result
