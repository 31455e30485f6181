"""`make soak`: mixed traffic at five times the largest helpline's busiest hour, for ten minutes,
against a database and processes of its own; memory of the web and worker processes must stay
flat and not one request may fail.

    python -m bench.soak [--minutes 10] [--short] [--factor 5] [--keep] [--results-dir DIR]

Like `make bench` (bench/run.py): DATABASE_URL names the PostgreSQL server, where the soak creates
`lifeline_soak_<pid>`, migrates it, seeds it (`manage.py seed_scale --cases 20000
--contacts-per-case 3`; --short: 2000 x 2) and drops it at the end. It starts its own redis-server,
gunicorn (2 sync workers, bench.settings), one Celery worker and Celery beat (tests.processes).

The traffic is open-loop: every request kind is a Poisson process at a fixed rate (the rates come
from the model in TRAFFIC_MODEL, docs/testing.md "Soak"), each request is sent at its time by a
pool of threads whether or not earlier ones were answered, and its latency counts from that time.
Kinds: signed Twilio SMS webhooks from new senders and from senders writing on, into the busiest
seeded helpline; the operator's queue and case detail; the supervisor's case list and case
history; the operator referring cases to a partner agency; the agency polling its sent referrals,
accepting the ones referred (seconds later) and posting a progress update on each.

VmRSS of the gunicorn master and each of its workers, the Celery worker and beat is sampled every
few seconds. After a warm-up at the full rate, the measured window runs for --minutes; then the
worker drains the queue and the run checks: every accepted MessageSid stored once and threaded
once (one case and one conversation contact per sender), every referral the agency accepted or
updated found so, the audit chains intact (verify_audit). It writes
<results>/soak-<UTC date-time>.json, prints a table, and exits 1 when a request failed, a message
or referral is lost or duplicated, a chain is broken, a process was replaced, the load generator
fell behind, or a process's memory grew past the bounds below."""

from __future__ import annotations

import argparse
import bisect
import heapq
import http.client
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import reads as read_bench
from bench.load import SMS_PATH, message_sid, percentile
from bench.run import (
    _close_django_connections,
    _terminate,
    machine_facts,
    manage,
    run_tag,
    seed,
    step,
    verify_audit,
)
from tests.processes import (
    ROOT,
    HarnessError,
    Stack,
    database_create,
    database_drop,
    database_url,
    server_version,
)

RESULTS = ROOT / "bench" / "results"

# --- the traffic model -----------------------------------------------------------------------------
# "The largest helpline's peak", stated so it can be argued with (docs/testing.md, "Soak").

YEAR_SECONDS = 365.25 * 86400
TRAFFIC_MODEL = {
    # An assumption, not a measured figure: a round number above what one national child helpline
    # is expected to take. Change it when a deployment's real volume is known.
    "contacts_per_year": 10_000_000,
    # The busiest hour of the day against the year's average (after school and in the evening).
    "peak_hour_factor": 3.0,
    # Contacts that arrive as Twilio SMS/WhatsApp messages: seed_scale's channel mix (SMS 15 %,
    # WhatsApp 12 %); voice, chat and walk-ins do not hit this webhook.
    "text_share": 0.27,
    # Inbound messages a child sends in one text conversation: the first opens the case, the rest
    # continue it within the conversation's idle gap.
    "messages_per_conversation": 8,
    # Staff reads per contact: the operator who takes it reads the queue once and opens the case
    # once; one contact in five is reviewed by a supervisor (case list and the case's history).
    "operator_reads_per_contact": 1.0,
    "supervisor_review_share": 0.2,
    # One contact in twenty ends in a referral; the agency accepts it and posts one update.
    "referral_share": 0.05,
    # Partner agencies' systems polling their sent referrals, each once a minute.
    "polling_agencies": 50,
    "poll_seconds": 60,
}
FACTOR = 5.0  # the "5x the largest helpline's peak"
CONVERSATION_WINDOW_SECONDS = 300.0  # a "writing on" message goes to a sender who began this recently
OPERATOR_REFERABLE_CASES = 20  # cases of the operator's given consent at set-up and referred in turn
# Open loop: enough threads that a slow answer never holds back the next request's start.
SENDER_THREADS = 64
REQUEST_TIMEOUT = 30.0
LAG_BOUND_SECONDS = 5.0  # a request started later than this after its time: the client fell behind

# --- the memory bounds -----------------------------------------------------------------------------
# A leak of 1 KB per request in a web worker serving ~13 requests/s grows it ~0.8 MB/min, 8 MB in
# ten minutes; the same per task in the Celery worker (~10 messages/s) ~0.6 MB/min. A process
# whose memory is flat moves a megabyte or two either way (pymalloc arenas of 256 KB, glibc
# returning or keeping freed pages) with no trend. So: the least-squares slope over a window of
# at least SLOPE_MIN_MINUTES must stay under SLOPE_BOUND, and the last sample may be at most
# GROWTH_BOUND above the first. Over a shorter window (--short) a slope is mostly warm-up tail
# and is reported, not judged; the growth bound then only catches a gross leak (tens of KB per
# request).
SLOPE_BOUND_MB_PER_MIN = 0.5
SLOPE_MIN_MINUTES = 5.0
GROWTH_BOUND_MB = 10.0

