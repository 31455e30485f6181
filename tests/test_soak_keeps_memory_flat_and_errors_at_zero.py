"""The soak (`make soak`, bench/soak.py) in its short version: mixed traffic at 5x the largest
helpline's peak against its own database, gunicorn (2 workers), Celery worker and beat; every
request answered 2xx, every accepted webhook stored and threaded once, every referral accepted and
updated as answered, the audit chains intact, and the memory of every process within the bounds.

The short window (25 s) can only catch a gross leak; the memory check itself is shown to fail on
a process that grows, and the slope bound on a ten-minute series that creeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import environ
import pytest

from bench import soak
from tests.processes import ROOT, database_drop


def test_short_soak_keeps_memory_flat_and_errors_at_zero(tmp_path: Path) -> None:
    server = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the soak chooses its own
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.soak", "--short", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()  # its finally blocks do not run: its database is dropped below
        output, _ = process.communicate(timeout=30)
        pytest.fail(f"soak --short did not finish in 240 s:\n{output[-4000:]}")
    finally:
        database = f"lifeline_soak_{process.pid}"
        if database_drop(server, database):
            pytest.fail(f"the soak left its database {database} behind")
    print(f"\nsoak --short took {time.monotonic() - began:.0f} s\n{output[-3500:]}")

    results = list(tmp_path.glob("soak-*.json"))
    assert len(results) == 1, (results, output[-4000:])
    report = json.loads(results[0].read_text())
    assert report["failures"] == [], output[-4000:]
    assert process.returncode == 0 and report["ok"] is True, output[-4000:]
    assert report["database"] == {"name": database, "dropped": True}

    requests = report["requests"]
    for kind in soak.KINDS:
        figure = requests[kind]
        assert figure["total"] > 0, f"no {kind} request was sent"
        assert figure["errors"] == 0, (kind, figure["error_sample"])
    assert requests["all"]["error_rate"] == 0
    # Open loop at the stated rate: Poisson counts over 25 s stay well within 30 % of the target.
    assert requests["all"]["per_second"] >= 0.7 * requests["all"]["target_per_second"], requests["all"]
    assert report["config"]["target_per_second"] == soak.target_rates(soak.FACTOR)

    hooks = report["webhooks"]
    assert hooks["lost"] == 0 and hooks["duplicated"] == 0 and hooks["unexpected"] == 0, hooks
    assert hooks["events"] == hooks["messages"] == hooks["accepted"] > hooks["senders"] > 0, hooks
    assert hooks["cases"] == hooks["contacts"] == hooks["senders"], hooks
    refs = report["referrals"]
    assert refs["created"] > 0 and refs["accepted"] > 0 and refs["updates"] > 0, refs
    assert refs["lost"] == 0 and refs["duplicated"] == 0, refs
    assert report["audit"]["intact"] is True, report["audit"]["problems"]

    memory = report["memory"]
    labels = set(memory["processes"])
    assert {"web master", "celery worker", "celery beat"} <= labels, labels
    assert memory["web_workers_seen"] == 2 and memory["replaced"] == 0, labels
    assert report["bounds"]["growth_mb"] == soak.GROWTH_BOUND_MB
    for label, figure in memory["processes"].items():
        assert figure["samples"] >= 10, (label, figure["samples"])
        assert figure["growth_mb"] <= soak.GROWTH_BOUND_MB, (label, figure)
        assert figure["max_mb"] >= figure["start_mb"] > 0, (label, figure)


LEAKER = """
import sys, time
held = []
for _ in range(int(sys.argv[1])):
    held.append(bytearray(b"x" * (1 << 20)))  # a megabyte, touched, kept
    time.sleep(0.05)
