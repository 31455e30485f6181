"""Where the time goes: py-spy samples the bench's own gunicorn and Celery worker processes while a
short load runs against them, and each profile is summarised as shares of the busy samples.

py-spy reads the processes' memory from outside (`--nonblocking`: they are not paused), with idle
threads included, so waiting on PostgreSQL or Redis is counted where it happens. A sample is
*busy* when it is inside a request (gunicorn's `handle_request`) or a task (Celery's
`trace_task`); the rest is the process waiting for work. Busy samples are put in one bucket by their
innermost frame's package (the database driver, the ORM, DRF, ...), and counted against the
innermost function of our own apps on their stack."""

from __future__ import annotations

import shutil
import subprocess  # nosec B404  # starts py-spy
import sys
from collections import Counter
from pathlib import Path
from typing import Any

OUR_APPS = ("cases/", "channels_sms/", "helpline/", "referrals/", "config/")
BUSY_MARKERS = ("handle_request (gunicorn", "trace_task (celery", "fast_trace_task (celery")

# Innermost frame -> bucket, first match wins. File paths as py-spy prints them.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PostgreSQL round trips (driver execute/fetch/commit)", ("django/db/backends/", "psycopg2/")),
    ("Django ORM (SQL compilation, model instances)", ("django/db/models/", "django/db/transaction")),
    ("Redis (broker publish, cache, throttles)", ("redis/", "kombu/")),
    ("field encryption (cryptography)", ("cryptography/", "helpline/crypto", "helpline/fields")),
    ("Twilio signature check", ("twilio/",)),
    ("DRF views, serializers, rendering", ("rest_framework/", "drf_spectacular/")),
    ("django-fsm transitions", ("django_fsm/",)),
    ("Celery/kombu task machinery", ("celery/", "billiard/", "vine/")),
    ("Django request handling, middleware", ("django/",)),
    ("gunicorn HTTP parsing, sockets", ("gunicorn/",)),
    ("our code (cases, helpline, channels_sms, referrals)", OUR_APPS),
    ("Python standard library", ("/lib/python3",)),
)


def _py_spy() -> str | None:
    """py-spy of this virtualenv (the `dev` extra), else one on PATH."""
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def available() -> bool:
    return _py_spy() is not None


def start(
    pid: int, seconds: float, output: Path, *, subprocesses: bool = False, rate: int = 200
) -> subprocess.Popen:
    """Starts `py-spy record` on a process (and its children) for `seconds`, collapsed stacks to
    `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        _py_spy() or "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--idle",
        "--nonblocking",
        "--output",
        str(output),
    ]
    if subprocesses:
        argv.append("--subprocesses")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # nosec B603


def finish(process: subprocess.Popen, timeout: float = 60.0) -> str:
    """Waits for py-spy; its complaints, if it failed."""
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return "" if process.returncode == 0 else (err or f"py-spy exited {process.returncode}").strip()[-500:]


def _samples(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


def _bucket(frame: str) -> str:
    for name, markers in BUCKETS:
        if any(marker in frame for marker in markers):
            return name
    return "other (C extensions, interpreter)"


def _is_ours(frame: str) -> bool:
    """A frame of our apps' code: py-spy prints `function (path:line)`, the path relative to the
    process's directory for our code and under site-packages for libraries."""
    path = frame.partition(" (")[2]
    return "site-packages" not in path and path.startswith(OUR_APPS)


def _name(frame: str) -> str:
    function, _, where = frame.partition(" (")
    return f"{function} ({where.split(':')[0]})"


def summarise(path: Path, *, top: int = 12) -> dict[str, Any]:
    """Shares of busy samples: by bucket (the innermost frame's package), and by the innermost
    function of our own code on the stack (what of ours the time is spent under, libraries
    included; the middleware and views around everything are not what it names)."""
    busy = 0
    per_process: Counter[str] = Counter()
    busy_processes: set[str] = set()
    buckets: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    for frames, count in _samples(path):
        # With --subprocesses a worker's stacks start "process <master>;process <worker>;...".
        process = [frame for frame in frames if frame.startswith("process ")][-1:] or ["?"]
        per_process[process[0]] += count
        if not any(marker in frame for frame in frames for marker in BUSY_MARKERS):
            continue
        busy_processes.add(process[0])
        busy += count
        # py-spy prints the process and thread first and the innermost frame last.
        buckets[_bucket(frames[-1])] += count
        innermost = next((frame for frame in reversed(frames) if _is_ours(frame)), None)
        ours[_name(innermost) if innermost else "(outside our code)"] += count
    # Of the processes that served anything (not gunicorn's master, which only watches).
    total = sum(n for process, n in per_process.items() if process in busy_processes)
    share = (lambda n: round(100.0 * n / busy, 1)) if busy else (lambda n: 0.0)
    return {
        "profile": str(path),
        "samples": total,
        "busy_samples": busy,
        "busy_percent": round(100.0 * busy / total, 1) if total else 0.0,
        "buckets_percent_of_busy": {name: share(n) for name, n in buckets.most_common()},
        "our_innermost_percent_of_busy": {name: share(n) for name, n in ours.most_common(top)},
    }


def describe(name: str, summary: dict[str, Any], *, buckets: int = 5, functions: int = 6) -> list[str]:
    if summary.get("error"):
        return [f"{name}: no profile ({summary['error']})"]
    lines = [
        f"{name}: busy in {summary['busy_percent']:.0f}% of {summary['samples']} samples of the serving "
        "processes; of the busy ones:"
    ]
    for bucket, percent in list(summary["buckets_percent_of_busy"].items())[:buckets]:
        lines.append(f"    {percent:5.1f}%  {bucket}")
    lines.append("  under our function (the innermost of ours on the stack):")
    for function, percent in list(summary["our_innermost_percent_of_busy"].items())[:functions]:
        lines.append(f"    {percent:5.1f}%  {function}")
    return lines