KINDS = {
    "sms_new": "SMS webhook: a new sender",
    "sms_continue": "SMS webhook: a sender writing on",
    "operator_queue": "operator: queue (intake, unassigned)",
    "operator_case": "operator: case detail",
    "operator_refer": "operator: refer to an agency",
    "supervisor_cases": "supervisor: case list",
    "supervisor_history": "supervisor: case history",
    "agency_poll": "agency: poll sent referrals",
    "agency_accept": "agency: accept a referral",
    "agency_update": "agency: post a progress update",
}
FOLLOW_UPS = ("agency_accept", "agency_update")  # sent after an earlier request, not on a clock


def target_rates(factor: float = FACTOR, model: Mapping[str, float] = TRAFFIC_MODEL) -> dict[str, float]:
    """Requests per second of each kind at `factor` times the model's peak hour."""
    contacts = model["contacts_per_year"] / YEAR_SECONDS * model["peak_hour_factor"] * factor
    webhooks = contacts * model["text_share"] * model["messages_per_conversation"]
    conversations = webhooks / model["messages_per_conversation"]
    reads = contacts * model["operator_reads_per_contact"]
    reviews = contacts * model["supervisor_review_share"]
    referrals = contacts * model["referral_share"]
    return {
        "sms_new": conversations,
        "sms_continue": webhooks - conversations,
        "operator_queue": reads,
        "operator_case": reads,
        "operator_refer": referrals,
        "supervisor_cases": reviews,
        "supervisor_history": reviews,
        "agency_poll": model["polling_agencies"] / model["poll_seconds"] * factor,
        # In the steady state each referral is accepted once and updated once.
        "agency_accept": referrals,
        "agency_update": referrals,
    }


