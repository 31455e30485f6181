"""gunicorn settings every server of ours runs with (docker-compose's web, `make run`, the bench and
the failure-test harness): `gunicorn -c python:config.gunicorn config.wsgi:application ...`.
Bind address, worker count and timeouts stay on each command line.

The application is imported once, in the master, and its objects are frozen out of the garbage
collector before the workers fork (the recipe of the `gc.freeze` documentation). Measured on a page
of 50 cases: without it, a full collection over the ~150,000 objects Django, DRF and our apps
keep alive took 40-90 ms every few dozen requests (bench reads p95 64 ms vs p50 18 ms); frozen,
collections walk only what requests allocate, and the workers share the imported code's memory
with the master instead of copying it page by page."""

from __future__ import annotations

import gc
import os
from typing import Any

# Web requests give up on a statement after 10 s (config/settings/database.py): before Twilio's 15 s
# webhook deadline and gunicorn's 30 s worker timeout. Set here, not in the settings, so that only
# the web has it.
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "10")

preload_app = True
# The access log names the path only: a query string can carry personal data (`?q=` searches by a
# child's or reporter's name or number), and so can the referring page's address. gunicorn's
# default logs both ("%(r)s" is the request line with its query, "%(f)s" the referer).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'
# No collection in the master from here on (the application is imported next; the master itself
# only watches its workers): collections would leave freed holes in pages the workers share.
gc.disable()


def when_ready(server: Any) -> None:
    # What each API operation accepts is read from the OpenAPI schema (helpline.api.contract):
    # generated once here, in the master (no database query), the workers inherit it instead of
    # each spending ~3 s on its first API request.
    from helpline.api.contract import operations

    operations()


def pre_fork(server: Any, worker: Any) -> None:
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    gc.enable()


def post_worker_init(worker: Any) -> None:
    # Each web process drains this node's spool (channels_sms.spool_drain): at once (what a
    # previous run left, e.g. after a crash during an outage), then while it holds anything; one
    # process at a time drains (a file lock), the others find it taken.
    from channels_sms.spool_drain import drainer_start

    drainer_start()