time.sleep(60)
"""


def _sample(processes: dict[str, subprocess.Popen], seconds: float) -> dict[str, dict]:
    sampler = soak.RssSampler(lambda: {label: p.pid for label, p in processes.items()}, 0.1)
    began = time.monotonic()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    ended = time.monotonic()
    return {label: soak.rss_summary(points, began, ended) for label, points in sampler.series.items()}


def test_the_memory_check_fails_a_process_that_grows() -> None:
    """The sampler and the bounds of the soak against real processes: one keeps a megabyte every
    50 ms (40 MB in the window), one holds still."""
    processes = {
        "leaking": subprocess.Popen([sys.executable, "-c", LEAKER, "40"]),
        "flat": subprocess.Popen([sys.executable, "-c", LEAKER, "0"]),
    }
    try:
        time.sleep(0.5)  # both interpreters started
        summaries = _sample(processes, 3.0)
    finally:
        for p in processes.values():
            p.kill()
            p.wait(10)
    assert summaries["leaking"]["growth_mb"] > soak.GROWTH_BOUND_MB, summaries["leaking"]
    assert soak.rss_failures("leaking", summaries["leaking"]), summaries["leaking"]
    assert abs(summaries["flat"]["growth_mb"]) < 1, summaries["flat"]
    assert soak.rss_failures("flat", summaries["flat"]) == [], summaries["flat"]


def _series(minutes: float, mb_per_min: float, every: float = 5.0) -> list[tuple[float, float]]:
    """A process of 120 MB sampled every `every` s, with +-1.5 MB of saw-tooth noise (arenas
    taken and given back) on a trend of `mb_per_min`."""
    steps = int(minutes * 60 / every) + 1
    noise = [0.0, 1.5, -0.5, 1.0, -1.5, 0.5, -1.0]
    return [(i * every, 120 + mb_per_min * i * every / 60 + noise[i % len(noise)]) for i in range(steps)]


def test_the_slope_bound_catches_a_slow_leak_over_ten_minutes_only() -> None:
    flat = soak.rss_summary(_series(10, 0.0), 0, 600)
    assert soak.rss_failures("flat", flat) == [], flat
    # 0.8 MB/min: 8 MB in ten minutes, under the growth bound; the slope bound catches it.
    creeping = soak.rss_summary(_series(10, 0.8), 0, 600)
    assert creeping["growth_mb"] < soak.GROWTH_BOUND_MB, creeping
    failures = soak.rss_failures("creeping", creeping)
    assert len(failures) == 1 and "slope" in failures[0], failures
    # In the short version's 25 s the same creep is neither judged by slope nor large enough.
    short = soak.rss_summary(_series(25 / 60, 0.8, every=1.0), 0, 25)
    assert soak.rss_failures("short", short) == [], short


def _passing_report() -> dict:
    requests = {kind: {"label": label, "errors": 0, "error_sample": []} for kind, label in soak.KINDS.items()}
    requests["all"] = {"label": "all", "errors": 0, "max_lag_ms": 10.0}
    flat = soak.rss_summary(_series(10, 0.0), 0, 600)
    return {
        "requests": requests,
        "webhooks": {"lost": 0, "duplicated": 0, "unexpected": 0, "lost_detail": {}, "duplicated_detail": {}},
        "referrals": {"lost": 0, "duplicated": 0, "lost_detail": {}, "duplicated_detail": {}},
        "audit": {"intact": True, "problems": ""},
        "memory": {"replaced": 0, "processes": {"celery worker": {**flat, "failures": []}}},
    }


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        (("requests", "agency_accept", "errors"), 1, "accept a referral: 1 errors"),
        (("requests", "all", "max_lag_ms"), 6000.0, "fell behind"),
        (("webhooks", "lost"), 1, "webhooks"),
        (("webhooks", "duplicated"), 1, "webhooks"),
        (("webhooks", "unexpected"), 1, "webhooks"),
        (("referrals", "lost"), 1, "referrals"),
        (("audit", "intact"), False, "audit chain broken"),
        (("memory", "replaced"), 1, "replaced"),
        (("memory", "processes", "celery worker", "failures"), ["celery worker: RSS grew"], "RSS grew"),
    ],
)
def test_the_soak_fails_on_any_error_loss_broken_chain_or_growth(
    path: tuple, value: object, says: str
) -> None:
    report = _passing_report()
    assert soak.verdict(report) == []
    target = report
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    failures = soak.verdict(report)
    assert len(failures) == 1 and says in failures[0], failures
