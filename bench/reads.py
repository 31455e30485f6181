"""Reads at scale: the requests staff make all day, against a seeded database, over HTTP to the
bench's gunicorn (one request at a time, so each figure is a latency, not a queue), each as the role
that makes it; and the plan of each one's main query.

Runs in the bench process with Django set up on the bench database. The main SQL of a request is
the slowest SELECT from its main table, captured by running the request once in this process
through DRF's test client (CaptureQueriesContext); its `EXPLAIN (ANALYZE, BUFFERS)` goes to
<run>/explain/<name>.txt with every query the request made. Reads are audited, so each request
also appends an audit entry."""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import Result

CASES, AUDIT, REFERRALS = "cases_case", "helpline_auditentry", "referrals_referral"


@dataclass(frozen=True)
class Read:
    key: str
    label: str
    # operator, supervisor or agency: whose token it is sent with; operator_console: the operator's
    # console session (the page as the browser asks for it, rendered HTML)
    role: str
    path: str
    table: str  # the table of its main query: the slowest SELECT from it is the one explained


def subjects(exclude_helplines: tuple[int, ...] = ()) -> dict[str, Any]:
    """Who reads what: the seeded helpline with the most cases, an operator with assigned cases there, a
    supervisor of it, the agency user of the agency with the most sent referrals, and a recent
    case the operator may see."""
    from django.db.models import Count

    from cases.models import Case
    from cases.selectors import case_queryset_for
    from helpline.models import Role, User
    from referrals.models import Referral

    top = (
        Case.objects.exclude(helpline_id__in=exclude_helplines)
        .values("helpline_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if top is None:
        raise RuntimeError("the seeded database has no cases")
    helpline_id = top["helpline_id"]
    staff = User.objects.filter(helpline_id=helpline_id, is_active=True)
    assigned = (
        Case.objects.filter(helpline_id=helpline_id, assigned_to__role=Role.OPERATOR)
        .order_by("-id")
        .values_list("assigned_to_id", flat=True)
        .first()
    )
    operator = (
        staff.filter(pk=assigned).first()
        if assigned
        else staff.filter(role=Role.OPERATOR).order_by("id").first()
    )
    supervisor = staff.filter(role=Role.SUPERVISOR).order_by("id").first()
    busiest = (
        Referral.objects.filter(helpline_id=helpline_id, state="sent")
        .values("agency_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    agency_users = staff.filter(role=Role.AGENCY)
    agency = (
        agency_users.filter(agency_membership__agency_id=busiest["agency_id"]).first() if busiest else None
    ) or agency_users.order_by("id").first()
    missing = [
        name
        for name, user in (("operator", operator), ("supervisor", supervisor), ("agency", agency))
        if not user
    ]
    if missing:
        raise RuntimeError(f"the seeded helpline {helpline_id} has no active {', '.join(missing)} user")
    case_id = (
        case_queryset_for(operator)
        .filter(helpline_id=helpline_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    if case_id is None:
        raise RuntimeError(f"operator {operator.pk} sees no case")
    return {
        **_search_subjects(helpline_id, case_id),
        "helpline_id": helpline_id,
        "operator": operator,
        "supervisor": supervisor,
        "agency": agency,
        "case_id": case_id,
    }


def _search_subjects(helpline_id: int, case_id: int) -> dict[str, str]:
    """What the search reads look for: the operator's case by its reference, a reporter's number
    as people write it (spaced, international), and a seeded first name (a common one: every pooled
    name is, so this is search's worst case, thousands of matches to order)."""
    import phonenumbers

    from bench.scale.shapes import FIRST_NAMES
    from cases.models import Case

    reference = Case.objects.filter(pk=case_id).values_list("reference", flat=True).get()
    with_phone = (
        Case.objects.filter(helpline_id=helpline_id, anonymised_at__isnull=True)
        .exclude(reporter_phone_hash="")
        .only("reporter_phone")
        .order_by("-id")
        .first()
    )
    phone = ""
    if with_phone is not None:
        number = phonenumbers.parse(with_phone.reporter_phone)
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return {"search_reference": reference, "search_phone": phone or reference, "search_name": FIRST_NAMES[4]}


def reads(who: dict[str, Any]) -> list[Read]:
    operator_id, case_id = who["operator"].pk, who["case_id"]

    def search(text: str) -> str:
        return "/api/v1/cases/?" + urllib.parse.urlencode({"q": text})

    return [
        Read(
            "queue",
            "operator queue: intake, unassigned",
            "operator",
            "/api/v1/cases/?state=intake&unassigned=true&ordering=created_at",
            CASES,
        ),
        # The intake queue as operators work it (issue #15): most severe first, then soonest due.
        Read(
            "queue_urgency",
            "operator queue: intake, by urgency",
            "operator",
            "/api/v1/cases/?state=intake&ordering=urgency",
            CASES,
        ),
        Read(
            "follow_up_due",
            "follow-ups by due date",
            "supervisor",
            "/api/v1/cases/?state=follow_up&ordering=next_action_due_at",
            CASES,
        ),
        Read(
            "case_list",
            "case list: state, risk, assignee",
            "supervisor",
            f"/api/v1/cases/?state=assessment&state=follow_up&risk_level=high&risk_level=critical&assigned_to={operator_id}&ordering=-updated_at",
            CASES,
        ),
        Read("case_detail", "case detail", "operator", f"/api/v1/cases/{case_id}/", CASES),
        Read("case_history", "case history", "supervisor", f"/api/v1/cases/{case_id}/history/", AUDIT),
        Read(
            "referrals_agency", "agency referrals: sent", "agency", "/api/v1/referrals/?state=sent", REFERRALS
        ),
        Read("audit_case", "audit by case", "supervisor", f"/api/v1/audit/?case={case_id}", AUDIT),
        Read("audit_actor", "audit by actor", "supervisor", f"/api/v1/audit/?actor={operator_id}", AUDIT),
        Read("search_reference", "search: a reference", "operator", search(who["search_reference"]), CASES),
        Read("search_phone", "search: a phone number", "supervisor", search(who["search_phone"]), CASES),
        Read("search_name", "search: a common first name", "supervisor", search(who["search_name"]), CASES),
        # The console's pages as an operator's browser asks for them (issue #17): the queue (open
        # cases in scope, by urgency, 50 rows rendered) and a case's workspace.
        # The helpline's numbers (issue #18): a year of contacts by channel and call type, and the
        # last full year's CHI report, each read from the roll-ups.
        Read(
            "report_year",
            "report: a year by channel, call type",
            "supervisor",
            report_year(),
            "reports_contactday",
        ),
        Read("report_chi", "report: CHI, last year", "supervisor", report_chi(), "reports_contacttraitday"),
        Read("console_queue", "console: the queue page", "operator_console", "/console/queue/", CASES),
        Read(
            "console_case", "console: a case's page", "operator_console", f"/console/cases/{case_id}/", CASES
        ),
    ]


def report_year() -> str:
    from datetime import date, timedelta

    today = date.today()
    query = [("date_from", str(today - timedelta(days=364))), ("date_to", str(today))]
    return "/api/v1/reports/contacts/?" + urllib.parse.urlencode(
        [*query, ("by", "channel"), ("by", "call_type")]
    )


def report_chi() -> str:
    from datetime import date

    return f"/api/v1/reports/chi/?year={date.today().year - 1}"


def tokens(who: dict[str, Any]) -> dict[str, str]:
    """A knox token per role (as signing in would make; supervisors' second factor is checked at
    sign-in, not per request), and the operator's console session."""
    from django.conf import settings
    from django.test import Client
    from knox.models import AuthToken

    from helpline.sign_in import SEEN_KEY

    keys = {
        role: AuthToken.objects.create(user=who[role])[1] for role in ("operator", "supervisor", "agency")
    }
    browser = Client()
    browser.force_login(who["operator"], backend="django.contrib.auth.backends.ModelBackend")
    session = browser.session
    session[SEEN_KEY] = time.time()  # as the console's sign-in starts its idle clock
    session.save()
    keys["operator_console"] = browser.cookies[settings.SESSION_COOKIE_NAME].value
    return keys


def credentials(read: Read, key: str) -> dict[str, str]:
    """The request headers that sign `read` in: a token, or the console's session cookie."""
    if read.role.endswith("_console"):
        from django.conf import settings

        return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"}
    return {"Authorization": f"Token {key}"}


def measure(base_url: str, read: Read, token: str, *, repeats: int, warmup: int = 2) -> Result:
    """`repeats` sequential requests on one keep-alive connection; non-200 answers are errors."""
    parsed = urllib.parse.urlsplit(base_url)
    result = Result(read.label)
    headers = credentials(read, token)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    start = time.monotonic()
    try:
        for i in range(warmup + repeats):
            sent = time.monotonic()
            try:
                conn.request("GET", read.path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                ok = False
            if i == warmup - 1 or (warmup == 0 and i == 0):
                start = time.monotonic()
            if i < warmup:
                continue
            if ok:
                result.latencies.append(time.monotonic() - sent)
            else:
                result.errors += 1
    finally:
        conn.close()
    result.seconds = time.monotonic() - start
    return result


def repeat_for(base_url: str, read: Read, token: str, *, seconds: float) -> int:
    """The read again and again on one connection for `seconds` (a load to profile); how many."""
    parsed = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    deadline, count = time.monotonic() + seconds, 0
    try:
        while time.monotonic() < deadline:
            try:
                conn.request("GET", read.path, headers=credentials(read, token))
                conn.getresponse().read()
                count += 1
            except (OSError, http.client.HTTPException):
                conn.close()
    finally:
        conn.close()
    return count


def _first_table(sql: str) -> str:
    """The table of a SELECT's first FROM (not of a subquery in its WHERE)."""
    found = re.search(r'\sFROM\s+"(\w+)"', sql)
    return found.group(1) if found else ""


def explain(read: Read, token: str, directory: Path) -> str:
    """Runs the request once in this process, captures its SQL, and writes the EXPLAIN (ANALYZE,
    BUFFERS) of its slowest SELECT from its main table; returns that SELECT."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    if read.role.endswith("_console"):
        from django.conf import settings
        from django.test import Client

        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies[settings.SESSION_COOKIE_NAME] = token
    else:
        client = APIClient(HTTP_HOST="127.0.0.1")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with warnings.catch_warnings(), CaptureQueriesContext(connection) as captured:
        warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic
        response = client.get(read.path)
    queries = [q for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    own = [q for q in queries if _first_table(q["sql"]) == read.table]
    main = max(own or queries, key=lambda q: float(q["time"]))["sql"] if queries else ""
    lines = [
        f"{read.label}: GET {read.path} as {read.role} -> {response.status_code}",
        "",
        f"{len(captured.captured_queries)} queries (seconds, SQL):",
        *(f"  {float(q['time']):.4f}  {q['sql']}" for q in captured.captured_queries),
        "",
        f"Main (the slowest SELECT from {read.table}):",  # nosec B608  # report text, not SQL
        main,
        "",
    ]
    if main:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {main}")
            lines += [row[0] for row in cursor.fetchall()]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{read.key}.txt").write_text("\n".join(lines) + "\n")
    return main
