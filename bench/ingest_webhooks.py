"""How fast one gunicorn worker takes inbound SMS, and one Celery worker threads them.

    DATABASE_URL=postgres://... python -m bench.ingest_webhooks [--seconds 8] [--concurrency 8]

Creates a throwaway database (lifeline_bench_<pid>) on DATABASE_URL's server, migrates it, starts
its own Redis, gunicorn (1 sync worker, bench.settings) and later one Celery worker (tests.processes),
and measures, each against a bare Django view answering 204 on the same server:

  (i)   bare view requests/s;
  (ii)  signed SMS webhooks accepted/s (signature computed per request), p50/p95/p99 latency;
  (iii) end-to-end messages/s threaded into cases by one worker, first webhook -> last Message row.

The load comes from threads of this process (http.client), on the same machine: on a small
machine the client's CPU is part of what is measured. Everything it started is stopped and the
database dropped at the end. `python -m bench.run` measures all of this and more in one table."""

from __future__ import annotations

import argparse
import os
import subprocess  # nosec B404  # runs manage.py with our own interpreter
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import environ

from bench.load import OUR_NUMBER, Result, bare_request, load, webhook_request
from tests.processes import ROOT, Stack, database_create, database_drop, database_url, wait_until


def migrate(env: dict[str, str]) -> None:
    subprocess.run(  # nosec B603  # argv: our interpreter, manage.py, constants
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=600,
    )


def table(rows: list[Result], bare: Result, threaded: tuple[int, float]) -> str:
    lines = [
        f"{'measure':<34}{'count':>7}{'secs':>7}{'per s':>9}{'x bare':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'errors':>7}"
    ]
    for row in rows:
        lines.append(
            f"{row.name:<34}{row.count:>7}{row.seconds:>7.1f}{row.per_second:>9.1f}"
            f"{row.per_second / bare.per_second:>8.3f}{row.percentile(50) * 1000:>8.1f}"
            f"{row.percentile(95) * 1000:>8.1f}{row.percentile(99) * 1000:>8.1f}{row.errors:>7}"
        )
    count, seconds = threaded
    rate = count / seconds if seconds else 0.0
    lines.append(
        f"{'(iii) threaded into cases, 1 worker':<34}{count:>7}{seconds:>7.1f}{rate:>9.1f}"
        f"{rate / bare.per_second:>8.3f}{'':>8}{'':>8}{'':>8}{'':>7}"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace, settings_dict: dict[str, Any], work_dir: Path) -> None:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url(settings_dict),
            "REDIS_URL": env.get("REDIS_URL") or "redis://127.0.0.1:1/0",  # the settings want one
        }
    )
    started = time.monotonic()
    migrate(env)
    print(f"migrated {settings_dict['NAME']} in {time.monotonic() - started:.1f}s", flush=True)
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
    import django

    django.setup()
    from django.db import connections

    from channels_sms.models import Message, PhoneNumber
    from helpline.models import Helpline

    helpline = Helpline.objects.create(code="BENCH", name="Bench helpline", country="KE")
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=OUR_NUMBER)
    connections.close_all()

    with Stack(settings_dict=settings_dict, directory=work_dir, settings_module="bench.settings") as stack:
        redis = stack.redis()
        web = stack.gunicorn()
        # Warm the worker up (imports, first connection) before anything is timed.
        load("warm-up", web.url, bare_request, concurrency=2, total=50)
        load("warm-up", web.url, webhook_request(web.url, "W"), concurrency=2, total=50)

        bare = load(
            "(i) bare Django view, 204",
            web.url,
            bare_request,
            concurrency=args.concurrency,
            seconds=args.seconds,
        )
        print(f"bare view: {bare.per_second:.0f}/s", flush=True)
        accepted = load(
            "(ii) signed SMS webhooks accepted",
            web.url,
            webhook_request(web.url, "A"),
            concurrency=args.concurrency,
            seconds=args.seconds,
        )
        print(f"webhooks accepted: {accepted.per_second:.0f}/s", flush=True)

        # Phase (ii)'s tasks would be threaded first and count against (iii): drop them (no beat
        # runs, so their stored events stay as they are).
        import redis as redis_client

        redis_client.Redis.from_url(redis.url).flushall()
        worker = stack.worker()
        first_post = datetime.now().astimezone()
        posted = load(
            "(iii) webhooks posted",
            web.url,
            webhook_request(web.url, "E"),
            concurrency=args.concurrency,
            total=args.messages,
        )
        batch = Message.objects.filter(external_id__startswith="SME", direction="inbound")
        wait_until(
            f"{posted.count} messages to be threaded",
            lambda: batch.count() >= posted.count,
            timeout=180,
            interval=0.2,
            check=worker.check_alive,
        )
        last = max(batch.values_list("created_at", flat=True))
        threaded = (batch.count(), (last - first_post).total_seconds())
        connections.close_all()

    print()
    print(
        f"one gunicorn sync worker, one Celery worker (solo), client concurrency {args.concurrency}, "
        f"{os.cpu_count()} CPUs shared by client, server, worker, PostgreSQL and Redis; "
        f"load average {os.getloadavg()[0]:.1f} at the end (other processes of this machine included)"
    )
    print(table([bare, accepted], bare, threaded))
    print(
        f"(iii): {posted.count} webhooks posted at {posted.per_second:.1f}/s while the worker ran, "
        f"{posted.errors} errors"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of phases (i) and (ii)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--messages", type=int, default=300, help="webhooks of phase (iii)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL (its server gets a throwaway database)")
    server = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    settings_dict = {**server, "NAME": f"lifeline_bench_{os.getpid()}"}
    database_create(server, settings_dict["NAME"])
    try:
        with tempfile.TemporaryDirectory(prefix="lifeline-bench-") as work_dir:
            run(args, settings_dict, Path(work_dir))
    finally:
        database_drop(server, settings_dict["NAME"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