# --- the run ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, help="length of the measured window (default 10)")
    parser.add_argument(
        "--short", action="store_true", help="the version `make test` runs: 25 s measured, a small seed"
    )
    parser.add_argument("--warmup-seconds", type=float, help="full-rate traffic before (default 60)")
    parser.add_argument("--factor", type=float, default=FACTOR, help=f"x the peak hour (default {FACTOR:g})")
    parser.add_argument("--cases", type=int, help="cases to seed (default 20,000; short 2,000)")
    parser.add_argument("--contacts-per-case", type=float, help="contacts per case (default 3; short 2)")
    parser.add_argument("--sample-seconds", type=float, help="RSS sampling interval (default 5; short 1)")
    parser.add_argument(
        "--follow-up-seconds",
        type=float,
        help="mean delay before the agency accepts a new referral and updates it (default 15; short 3)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the schedule (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    defaults = (
        {
            "minutes": 25 / 60,
            "warmup_seconds": 8.0,
            "cases": 2000,
            "contacts_per_case": 2,
            "sample_seconds": 1.0,
            "follow_up_seconds": 3.0,
        }
        if args.short
        else {
            "minutes": 10.0,
            "warmup_seconds": 60.0,
            "cases": 20_000,
            "contacts_per_case": 3,
            "sample_seconds": 5.0,
            "follow_up_seconds": 15.0,
        }
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        print("set DATABASE_URL (its server gets a throwaway database), or run `make soak`", file=sys.stderr)
        return 2
    import environ

    server = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    settings_dict = {**server, "NAME": f"lifeline_soak_{os.getpid()}"}
    started = datetime.now(UTC)
    run_id = started.strftime("%Y-%m-%dT%H-%M-%SZ")
    report: dict[str, Any] = {
        "run": run_id,
        "started_at": started.isoformat(),
        "command": ["python", "-m", "bench.soak", *(sys.argv[1:] if argv is None else argv)],
        "config": {
            "minutes": args.minutes,
            "warmup_seconds": args.warmup_seconds,
            "short": args.short,
            "factor": args.factor,
            "cases": args.cases,
            "contacts_per_case": args.contacts_per_case,
            "sample_seconds": args.sample_seconds,
            "follow_up_seconds": args.follow_up_seconds,
            "seed": args.seed,
            "web_workers": 2,
            "celery_workers": 1,
            "model": TRAFFIC_MODEL,
            "target_per_second": target_rates(args.factor),
        },
        "bounds": {
            "slope_mb_per_min": SLOPE_BOUND_MB_PER_MIN,
            "slope_judged_from_minutes": SLOPE_MIN_MINUTES,
            "growth_mb": GROWTH_BOUND_MB,
            "lag_seconds": LAG_BOUND_SECONDS,
        },
        "machine": machine_facts(),
        "database": {"name": settings_dict["NAME"], "dropped": False},
        "failures": [],
        "ok": False,
    }
    print(f"soak {run_id}: database {settings_dict['NAME']}, results in {args.results_dir}", flush=True)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        report["machine"]["postgres"] = server_version(server)
        database_create(server, settings_dict["NAME"])
        with tempfile.TemporaryDirectory(prefix="lifeline-soak-") as work_dir:
            run(args, settings_dict, Path(work_dir), report)
        report["failures"] = verdict(report)
        report["ok"] = not report["failures"]
    except BaseException as exc:
        report["error"] = "".join(traceback.format_exception_only(exc)).strip()
        report["failures"].append(f"the run failed: {report['error']}")
        traceback.print_exc()
    finally:
        try:
            _close_django_connections()
            if args.keep:
                print(f"kept database {settings_dict['NAME']}")
            else:
                database_drop(server, settings_dict["NAME"])
                report["database"]["dropped"] = True
        finally:
            report["machine"]["load_average_after"] = list(os.getloadavg())
            report["finished_at"] = datetime.now(UTC).isoformat()
            report["seconds"] = (datetime.now(UTC) - started).total_seconds()
            report["table"] = table(report)
            args.results_dir.mkdir(parents=True, exist_ok=True)
            path = args.results_dir / f"soak-{run_id}.json"
            path.write_text(json.dumps(report, indent=2, default=str) + "\n")
            print()
            print(report["table"])
            print(f"\nwritten: {path}")
    return 0 if report["ok"] else 1


def stack_env() -> dict[str, str]:
    """Every periodic task every 15 s (production: 30 s to an hour), so each runs many times under
    the traffic; the inbound sweeper re-dispatches only what production's would (30 s unprocessed)."""
    sweeps = (
        "ESCALATION_SWEEP_SECONDS",
        "RECONCILE_SWEEP_SECONDS",
        "RETENTION_SWEEP_SECONDS",
        "INBOUND_SWEEP_SECONDS",
        "OUTBOUND_SWEEP_SECONDS",
        "REFERRAL_SWEEP_SECONDS",
        "AGENCY_DELIVERY_SWEEP_SECONDS",
    )
    return {
        **dict.fromkeys(sweeps, "15"),
        "INBOUND_SWEEP_AFTER_SECONDS": "30",
        "BROKER_BACKOFF_SECONDS": "10",
    }


def run(
    args: argparse.Namespace, settings_dict: dict[str, Any], work_dir: Path, report: dict[str, Any]
) -> None:
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url(settings_dict, application_name="lifeline-soak"),
            "PYTHONPATH": str(ROOT),
        }
    )
    with Stack(
        settings_dict=settings_dict,
        directory=work_dir,
        settings_module="bench.settings",
        extra_env=stack_env(),
    ) as stack:
        env["REDIS_URL"] = stack.redis().url
        step("migrating", lambda: manage(env, "migrate", "--noinput", "-v", "0", timeout=900))
        report["seed"] = step("seeding", lambda: seed(env, args))
        web = stack.gunicorn(workers=2, wait=False)
        worker = stack.worker(wait=False)
        beat = stack.beat(wait=False)

        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
        import django

        django.setup()
        who = read_bench.subjects()
        setup = step("referable cases", lambda: referral_setup(who, OPERATOR_REFERABLE_CASES))
        traffic = Traffic(
            base_url=web.url,
            who=who,
            keys=read_bench.tokens(who),
            setup=setup,
            prefix=f"S{run_tag()}",
            rng=random.Random(args.seed),  # nosec B311  # seeded load-test traffic, not secrets
            follow_up_seconds=args.follow_up_seconds,
        )
        report["subjects"] = {
            "helpline_id": who["helpline_id"],
            "sms_number": setup["sms_number"],
            "operator": who["operator"].username,
            "supervisor": who["supervisor"].username,
            "agency_user": who["agency"].username,
            "agency_id": setup["agency_id"],
            "referable_cases": setup["case_ids"],
        }
        _close_django_connections()
        for process in (web, worker, beat):
            process.wait_ready()

        def check() -> None:
            for process in (web, worker, beat):
                process.check_alive()

        sampler = RssSampler(lambda: tracked_processes(web.pid, worker.pid, beat.pid), args.sample_seconds)
        rates = target_rates(args.factor)
        warmup, measured = args.warmup_seconds, args.minutes * 60
        print(
            f"traffic: {sum(rates.values()):.1f} requests/s ({rates['sms_new'] + rates['sms_continue']:.1f} "
            f"webhooks/s), {warmup:g} s warm-up then {measured:g} s measured ...",
            flush=True,
        )
        sampler.start()
        try:
            clock = drive(traffic, rates, warmup=warmup, measured=measured, sampler=sampler, check=check)
        finally:
            sampler.stop()
        report["requests"] = request_figures(traffic, rates, clock)
        report["schedule"] = {k: v for k, v in clock.items() if k != "origin"}

        drain = step(
            "draining: the worker threads what is queued",
            lambda: wait_threaded(traffic.prefix, len(traffic.accepted), check=check),
        )
        sampler.sample()
        report["memory"] = memory_figures(sampler, clock, web_workers=2)
        report["webhooks"] = {**webhook_integrity(traffic.prefix, traffic.accepted), "drain_seconds": drain}
        report["referrals"] = referral_integrity(traffic, who)
        report["audit"] = step("verify_audit", verify_audit)
        _close_django_connections()


def tracked_processes(web_pid: int, worker_pid: int, beat_pid: int) -> dict[str, int]:
    pids = {"web master": web_pid, "celery worker": worker_pid, "celery beat": beat_pid}
    for pid in children(web_pid):
        pids[f"web worker {pid}"] = pid
    return pids


# --- set-up in this process ------------------------------------------------------------------------


