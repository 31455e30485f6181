"""`make bench`: what this machine does, in one table, measured in one run against a database of
its own.

    python -m bench.run [--seconds 60] [--cases 1000000] [--contacts-per-case 10] [--smoke] [--keep]

DATABASE_URL names the PostgreSQL server (`make bench` starts the embedded one when it is unset);
the bench creates `lifeline_bench_<pid>` there, migrates it, fills it with `manage.py seed_scale`
and drops it at the end (unless --keep), so no other database is ever touched. It starts its own
redis-server, gunicorn (bench.settings: the application plus a bare view) and Celery worker(s) on
spare ports (tests.processes), and stops them all.

  (1) ceiling      the writes of one SMS ingest as raw SQL (prepared statements), one transaction
                   each, from the load generator's concurrency: transactions/s
  (2) floor        the bare 204 Django view under the same gunicorn: requests/s
  (3) ingest       signed Twilio SMS webhooks for --seconds: accepted/s, latency, and afterwards
                   every accepted message checked in the database (0 lost, 0 duplicated)
  (4) end-to-end   messages/s threaded into cases by the worker(s), first webhook -> last Message
  (5) reads        latency of the staff's common reads on the seeded database, with the EXPLAIN
                   (ANALYZE, BUFFERS) of each one's main query in <results>/<run>/explain/
  (6) audit        verify_audit: entries/s re-computed over the whole chain

Every throughput is also given as a ratio to (1) and (2) of the same run. The load comes from
threads of this process on the same machine: the client's CPU is part of what is measured. The
table is printed and, with the machine's facts, written to <results>/<UTC date-time>.json."""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import signal
import subprocess  # nosec B404  # runs manage.py with our own interpreter
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ceiling, profiles, rollup_lag
from bench import console as console_bench
from bench import exports as exports_bench
from bench import reads as read_bench
from bench.load import OUR_NUMBER, SENDERS, Result, bare_request, load, message_sid, webhook_request
from tests.processes import (
    ROOT,
    Stack,
    database_create,
    database_drop,
    database_url,
    server_version,
)

RESULTS = ROOT / "bench" / "results"
LABEL_WIDTH = 48

ROW_LABELS = {
    "ceiling": "(1) ceiling: raw SQL ingest transactions",
    "floor": "(2) floor: bare Django view, 204",
    "ingest": "(3) ingest: signed SMS webhooks accepted",
    "end_to_end": "(4) end-to-end: threaded into cases",
    "reads": "(5) reads: ",
    "audit": "(6) audit: verify_audit entries",
}


