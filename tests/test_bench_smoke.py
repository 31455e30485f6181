"""`make bench` keeps working: `python -m bench.run --smoke` (seconds of load, a tiny seed) runs as
a subprocess against this test run's PostgreSQL server, prints its table with all six measures,
writes its JSON, finds every accepted webhook threaded once, profiles the processes with py-spy,
and drops its database. No figure is asserted: they are noise at this size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest

from tests.processes import ROOT, database_drop

ROWS = [
    "(1) ceiling",
    "(2) floor",
    "(3) ingest",
    "(4b) reports' roll-ups",
    "(4c) ",
    "(4) end-to-end",
    "(5) reads",
    "(6) audit",
]
READS = [
    "queue",
    "queue_urgency",
    "follow_up_due",
    "case_list",
    "case_detail",
    "case_history",
    "referrals_agency",
    "audit_case",
    "audit_actor",
    "search_reference",
    "search_phone",
    "search_name",
    "report_year",
    "report_chi",
    "console_queue",
    "console_case",
]


def test_bench_smoke_run_measures_everything_and_cleans_up(tmp_path: Path) -> None:
    server = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the bench chooses its own
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--smoke",
            "--profile-seconds",
            "2",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()  # its finally blocks do not run: drop what it left behind below
        output, _ = process.communicate(timeout=30)
        pytest.fail(f"bench --smoke did not finish in 180 s:\n{output[-4000:]}")
    finally:
        database = f"lifeline_bench_{process.pid}"
        if database_drop(server, database):
            pytest.fail(f"the bench left its database {database} behind")

    assert process.returncode == 0, output[-4000:]
    table_lines = [line for line in output.splitlines() if line.startswith("(")]
    for row in ROWS:
        assert any(line.startswith(row) for line in table_lines), f"no {row} row in:\n{output[-4000:]}"
    assert "lost 0, duplicated 0" in output

    results = list(tmp_path.glob("*.json"))
    assert len(results) == 1, results
    report = json.loads(results[0].read_text())
    assert report["ok"] is True
    assert report["database"] == {"name": database, "dropped": True}
    assert {"cpu_count", "load_average_before", "load_average_after"} <= set(report["machine"])
    figures = report["results"]
    assert set(figures) == {
        "ceiling",
        "floor",
        "ingest",
        "end_to_end",
        "rollup_lag",
        "exports",
        "reads",
        "console_throttled",
        "audit",
    }
    lag = figures["rollup_lag"]
    assert lag["rounds"] >= 1 and 0 <= lag["lag_p50_s"] <= lag["lag_max_s"], lag
    assert lag["contacts_per_second"] > 0, lag
    exported = figures["exports"]
    assert exported["rows"] > 0 and exported["copy_bytes"] > 0 and exported["file_bytes"] > 0, exported
    assert exported["x_copy"] > 0 and exported["parquet"]["rows"] > 0, exported
    slow = figures["console_throttled"]
    assert slow.get("error") is None, slow
    assert slow["load_ms_median"] > slow["profile"]["latency_ms"] and slow["transferred_bytes"] > 0
    for name in ("ceiling", "floor", "ingest", "end_to_end", "audit"):
        assert figures[name]["count"] > 0, name
        assert {"per_second", "x_ceiling", "x_floor"} <= set(figures[name]), name
    for name in ("ceiling", "floor", "ingest"):
        assert figures[name]["errors"] == 0, (name, figures[name]["error_sample"])
    integrity = figures["ingest"]["integrity"]
    assert integrity["lost"] == 0 and integrity["duplicated"] == 0, integrity
    assert integrity["events"] == integrity["messages"] == integrity["accepted"] > 0
    assert integrity["cases"] == integrity["contacts"] == integrity["senders"]
    assert set(figures["reads"]) == set(READS)
    for name, read in figures["reads"].items():
        assert read["count"] > 0 and read["errors"] == 0, (name, read["error_sample"])
        explain = Path(read["explain"]).read_text()
        assert "Execution Time" in explain, (name, explain[:2000])
    assert figures["audit"]["intact"] is True, figures["audit"]["problems"]
    # Profiles: py-spy may be refused the right to read other processes on some machines; then
    # each profile says so instead of a summary, and the run still succeeds.
    expected = {"web_ingest", "worker_ingest_0", *(f"web_read_{name}" for name in READS)}
    assert set(report["profiles"]) == expected, report.get("profiles")
    for name, summary in report["profiles"].items():
        if "error" in summary:
            assert summary["error"], name
        else:
            assert summary["samples"] > 0 and "buckets_percent_of_busy" in summary, (name, summary)