def referral_setup(who: dict[str, Any], count: int) -> dict[str, Any]:
    """Cases the operator may refer (their own in assessment, referral or follow-up; intake cases
    they take into assessment when short), each with the child's consent recorded; the agency the
    referrals go to, and the helpline's SMS number the webhooks are addressed to."""
    from django.utils import timezone

    from cases.selectors import case_queryset_for
    from cases.services import case_transition
    from channels_sms.models import PhoneNumber
    from referrals.models import AgencySector, ConsentGiver, ConsentScope
    from referrals.services import REFERABLE_CASE_STATES, consent_record

    operator, helpline_id = who["operator"], who["helpline_id"]
    visible = case_queryset_for(operator).filter(helpline_id=helpline_id)
    cases = list(visible.filter(state__in=REFERABLE_CASE_STATES).order_by("-id")[:count])
    for case in visible.filter(state="intake").order_by("-id")[: count - len(cases)]:
        cases.append(case_transition(actor=operator, case=case, name="start_assessment"))
    if not cases:
        raise RuntimeError(f"operator {operator.username} has no case to refer")
    for case in cases:
        consent_record(
            actor=operator,
            case=case,
            given_by=ConsentGiver.CHILD,
            given_at=timezone.now(),
            scope=[ConsentScope.REFERRAL, ConsentScope.INFORMATION_SHARING],
        )
    agency = who["agency"].agency_membership.agency
    if agency.country.upper() != cases[0].helpline.country.upper():
        raise RuntimeError(f"agency {agency.pk} is abroad: an operator's referral would wait for approval")
    number = PhoneNumber.objects.filter(helpline_id=helpline_id, channel="sms", is_active=True).first()
    if number is None:
        raise RuntimeError(f"helpline {helpline_id} has no SMS number")
    body: dict[str, Any] = {
        "agency": agency.pk,
        "service_type": agency.service_types[0] if agency.service_types else "child_protection",
        "urgency": "routine",
        "reason": "Soak: the child needs the agency's service.",
        "summary": "Soak: a child in need of support; details by phone.",
    }
    if agency.sector == AgencySector.ONLINE_ABUSE_HOTLINE:
        body["reported_urls"] = ["https://example.org/reported"]
    return {
        "case_ids": [case.pk for case in cases],
        "agency_id": agency.pk,
        "referral_body": body,
        "sms_number": number.number,
    }


# --- the traffic -----------------------------------------------------------------------------------

Request = tuple[str, str, bytes | None, dict[str, str]]


@dataclass(frozen=True)
class Outcome:
    kind: str
    scheduled: float  # monotonic seconds: when it was due
    started: float
    finished: float
    status: int  # 0: no answer (connection error, timeout)
    error: str


class Traffic:
    """What the simulated people do, and what they saw: builds each request from the state so far
    (senders in conversation, cases seen in the queue, referrals made), records every outcome, and
    schedules the agency's follow-ups of a referral."""

    def __init__(
        self,
        *,
        base_url: str,
        who: dict[str, Any],
        keys: dict[str, str],
        setup: dict[str, Any],
        prefix: str,
        rng: random.Random,
        follow_up_seconds: float,
    ):
        from twilio.request_validator import RequestValidator

        from tests.twilio_signing import TOKEN

        self.base_url = base_url
        self.parsed = urllib.parse.urlsplit(base_url)
        self.keys = keys
        self.setup = setup
        self.prefix = prefix
        self.rng = rng
        self.follow_up_seconds = follow_up_seconds
        self.validator = RequestValidator(TOKEN)
        paths = {read.key: read.path for read in read_bench.reads(who)}
        self.queue_path = paths["queue"]
        self.case_list_path = paths["case_list"]
        self.agency_path = paths["referrals_agency"]
        self.lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.errors: dict[str, list[str]] = {}
        self.webhooks = itertools.count()
        self.senders = itertools.count()
        self.conversations: deque[tuple[float, int]] = deque()  # (began, sender) of recent senders
        self.accepted: dict[int, int] = {}  # webhook number -> sender, answered 2xx
        self.case_ids: list[int] = [who["case_id"]]
        self.refer_cases = itertools.cycle(setup["case_ids"])
        self.created: list[int] = []
        self.accepted_referrals: list[int] = []
        self.updates: Counter[int] = Counter()
        self.schedule: Schedule | None = None

    # requests

    def build(
        self, kind: str, payload: Any, now: float
    ) -> tuple[str, Request, Callable[[bytes], None] | None]:
        """The request of a kind (for an SMS, the kind actually sent: "writing on" needs a sender
        who began), and what to do with a 2xx answer."""
        if kind in ("sms_new", "sms_continue"):
            return self._sms(kind, now)
        if kind == "operator_queue":
            return kind, self._get(self.queue_path, "operator"), self._saw_queue
        if kind == "operator_case":
            return kind, self._get(f"/api/v1/cases/{self._seen_case()}/", "operator"), None
        if kind == "supervisor_cases":
            return kind, self._get(self.case_list_path, "supervisor"), None
        if kind == "supervisor_history":
            return kind, self._get(f"/api/v1/cases/{self._seen_case()}/history/", "supervisor"), None
        if kind == "operator_refer":
            with self.lock:
                case_id = next(self.refer_cases)
            path = f"/api/v1/cases/{case_id}/referrals/"
            return kind, self._post(path, "operator", self.setup["referral_body"]), self._referred
        if kind == "agency_poll":
            return kind, self._get(self.agency_path, "agency"), None
        if kind == "agency_accept":
            path = f"/api/v1/referrals/{payload}/accept/"
            body = {"expected_state": "sent"}
            return kind, self._post(path, "agency", body), lambda _: self._accepted_referral(payload)
        if kind == "agency_update":
            path = f"/api/v1/referrals/{payload}/updates/"
            body = {"body": "Soak: first visit done; the child is safe."}
            return kind, self._post(path, "agency", body), lambda _: self._updated(payload)
        raise ValueError(kind)

    def _get(self, path: str, role: str) -> Request:
        return "GET", path, None, {"Authorization": f"Token {self.keys[role]}"}

    def _post(self, path: str, role: str, body: dict[str, Any]) -> Request:
        headers = {"Authorization": f"Token {self.keys[role]}", "Content-Type": "application/json"}
        return "POST", path, json.dumps(body).encode(), headers

    def _sms(self, kind: str, now: float) -> tuple[str, Request, Callable[[bytes], None]]:
        with self.lock:
            n = next(self.webhooks)
            while self.conversations and self.conversations[0][0] < now - CONVERSATION_WINDOW_SECONDS:
                self.conversations.popleft()
            if kind == "sms_continue" and self.conversations:
                sender = self.rng.choice(self.conversations)[1]
            else:
                kind, sender = "sms_new", next(self.senders)
                self.conversations.append((now, sender))
        params = {
            "AccountSid": "AC" + "0" * 32,
            "MessageSid": message_sid(self.prefix, n),
            "From": sender_number(sender),
            "To": self.setup["sms_number"],
            "Body": f"soak message {n}",
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(self.base_url + SMS_PATH, params),
        }

        def accepted(_: bytes) -> None:
            with self.lock:
                self.accepted[n] = sender

        return kind, ("POST", SMS_PATH, urllib.parse.urlencode(params).encode(), headers), accepted

    def _seen_case(self) -> int:
        with self.lock:
            return self.rng.choice(self.case_ids)

    # answers

    def _saw_queue(self, body: bytes) -> None:
        ids = [row["id"] for row in json.loads(body)["results"]]
        if ids:
            with self.lock:
                self.case_ids = ids

    def _referred(self, body: bytes) -> None:
        referral_id = json.loads(body)["id"]
        with self.lock:
            self.created.append(referral_id)
            delay = self.rng.expovariate(1 / self.follow_up_seconds)
        self.schedule.after(delay, "agency_accept", referral_id)

    def _accepted_referral(self, referral_id: int) -> None:
        with self.lock:
            self.accepted_referrals.append(referral_id)
            delay = self.rng.expovariate(1 / self.follow_up_seconds)
        self.schedule.after(delay, "agency_update", referral_id)

    def _updated(self, referral_id: int) -> None:
        with self.lock:
            self.updates[referral_id] += 1

    # sending

    def fire(self, kind: str, scheduled: float, payload: Any) -> None:
        started = time.monotonic()
        status, error = 0, ""
        try:
            kind, (method, path, body, headers), on_answer = self.build(kind, payload, started)
            status, answer, error = send(self.parsed, method, path, body, headers)
            if 200 <= status < 300 and on_answer is not None:
                on_answer(answer)
            elif not error and not 200 <= status < 300:
                error = f"HTTP {status} {method} {path}: {answer[:300].decode(errors='replace')}"
        except Exception as exc:  # a bad answer or a bug of ours: an error either way, and recorded
            status, error = 0, f"{type(exc).__name__}: {exc}"
        outcome = Outcome(kind, scheduled, started, time.monotonic(), status, error)
        with self.lock:
            self.outcomes.append(outcome)
            if error and len(self.errors.setdefault(kind, [])) < 5:
                self.errors[kind].append(error)