# --- the run ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="length of phases 1-3 (default 60; smoke 2)")
    parser.add_argument("--cases", type=int, help="cases to seed (default 1,000,000; smoke 200)")
    parser.add_argument(
        "--contacts-per-case", type=float, help="contacts per seeded case (default 10; smoke 2)"
    )
    parser.add_argument(
        "--concurrency", type=int, help="client threads and SQL connections (default 8; smoke 4)"
    )
    parser.add_argument("--repeats", type=int, help="requests per read (default 100; smoke 5)")
    parser.add_argument("--web-workers", type=int, default=1, help="gunicorn worker processes (default 1)")
    parser.add_argument(
        "--web-threads", type=int, default=1, help="threads per gunicorn worker (default 1: sync workers)"
    )
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes (default 1)")
    parser.add_argument("--smoke", action="store_true", help="seconds and tiny data: does the harness work?")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument(
        "--database",
        help="an existing bench database to run on (seeded earlier, e.g. with --keep): not seeded, "
        "not dropped",
    )
    parser.add_argument(
        "--profile-seconds",
        type=float,
        help="py-spy sampling of the web and worker processes under ingest and read load after the "
        "measured phases (default 20; smoke 0: none)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    defaults = (
        {
            "seconds": 2.0,
            "cases": 200,
            "contacts_per_case": 2,
            "concurrency": 4,
            "repeats": 5,
            "profile_seconds": 0.0,
        }
        if args.smoke
        else {
            "seconds": 60.0,
            "cases": 1_000_000,
            "contacts_per_case": 10,
            "concurrency": 8,
            "repeats": 100,
            "profile_seconds": 20.0,
        }
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        print("set DATABASE_URL (its server gets a throwaway database), or run `make bench`", file=sys.stderr)
        return 2
    import environ

    server = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    settings_dict = {**server, "NAME": args.database or f"lifeline_bench_{os.getpid()}"}
    started = datetime.now(UTC)
    run_id = started.strftime("%Y-%m-%dT%H-%M-%SZ")
    run_dir = args.results_dir / run_id
    report: dict[str, Any] = {
        "run": run_id,
        "started_at": started.isoformat(),
        "command": ["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)],
        "config": {
            "seconds": args.seconds,
            "cases": args.cases,
            "contacts_per_case": args.contacts_per_case,
            "concurrency": args.concurrency,
            "repeats": args.repeats,
            "web_workers": args.web_workers,
            "web_threads": args.web_threads,
            "workers": args.workers,
            "smoke": args.smoke,
            "profile_seconds": args.profile_seconds,
            "database_given": bool(args.database),
        },
        "machine": machine_facts(),
        "database": {"name": settings_dict["NAME"], "dropped": False},
        "seed": {},
        "results": {},
        "explain_dir": str(run_dir / "explain"),
        "ok": False,
    }
    print(f"bench {run_id}: database {settings_dict['NAME']}, results in {args.results_dir}", flush=True)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: processes stopped, database dropped.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        report["machine"]["postgres"] = server_version(server)
        if not args.database:
            database_create(server, settings_dict["NAME"])
        with tempfile.TemporaryDirectory(prefix="lifeline-bench-") as work_dir:
            run(args, settings_dict, Path(work_dir), run_dir, report)
        report["ok"] = True
    except BaseException as exc:
        report["error"] = "".join(traceback.format_exception_only(exc)).strip()
        traceback.print_exc()
    finally:
        try:
            _close_django_connections()
            if args.keep or args.database:
                print(f"kept database {settings_dict['NAME']}")
            else:
                database_drop(server, settings_dict["NAME"])
                report["database"]["dropped"] = True
        finally:
            report["machine"]["load_average_after"] = list(os.getloadavg())
            report["finished_at"] = datetime.now(UTC).isoformat()
            add_ratios(report["results"])  # of what was measured, also when a later phase failed
            report["table"] = table(report)
            args.results_dir.mkdir(parents=True, exist_ok=True)
            path = args.results_dir / f"{run_id}.json"
            path.write_text(json.dumps(report, indent=2, default=str) + "\n")
            print()
            print(describe(report))
            print(report["table"])
            for name, summary in (report.get("profiles") or {}).items():
                print("\n".join(profiles.describe(summary.get("label", name), summary)))
            print(f"\nwritten: {path}")
    return 0 if report["ok"] else 1


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def machine_facts() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "load_average_before": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def run(
    args: argparse.Namespace,
    settings_dict: dict[str, Any],
    work_dir: Path,
    run_dir: Path,
    report: dict[str, Any],
) -> None:
    results = report["results"]
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url(settings_dict, application_name="lifeline-bench"),
            "PYTHONPATH": str(ROOT),
        }
    )
    with Stack(settings_dict=settings_dict, directory=work_dir, settings_module="bench.settings") as stack:
        # Our own Redis from the start: not even this process's settings point at a shared one.
        env["REDIS_URL"] = stack.redis().url
        step("migrating", lambda: manage(env, "migrate", "--noinput", "-v", "0", timeout=900))
        report["seed"] = (
            {
                "command": f"existing database {args.database}",
                "cases": "-",
                "contacts_per_case": "-",
                "seconds": 0,
            }
            if args.database
            else step("seeding", lambda: seed(env, args))
        )
        # The servers start while this process adds the bench's own helplines.
        web = stack.gunicorn(workers=args.web_workers, threads=args.web_threads, wait=False)
        workers = [stack.worker(wait=False) for _ in range(args.workers)]

        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
        import django

        django.setup()
        from channels_sms.models import PhoneNumber
        from helpline.models import Helpline

        # get_or_create: a --database run finds them from the last run.
        bench_helpline, _ = Helpline.objects.get_or_create(
            code="BENCHINGEST", defaults={"name": "Bench ingest", "country": "KE"}
        )
        PhoneNumber.objects.get_or_create(helpline=bench_helpline, channel="sms", number=OUR_NUMBER)
        ceiling_helpline, _ = Helpline.objects.get_or_create(
            code="BENCHCEILING", defaults={"name": "Bench ceiling", "country": "KE"}
        )
        _close_django_connections()
        for process in [web, *workers]:
            process.wait_ready()
        # Message ids and senders of this run only, so a run on a --database used before meets no
        # earlier message (a replay) and no earlier sender (an open case).
        tag = run_tag()
        ingest_prefix, warm_prefix = f"I{tag}", f"W{tag}"
        senders_base = int(tag, 36) % 400_000 * 200
        # Warm up (imports, first connections) before anything is timed; the warm-up messages come
        # from other senders than the measured ones and are threaded before the phases start.
        load("warm-up", web.url, bare_request, concurrency=2, total=40)
        warm = load(
            "warm-up",
            web.url,
            webhook_request(web.url, warm_prefix, senders_base=senders_base + SENDERS),
            concurrency=2,
            total=40,
        )
        wait_threaded(warm_prefix, len(warm.accepted), check=lambda: [w.check_alive() for w in workers])

        ceiling_result = step(
            "(1) ceiling",
            lambda: ceiling.measure(
                settings_dict,
                ceiling_helpline.pk,
                concurrency=args.concurrency,
                seconds=args.seconds,
                prefix=f"C{tag}",
            ),
        )
        results["ceiling"] = throughput(ceiling_result, unit="transactions")
        bare = step(
            "(2) floor",
            lambda: load("bare", web.url, bare_request, concurrency=args.concurrency, seconds=args.seconds),
        )
        results["floor"] = throughput(bare, unit="requests")

        first_webhook = datetime.now(UTC)
        accepted = step(
            "(3) ingest",
            lambda: load(
                "ingest",
                web.url,
                webhook_request(web.url, ingest_prefix, senders_base=senders_base),
                concurrency=args.concurrency,
                seconds=args.seconds,
            ),
        )
        last_webhook = datetime.now(UTC)
        results["ingest"] = throughput(accepted, unit="webhooks")
        step(
            "(4) waiting for the worker to thread them",
            lambda: wait_threaded(
                ingest_prefix, len(accepted.accepted), check=lambda: [w.check_alive() for w in workers]
            ),
        )
        results["ingest"]["integrity"] = integrity(ingest_prefix, accepted.accepted)
        results["end_to_end"] = end_to_end(ingest_prefix, first_webhook, last_webhook)
        # The reports' roll-ups kept up to date as beat does, while new contacts arrive as fast as
        # raw SQL writes them (bench/rollup_lag.py).
        with rollup_lag.Sweeper(float(env.get("ROLLUP_SWEEP_SECONDS", "2"))) as sweeper:
            created = step(
                "(4b) roll-up lag",
                lambda: rollup_lag.contacts_load(
                    settings_dict,
                    ceiling_helpline.pk,
                    concurrency=args.concurrency,
                    seconds=min(args.seconds, 20.0),
                ),
            )
        results["rollup_lag"] = {
            **sweeper.figures(),
            "contacts_per_second": throughput(created, unit="x")["per_second"],
        }

        results["exports"] = step("(4c) exports against COPY", exports_bench.measure)
        _close_django_connections()

        bench_helplines = (bench_helpline.pk, ceiling_helpline.pk)
        results["reads"] = step(
            "(5) reads", lambda: reads(web.url, args.repeats, run_dir / "explain", bench_helplines)
        )
        results["console_throttled"] = step(
            "(5) the console's queue on a slow connection",
            lambda: console_bench.throttled(web.url, bench_helplines, runs=2 if args.smoke else 5),
        )
        results["audit"] = step("(6) audit", verify_audit)
        _close_django_connections()
        if args.profile_seconds:
            report["profiles"] = step(
                "(7) profiles",
                lambda: profile(
                    args,
                    web,
                    workers,
                    webhook_request(web.url, f"P{tag}", senders_base=senders_base + 2 * SENDERS),
                    run_dir / "profiles",
                    bench_helplines,
                ),
            )