def sender_number(sender: int) -> str:
    """A child of this run: numbers no seeded reporter has (seed_scale draws 8 random digits)."""
    return f"+2547{90_000_000 + sender:08d}"


def send(
    parsed: urllib.parse.SplitResult, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes, str]:
    """One request on its own connection (gunicorn's sync workers close it after each answer)."""
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), ""
    except (OSError, http.client.HTTPException) as exc:
        return 0, b"", f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


class Schedule:
    """The times requests are due: a heap the clock's Poisson processes and the follow-ups share."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, str, Any]] = []
        self.lock = threading.Lock()
        self.order = itertools.count()

    def at(self, when: float, kind: str, payload: Any = None) -> None:
        with self.lock:
            heapq.heappush(self.heap, (when, next(self.order), kind, payload))

    def after(self, delay: float, kind: str, payload: Any = None) -> None:
        self.at(time.monotonic() + delay, kind, payload)

    def due(self, now: float) -> list[tuple[float, str, Any]]:
        with self.lock:
            found = []
            while self.heap and self.heap[0][0] <= now:
                when, _, kind, payload = heapq.heappop(self.heap)
                found.append((when, kind, payload))
            return found

    def next_due(self) -> float:
        with self.lock:
            return self.heap[0][0] if self.heap else time.monotonic() + 1

    def pending(self) -> Counter[str]:
        with self.lock:
            return Counter(kind for _, _, kind, _ in self.heap)


def drive(
    traffic: Traffic,
    rates: dict[str, float],
    *,
    warmup: float,
    measured: float,
    sampler: RssSampler,
    check: Callable[[], None],
) -> dict[str, float]:
    """Sends the traffic for warmup + measured seconds, open loop; returns the clock: when the
    warm-up ended and the measured window began and ended (seconds from the start)."""
    schedule = traffic.schedule = Schedule()
    clock_rng = random.Random(traffic.rng.random())  # nosec B311  # load-test timing
    origin = time.monotonic()
    warm_end, end = origin + warmup, origin + warmup + measured
    for kind, rate in rates.items():
        if kind not in FOLLOW_UPS and rate > 0:
            schedule.at(origin + clock_rng.expovariate(rate), kind)
    marked = False
    last_check = origin
    with ThreadPoolExecutor(max_workers=SENDER_THREADS, thread_name_prefix="soak") as pool:
        while (now := time.monotonic()) < end:
            if not marked and now >= warm_end:
                sampler.sample()  # the "start" sample, at the end of the warm-up
                marked = True
            for when, kind, payload in schedule.due(now):
                if kind not in FOLLOW_UPS:
                    schedule.at(when + clock_rng.expovariate(rates[kind]), kind)
                pool.submit(traffic.fire, kind, when, payload)
            if now - last_check > 1:
                check()
                last_check = now
            time.sleep(min(max(schedule.next_due() - time.monotonic(), 0.0), 0.02))
        sampler.sample()  # the "end" sample, as the last requests go out
        stopped = time.monotonic()
    left = schedule.pending()
    return {
        "origin": origin,
        "warm_end": warm_end - origin,
        "end": end - origin,
        "answered_by": time.monotonic() - origin,
        "end_sample": stopped - origin,
        "follow_ups_not_sent": sum(left[k] for k in FOLLOW_UPS),
    }


# --- figures ---------------------------------------------------------------------------------------


def request_figures(traffic: Traffic, rates: dict[str, float], clock: dict[str, float]) -> dict[str, Any]:
    """Per kind: the measured window's rate and latency (from the time it was due, so a queue in the
    client counts too), and errors over the whole run, warm-up included."""
    origin, warm_end, end = clock["origin"], clock["warm_end"], clock["end"]
    seconds = end - warm_end
    figures: dict[str, Any] = {}
    for kind, label in KINDS.items():
        every = [o for o in traffic.outcomes if o.kind == kind]
        window = [o for o in every if warm_end <= o.scheduled - origin < end]
        latencies = [o.finished - o.scheduled for o in window]
        errors = sum(1 for o in every if o.error)
        figures[kind] = {
            "label": label,
            "target_per_second": rates[kind],
            "per_second": len(window) / seconds if seconds else 0.0,
            "count": len(window),
            "total": len(every),
            "errors": errors,
            "error_rate": errors / len(every) if every else 0.0,
            "error_sample": traffic.errors.get(kind, []),
            "p50_ms": percentile(latencies, 50) * 1000,
            "p95_ms": percentile(latencies, 95) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies, default=0.0) * 1000,
            "max_lag_ms": max((o.started - o.scheduled for o in every), default=0.0) * 1000,
        }
    total = len(traffic.outcomes)
    errors = sum(f["errors"] for f in figures.values())
    figures["all"] = {
        "label": "all",
        "target_per_second": sum(rates.values()),
        "per_second": sum(f["per_second"] for f in figures.values()),
        "count": sum(f["count"] for f in figures.values()),
        "total": total,
        "errors": errors,
        "error_rate": errors / total if total else 0.0,
        "max_lag_ms": max((f["max_lag_ms"] for f in figures.values()), default=0.0),
    }
    return figures


def wait_threaded(prefix: str, expected: int, *, check: Callable[[], None], stall: float = 60.0) -> float:
    """Seconds until `expected` messages of the run are threaded; HarnessError after `stall` seconds
    without progress."""
    from channels_sms.models import Message

    messages = Message.objects.filter(external_id__startswith=f"SM{prefix}", direction="inbound")
    began = last_progress = time.monotonic()
    seen = -1
    while (count := messages.count()) < expected:
        check()
        if count != seen:
            seen, last_progress = count, time.monotonic()
        if time.monotonic() - last_progress > stall:
            raise HarnessError(f"{count} of {expected} messages threaded; no progress for {stall:.0f}s")
        time.sleep(0.2)
    return time.monotonic() - began


def webhook_integrity(prefix: str, accepted: dict[int, int]) -> dict[str, Any]:
    """Every webhook answered 2xx against the database: one event and one message per MessageSid,
    processed; one case and one conversation contact per sender (all within the idle gap)."""
    from channels_sms.models import EventKind, InboundEvent, Message

    wanted = {message_sid(prefix, n) for n in accepted}
    events = InboundEvent.objects.filter(kind=EventKind.MESSAGE, external_id__startswith=f"SM{prefix}")
    event_sids = list(events.values_list("external_id", flat=True))
    rows = list(
        Message.objects.filter(external_id__startswith=f"SM{prefix}", direction="inbound").values_list(
            "external_id", "sender_hash", "case_id", "contact_id"
        )
    )
    message_sids = [row[0] for row in rows]
    cases: dict[str, set[int]] = {}
    contacts: dict[str, set[int]] = {}
    for _, sender, case_id, contact_id in rows:
        cases.setdefault(sender, set()).add(case_id)
        contacts.setdefault(sender, set()).add(contact_id)
    senders = len(set(accepted.values()))
    lost = {
        "events": len(wanted - set(event_sids)),
        "messages": len(wanted - set(message_sids)),
        "unprocessed": events.filter(processed_at__isnull=True).count(),
        "senders": senders - len(cases),
    }
    duplicated = {
        "events": len(event_sids) - len(set(event_sids)),
        "messages": len(message_sids) - len(set(message_sids)),
        "cases": sum(len(ids) - 1 for ids in cases.values()),
        "contacts": sum(len(ids) - 1 for ids in contacts.values()),
    }
    return {
        "accepted": len(wanted),
        "events": len(event_sids),
        "messages": len(message_sids),
        "senders": senders,
        "cases": len({row[2] for row in rows}),
        "contacts": len({row[3] for row in rows}),
        "lost": sum(lost.values()),
        "duplicated": sum(duplicated.values()),
        "lost_detail": lost,
        "duplicated_detail": duplicated,
        "unexpected": len(set(event_sids) - wanted),  # stored, but the webhook was answered an error
    }


def referral_integrity(traffic: Traffic, who: dict[str, Any]) -> dict[str, Any]:
    """The referrals made, accepted and updated, as the answers said, against the database."""
    from referrals.models import Referral, ReferralUpdate

    states = dict(Referral.objects.filter(pk__in=traffic.created).values_list("pk", "state"))
    stored_updates = Counter(
        ReferralUpdate.objects.filter(referral_id__in=traffic.created, author=who["agency"]).values_list(
            "referral_id", flat=True
        )
    )
    accepted = set(traffic.accepted_referrals)
    lost = {
        "referrals": len(set(traffic.created) - set(states)),
        "acceptances": sum(1 for pk in accepted if states.get(pk) != "accepted"),
        "updates": sum(max(0, n - stored_updates[pk]) for pk, n in traffic.updates.items()),
    }
    duplicated = {
        "referrals": len(traffic.created) - len(set(traffic.created)),
        "updates": sum(max(0, n - traffic.updates[pk]) for pk, n in stored_updates.items()),
    }
    return {
        "created": len(traffic.created),
        "accepted": len(accepted),
        "updates": sum(traffic.updates.values()),
        "lost": sum(lost.values()),
        "duplicated": sum(duplicated.values()),
        "lost_detail": lost,
        "duplicated_detail": duplicated,
    }


# --- memory ----------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process in MB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """The child processes of `pid` (gunicorn's workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as found:
            return sorted(int(p) for p in found.read().split())
    except OSError:
        pass
    result = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        result.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return sorted(result)


class RssSampler:
    """Samples the VmRSS of the processes `find` names ({label: pid}) every `interval` seconds in a
    thread, and whenever sample() is called; the time is seconds of time.monotonic()."""

    def __init__(self, find: Callable[[], dict[str, int]], interval: float):
        self.find = find
        self.interval = interval
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.pids: dict[str, int] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        now = time.monotonic()
        for label, pid in self.find().items():
            mb = rss_mb(pid)
            if mb is not None:
                with self.lock:
                    self.pids[label] = pid
                    self.series.setdefault(label, []).append((now, mb))


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if not spread:
        return 0.0
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / spread * 60


def rss_summary(points: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    """Start (first sample at or after `start`), end (last at or before `end`), max and slope of the
    window's samples; `before` is the first sample of all (before the warm-up)."""
    times = [t for t, _ in points]
    window = points[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
    if not window:
        return {"samples": 0}
    return {
        "samples": len(window),
        "minutes": (window[-1][0] - window[0][0]) / 60,
        "before_mb": points[0][1],
        "start_mb": window[0][1],
        "end_mb": window[-1][1],
        "max_mb": max(y for _, y in window),
        "min_mb": min(y for _, y in window),
        "growth_mb": window[-1][1] - window[0][1],
        "slope_mb_per_min": slope_mb_per_min(window),
    }


def rss_failures(label: str, summary: Mapping[str, Any]) -> list[str]:
    """What of a process's memory passes the bounds (module constants)."""
    if not summary.get("samples"):
        return [f"{label}: no memory samples in the measured window"]
    failures = []
    if summary["growth_mb"] > GROWTH_BOUND_MB:
        failures.append(
            f"{label}: RSS grew {summary['growth_mb']:.1f} MB ({summary['start_mb']:.1f} -> "
            f"{summary['end_mb']:.1f}), bound {GROWTH_BOUND_MB:g} MB"
        )
    if summary["minutes"] >= SLOPE_MIN_MINUTES and summary["slope_mb_per_min"] > SLOPE_BOUND_MB_PER_MIN:
        failures.append(
            f"{label}: RSS slope {summary['slope_mb_per_min']:.2f} MB/min over "
            f"{summary['minutes']:.1f} min, bound {SLOPE_BOUND_MB_PER_MIN:g}"
        )
    return failures


def memory_figures(sampler: RssSampler, clock: dict[str, float], *, web_workers: int) -> dict[str, Any]:
    origin = clock["origin"]
    start, end = origin + clock["warm_end"], origin + clock["end_sample"]
    with sampler.lock:
        # sorted: the sampler's thread and the main thread's samples may append out of order
        series = {label: sorted(points) for label, points in sampler.series.items()}
        pids = dict(sampler.pids)
    processes = {}
    for label, points in series.items():
        summary = rss_summary(points, start, end)
        summary["pid"] = pids[label]
        summary["slope_judged"] = summary.get("minutes", 0) >= SLOPE_MIN_MINUTES
        summary["failures"] = rss_failures(label, summary)
        after = [y for t, y in points if t > end]
        summary["after_drain_mb"] = after[-1] if after else None
        summary["series"] = [[round(t - origin, 1), round(y, 2)] for t, y in points]
        processes[label] = summary
    seen_workers = [label for label in processes if label.startswith("web worker")]
    return {
        "processes": processes,
        "web_workers_seen": len(seen_workers),
        "replaced": max(0, len(seen_workers) - web_workers),
    }


# --- verdict and table -----------------------------------------------------------------------------


def verdict(report: dict[str, Any]) -> list[str]:
    failures = []
    for kind, figure in report["requests"].items():
        if kind != "all" and figure["errors"]:
            failures.append(
                f"{figure['label']}: {figure['errors']} errors, e.g. {figure['error_sample'][:1]}"
            )
    if report["requests"]["all"]["max_lag_ms"] > LAG_BOUND_SECONDS * 1000:
        failures.append(
            f"the load generator fell behind its schedule by {report['requests']['all']['max_lag_ms']:.0f} ms"
        )
    hooks = report["webhooks"]
    if hooks["lost"] or hooks["duplicated"] or hooks["unexpected"]:
        failures.append(
            f"webhooks: lost {hooks['lost_detail']}, duplicated {hooks['duplicated_detail']}, "
            f"unexpected {hooks['unexpected']}"
        )
    refs = report["referrals"]
    if refs["lost"] or refs["duplicated"]:
        failures.append(f"referrals: lost {refs['lost_detail']}, duplicated {refs['duplicated_detail']}")
    if not report["audit"]["intact"]:
        failures.append(f"audit chain broken: {report['audit']['problems']}")
    memory = report["memory"]
    if memory["replaced"]:
        failures.append(f"{memory['replaced']} gunicorn worker(s) replaced during the run")
    for summary in memory["processes"].values():
        failures.extend(summary["failures"])
    return failures


def table(report: dict[str, Any]) -> str:
    config, machine = report["config"], report["machine"]
    lines = [
        f"soak {report['run']}: {config['minutes'] * 60:g} s measured after {config['warmup_seconds']:g} s "
        f"warm-up at {config['factor']:g}x the largest helpline's peak hour; 2 gunicorn sync workers, 1 "
        f"Celery worker (solo), beat; {machine['cpu_count']} CPUs shared with the client, PostgreSQL "
        f"{machine.get('postgres', '?')} and Redis; load average {machine['load_average_before'][0]:.2f} "
        f"before, {(machine.get('load_average_after') or [float('nan')])[0]:.2f} after."
    ]
    requests = report.get("requests")
    if requests:
        header = (
            f"{'request':<38}{'target/s':>9}{'sent/s':>8}{'count':>7}{'errors':>7}{'p50 ms':>8}"
            f"{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        )
        lines += [header, "-" * len(header)]
        for kind, f in requests.items():
            latency = (
                f"{f['p50_ms']:>8.1f}{f['p95_ms']:>8.1f}{f['p99_ms']:>8.1f}{f['max_ms']:>8.0f}"
                if kind != "all"
                else f"{'':>32}"
            )
            lines.append(
                f"{f['label'][:38]:<38}{f['target_per_second']:>9.2f}{f['per_second']:>8.2f}"
                f"{f['count']:>7}{f['errors']:>7}{latency}"
            )
        lines.append(
            f"errors over the whole run (warm-up too): {requests['all']['errors']} of "
            f"{requests['all']['total']}; the client started requests at most "
            f"{requests['all']['max_lag_ms']:.0f} ms after their time"
        )
    memory = report.get("memory")
    if memory:
        header = (
            f"{'process':<24}{'pid':>8}{'before':>8}{'start':>8}{'end':>8}{'max':>8}{'drained':>9}"
            f"{'MB/min':>8}{'growth':>8}"
        )
        lines += ["", "RSS (MB; start/end: the measured window)", header, "-" * len(header)]
        for label, s in memory["processes"].items():
            if not s.get("samples"):
                lines.append(f"{label:<24}{s['pid']:>8}  (no samples)")
                continue
            drained = f"{s['after_drain_mb']:>9.1f}" if s.get("after_drain_mb") is not None else f"{'':>9}"
            lines.append(
                f"{label[:24]:<24}{s['pid']:>8}{s['before_mb']:>8.1f}{s['start_mb']:>8.1f}{s['end_mb']:>8.1f}"
                f"{s['max_mb']:>8.1f}{drained}{s['slope_mb_per_min']:>8.2f}{s['growth_mb']:>8.1f}"
            )
        slope_note = (
            f"slope <= {SLOPE_BOUND_MB_PER_MIN:g} MB/min (judged over {SLOPE_MIN_MINUTES:g} min or more)"
        )
        lines.append(f"bounds: growth <= {GROWTH_BOUND_MB:g} MB, {slope_note}")
    hooks = report.get("webhooks")
    if hooks:
        lines.append(
            f"webhooks: {hooks['accepted']} accepted -> {hooks['events']} events, "
            f"{hooks['messages']} messages, "
            f"{hooks['cases']} cases, {hooks['contacts']} contacts ({hooks['senders']} senders); "
            f"lost {hooks['lost']}, duplicated {hooks['duplicated']}; drained {hooks['drain_seconds']:.1f} s "
            "after the last request"
        )
    refs = report.get("referrals")
    if refs:
        lines.append(
            f"referrals: {refs['created']} made, {refs['accepted']} accepted, {refs['updates']} updates; "
            f"lost {refs['lost']}, duplicated {refs['duplicated']}"
        )
    audit = report.get("audit")
    if audit:
        lines.append(
            f"audit chain {'intact' if audit['intact'] else 'BROKEN'}: {audit['count']} entries verified"
        )
    if report.get("failures"):
        lines.append("FAILED:")
        lines += [f"  - {failure}" for failure in report["failures"]]
    else:
        lines.append(f"PASSED in {report.get('seconds', 0):.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