def run_tag() -> str:
    """Six base-36 characters from the clock: distinct for runs a second or more apart."""
    n, digits = int(time.time()), ""
    for _ in range(6):
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
    return digits


def step(name: str, action: Any) -> Any:
    print(f"{name} ...", flush=True)
    began = time.monotonic()
    value = action()
    print(f"{name}: {time.monotonic() - began:.1f}s", flush=True)
    return value


def manage(env: dict[str, str], *argv: str, timeout: float) -> None:
    subprocess.run(  # nosec B603  # our interpreter, manage.py, our argv
        [sys.executable, str(ROOT / "manage.py"), *argv], env=env, cwd=ROOT, check=True, timeout=timeout
    )


# --- seeding ---------------------------------------------------------------------------------------


def seed(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """`manage.py seed_scale --cases N --contacts-per-case K` on the empty, migrated database."""
    began = time.monotonic()
    # A bound that still lets a million cases in on a slow machine.
    timeout = max(600.0, args.cases * args.contacts_per_case * 0.002)
    manage(
        env,
        "seed_scale",
        "--cases",
        str(args.cases),
        "--contacts-per-case",
        f"{args.contacts_per_case:g}",
        timeout=timeout,
    )
    return {
        "command": "seed_scale",
        "cases": args.cases,
        "contacts_per_case": args.contacts_per_case,
        "seconds": time.monotonic() - began,
    }


# --- checks and figures ----------------------------------------------------------------------------


def _sids(prefix: str) -> Any:
    from channels_sms.models import Message

    return Message.objects.filter(external_id__startswith=f"SM{prefix}", direction="inbound")


def wait_threaded(prefix: str, expected: int, *, check: Any, stall: float = 60.0, cap: float = 3600.0) -> int:
    """Waits until `expected` messages of the prefix are threaded; gives up after `stall` seconds
    without progress or `cap` seconds in all."""
    from tests.processes import HarnessError

    began = last_progress = time.monotonic()
    seen = -1
    while True:
        check()
        count = _sids(prefix).count()
        if count >= expected:
            return count
        now = time.monotonic()
        if count != seen:
            seen, last_progress = count, now
        if now - last_progress > stall or now - began > cap:
            raise HarnessError(f"{count} of {expected} messages threaded; no progress for {stall:.0f}s")
        time.sleep(0.2)


def integrity(prefix: str, accepted: list[int]) -> dict[str, Any]:
    """Every accepted webhook against the database: one event, one message, one case and one
    conversation contact per sender."""
    from django.db.models import Count

    from channels_sms.models import EventKind, InboundEvent

    wanted = {message_sid(prefix, n) for n in accepted}
    events = InboundEvent.objects.filter(kind=EventKind.MESSAGE, external_id__startswith=f"SM{prefix}")
    event_sids = list(events.values_list("external_id", flat=True))
    messages = _sids(prefix)
    message_sids = list(messages.values_list("external_id", flat=True))
    per_sender = list(
        messages.values("sender_hash").annotate(
            cases=Count("case_id", distinct=True), contacts=Count("contact_id", distinct=True)
        )
    )
    senders = len({n % SENDERS for n in accepted})
    duplicated = {
        "events": len(event_sids) - len(set(event_sids)),
        "messages": len(message_sids) - len(set(message_sids)),
        "cases": sum(row["cases"] - 1 for row in per_sender),
        "contacts": sum(row["contacts"] - 1 for row in per_sender),
    }
    lost = {
        "events": len(wanted - set(event_sids)),
        "messages": len(wanted - set(message_sids)),
        "unprocessed": events.filter(processed_at__isnull=True).count(),
    }
    return {
        "accepted": len(wanted),
        "events": len(event_sids),
        "messages": len(message_sids),
        "cases": messages.values("case_id").distinct().count(),
        "contacts": messages.values("contact_id").distinct().count(),
        "senders": senders,
        "lost": sum(lost.values()),
        "duplicated": sum(duplicated.values()),
        "lost_detail": lost,
        "duplicated_detail": duplicated,
        "unexpected": len(set(event_sids) - wanted),  # stored but answered with an error
    }


def end_to_end(prefix: str, first_webhook: datetime, last_webhook: datetime) -> dict[str, Any]:
    from django.db.models import Max

    messages = _sids(prefix)
    count = messages.count()
    last = messages.aggregate(last=Max("created_at"))["last"]
    seconds = (last - first_webhook).total_seconds() if last else 0.0
    return {
        "count": count,
        "seconds": seconds,
        "per_second": count / seconds if seconds else 0.0,
        "unit": "messages",
        "drain_seconds_after_last_webhook": (last - last_webhook).total_seconds() if last else None,
    }


def throughput(result: Result, *, unit: str) -> dict[str, Any]:
    return {
        "count": result.count,
        "seconds": result.seconds,
        "per_second": result.per_second,
        "unit": unit,
        "p50_ms": result.percentile(50) * 1000,
        "p95_ms": result.percentile(95) * 1000,
        "p99_ms": result.percentile(99) * 1000,
        "errors": result.errors,
        "error_sample": result.error_sample,
    }


def reads(base_url: str, repeats: int, explain_dir: Path, exclude: tuple[int, ...]) -> dict[str, Any]:
    who = read_bench.subjects(exclude)
    keys = read_bench.tokens(who)
    figures: dict[str, Any] = {}
    for read in read_bench.reads(who):
        result = read_bench.measure(base_url, read, keys[read.role], repeats=repeats)
        main_sql = read_bench.explain(read, keys[read.role], explain_dir)
        figures[read.key] = {
            "label": read.label,
            "role": read.role,
            "path": read.path,
            **throughput(result, unit="requests (one at a time)"),
            "explain": str(explain_dir / f"{read.key}.txt"),
            "main_sql": main_sql,
        }
    _close_django_connections()
    return figures


def profile(
    args: argparse.Namespace,
    web: Any,
    workers: list[Any],
    make_webhook: Any,
    directory: Path,
    exclude: tuple[int, ...],
) -> dict[str, Any]:
    """py-spy on gunicorn (and its workers) and the Celery worker(s) while webhooks arrive for
    --profile-seconds; then on gunicorn while each read repeats for a quarter of that."""
    if not profiles.available():
        return {"error": "py-spy is not installed"}
    seconds = args.profile_seconds
    recorders = {
        "web_ingest": profiles.start(web.pid, seconds, directory / "web_ingest.txt", subprocesses=True)
    }
    for i, worker in enumerate(workers):
        recorders[f"worker_ingest_{i}"] = profiles.start(
            worker.pid, seconds, directory / f"worker_ingest_{i}.txt"
        )
    time.sleep(0.5)  # py-spy attaches
    load("profile", web.url, make_webhook, concurrency=args.concurrency, seconds=seconds)
    found: dict[str, Any] = {}
    for name, recorder in recorders.items():
        error = profiles.finish(recorder)
        found[name] = {"error": error} if error else profiles.summarise(directory / f"{name}.txt")

    who = read_bench.subjects(exclude)
    keys = read_bench.tokens(who)
    per_read = max(1.0, seconds / 4)
    for read in read_bench.reads(who):
        name = f"web_read_{read.key}"
        recorder = profiles.start(web.pid, per_read, directory / f"{name}.txt", subprocesses=True)
        time.sleep(0.5)
        read_bench.repeat_for(web.url, read, keys[read.role], seconds=per_read)
        error = profiles.finish(recorder)
        found[name] = {"error": error} if error else profiles.summarise(directory / f"{name}.txt")
        found[name]["label"] = read.label
    _close_django_connections()
    return found


def verify_audit() -> dict[str, Any]:
    """`manage.py verify_audit` in this process (no start-up in the time): entries/s."""
    from django.core.management import call_command

    from helpline.models import AuditEntry

    out, err = io.StringIO(), io.StringIO()
    began = time.monotonic()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
        intact = True
    except SystemExit:
        intact = False
    seconds = time.monotonic() - began
    entries = sum(
        int(line.split(": ")[1].split()[0]) for line in out.getvalue().splitlines() if "entries" in line
    )
    return {
        "count": entries,
        "seconds": seconds,
        "per_second": entries / seconds if seconds else 0.0,
        "unit": "entries",
        "intact": intact,
        "entries_in_table": AuditEntry.objects.count(),
        "problems": err.getvalue().strip(),
    }


def add_ratios(results: dict[str, Any]) -> None:
    ceiling_rate = (results.get("ceiling") or {}).get("per_second") or 0.0
    floor_rate = (results.get("floor") or {}).get("per_second") or 0.0
    figures = [results.get(k) for k in ("ceiling", "floor", "ingest", "end_to_end", "audit")]
    figures += list((results.get("reads") or {}).values())
    for figure in figures:
        if figure:
            rate = figure.get("per_second") or 0.0
            figure["x_ceiling"] = rate / ceiling_rate if ceiling_rate else None
            figure["x_floor"] = rate / floor_rate if floor_rate else None


# --- the table -------------------------------------------------------------------------------------


def describe(report: dict[str, Any]) -> str:
    config, machine = report["config"], report["machine"]
    seed_info = report.get("seed") or {}
    before = machine["load_average_before"][0]
    after = (machine.get("load_average_after") or [float("nan")])[0]
    return (
        f"{config['web_workers']} gunicorn worker(s) x {config.get('web_threads', 1)} thread(s), "
        f"{config['workers']} Celery worker(s) (solo), "
        f"client concurrency {config['concurrency']}, {config['seconds']:g}s phases; "
        f"{machine['cpu_count']} CPUs shared by client, server, workers, PostgreSQL "
        f"{machine.get('postgres', '?')} and Redis; load average {before:.2f} before, {after:.2f} after. "
        f"Seed: {seed_info.get('command', '-')} {seed_info.get('cases', '-')} cases x "
        f"{seed_info.get('contacts_per_case', '-')} contacts ({seed_info.get('seconds', 0):.0f}s)."
    )


def table(report: dict[str, Any]) -> str:
    results = report.get("results") or {}
    header = (
        f"{'measure':<{LABEL_WIDTH}}{'count':>8}{'secs':>7}{'per s':>9}{'x (1)':>8}{'x (2)':>8}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>7}"
    )
    lines = [header, "-" * len(header)]

    def row(label: str, figure: dict[str, Any] | None) -> None:
        if not figure:
            lines.append(f"{label:<{LABEL_WIDTH}}  (not measured)")
            return

        def ratio(name: str) -> str:
            value = figure.get(name)
            return f"{value:>8.3f}" if value is not None else f"{'':>8}"

        def ms(name: str) -> str:
            return f"{figure[name]:>8.1f}" if name in figure else f"{'':>8}"

        errors = f"{figure['errors']:>7}" if "errors" in figure else f"{'':>7}"
        lines.append(
            f"{label[:LABEL_WIDTH]:<{LABEL_WIDTH}}{figure['count']:>8}{figure['seconds']:>7.1f}"
            f"{figure['per_second']:>9.1f}{ratio('x_ceiling')}{ratio('x_floor')}"
            f"{ms('p50_ms')}{ms('p95_ms')}{ms('p99_ms')}{errors}"
        )

    row(ROW_LABELS["ceiling"], results.get("ceiling"))
    row(ROW_LABELS["floor"], results.get("floor"))
    row(ROW_LABELS["ingest"], results.get("ingest"))
    row(ROW_LABELS["end_to_end"], results.get("end_to_end"))
    if results.get("reads"):
        for figure in results["reads"].values():
            row(ROW_LABELS["reads"] + figure["label"], figure)
    else:
        row(ROW_LABELS["reads"] + "(all)", None)
    row(ROW_LABELS["audit"], results.get("audit"))
    check = (results.get("ingest") or {}).get("integrity")
    if check:
        lines.append(
            f"(3) afterwards: {check['accepted']} accepted -> {check['events']} events, {check['messages']} "
            f"messages, {check['contacts']} contacts, {check['cases']} cases ({check['senders']} senders); "
            f"lost {check['lost']}, duplicated {check['duplicated']}"
        )
    e2e = results.get("end_to_end")
    if e2e and e2e.get("drain_seconds_after_last_webhook") is not None:
        lines.append(
            f"(4) the last message was threaded {e2e['drain_seconds_after_last_webhook']:.1f}s "
            "after the last webhook"
        )
    lag = results.get("rollup_lag")
    if lag and lag.get("rounds"):
        lines.append(
            f"(4b) reports' roll-ups refreshed every {lag['every_s']:g}s while "
            f"{lag['contacts_per_second']:.0f} new contacts/s arrived: a change counted "
            f"{lag['lag_p50_s']:.1f}s after it was made at p50, {lag['lag_p95_s']:.1f}s at p95, "
            f"{lag['lag_max_s']:.1f}s at worst ({lag['rounds']} rounds, up to "
            f"{lag['marks_per_round_max']} marks, a refresh {lag['refresh_p95_s'] * 1000:.0f} ms at p95)"
        )
    exported = results.get("exports")
    if exported and exported.get("rows"):
        lines.append(
            f"(4c) {exported['rows']} contacts exported (pseudonymised CSV, encrypted) in "
            f"{exported['export_s']:.1f}s, COPY of the same rows {exported['copy_s']:.1f}s: "
            f"{exported['x_copy']:.2f} x COPY"
        )
        parquet = exported.get("parquet")
        if parquet and parquet.get("rows"):
            lines.append(
                f"(4c) a month as Parquet: {parquet['rows']} contacts in {parquet['export_s']:.1f}s, "
                f"{parquet['x_copy']:.2f} x COPY"
            )
    slow = results.get("console_throttled")
    if slow and not slow.get("error"):
        profile = slow["profile"]
        lines.append(
            f"(5) the console's queue page, cold, at {profile['latency_ms']} ms and "
            f"{profile['down_kbit']} kbit/s: loaded in {slow['load_ms_median']:.0f} ms (median of "
            f"{slow['runs']}, worst {slow['load_ms_max']:.0f}), usable after "
            f"{slow['dom_ready_ms_median']:.0f} ms, {slow['transferred_bytes'] / 1024:.0f} KiB"
        )
    elif slow:
        lines.append(f"(5) the console's queue page on a slow connection: not measured ({slow['error']})")
    audit = results.get("audit")
    if audit:
        lines.append(
            f"(6) chain {'intact' if audit['intact'] else 'BROKEN'}: {audit['count']} entries verified"
        )
    if report.get("error"):
        lines.append(f"FAILED: {report['error']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
