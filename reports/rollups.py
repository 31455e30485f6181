"""Keeping the roll-ups (reports.models) equal to the raw tables, never scanning them per request.

- `rollups_refresh`: takes the hours a trigger marked (RollupDirty) and recounts each from the raw
  contacts of that hour, deleting the marks in the same transaction: a crash loses nothing (the
  marks come back with the rollback) and counts nothing twice (an hour is recounted whole, never
  added to). One runner at a time (a PostgreSQL advisory lock); Celery beat calls it every
  `ROLLUP_SWEEP_SECONDS`.
- `rollups_rebuild`: recounts a helpline (or all) from scratch: after a restore, or to check
  (`manage.py rollups_rebuild`). A change of a helpline's time zone needs none: a trigger on
  `helpline_helpline` marks the whole helpline, which the next refresh recounts.
- `rollups_differences`: what the roll-ups say that a recount would not (tests, `--check`).

Each hour is the helpline's own (its date and hour on its wall clock): `started_at AT TIME ZONE` the
helpline's zone, which PostgreSQL computes with the same tz database for every row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection, transaction

# pg_advisory_xact_lock key: one roll-up runner at a time ("LFRU" in ASCII).
ROLLUP_LOCK = 0x4C465255
REFRESH_BATCH = 20_000  # marks taken per run; the rest wait for the next run

# A contact's hour on its helpline's clock, and that hour's bounds in UTC widened by an hour on each
# side (a shift of daylight saving time moves local hours against UTC by at most that), so that the
# recount reads the helpline's (helpline_id, started_at) index and not the whole table.
LOCAL = "(c.started_at AT TIME ZONE h.timezone)"
COUNTED = f"""
    SELECT c.helpline_id, {LOCAL}::date AS day, extract(hour FROM {LOCAL})::int AS hour,
           c.channel, c.direction, c.call_type, c.language,
           count(*) AS contacts, count(c.ended_at) AS ended,
           coalesce(sum(extract(epoch FROM c.ended_at - c.started_at)), 0)::float8 AS handle_seconds
    FROM cases_contact c JOIN helpline_helpline h ON h.id = c.helpline_id
"""
GROUPED = "GROUP BY 1, 2, 3, 4, 5, 6, 7"  # by position: the marked hours (m) have columns of the same names
COLUMNS = "helpline_id, day, hour, channel, direction, call_type, language, contacts, ended, handle_seconds"

# The hourly rows summed by day (ContactDay): what reports read unless they group by the hour.
DAY_COLUMNS = "helpline_id, day, channel, direction, call_type, language, contacts, ended, handle_seconds"
DAYS_OF_HOURS = """
    SELECT r.helpline_id, r.day, r.channel, r.direction, r.call_type, r.language,
           sum(r.contacts), sum(r.ended), sum(r.handle_seconds)
    FROM reports_contacthour r
"""
DAYS_GROUPED = "GROUP BY 1, 2, 3, 4, 5, 6"

# The cases report's day roll-up (CaseDay): each case counted on the day it was opened and, if it is
# closed, on the day it was closed, by its team and risk level now. `{where}`: a condition on k.
CASE_DAY_COLUMNS = "helpline_id, day, team_id, risk_level, opened, closed"
CASE_COUNTED = """
    SELECT helpline_id, day, team_id, risk_level, sum(opened), sum(closed) FROM (
        SELECT k.helpline_id, (k.created_at AT TIME ZONE h.timezone)::date AS day, k.team_id,
               k.risk_level, 1 AS opened, 0 AS closed
        FROM cases_case k JOIN helpline_helpline h ON h.id = k.helpline_id {where}
        UNION ALL
        SELECT k.helpline_id, (k.closed_at AT TIME ZONE h.timezone)::date, k.team_id, k.risk_level, 0, 1
        FROM cases_case k JOIN helpline_helpline h ON h.id = k.helpline_id
        WHERE k.closed_at IS NOT NULL {also}
    ) AS counted GROUP BY 1, 2, 3, 4
"""


def _case_counted(condition: str = "") -> str:
    return CASE_COUNTED.format(
        where=f"WHERE {condition}" if condition else "", also=f"AND {condition}" if condition else ""
    )


# The CHI report's day roll-up (ContactTraitDay): inbound contacts by call type and one trait of
# their case's child at a time (its exact age, or else its age range; its gender; each of its
# categories), so that a year is tens of thousands of rows and not one per contact. `join` and
# `where` apply to each of the three parts: their parameters are given three times.
TRAIT_COLUMNS = "helpline_id, day, call_type, trait, value, contacts"


def _traits_counted(*, join: str = "", where: str = "") -> str:
    def source(lateral: str = "") -> str:
        return f"""
            FROM cases_contact c JOIN helpline_helpline h ON h.id = c.helpline_id
            LEFT JOIN cases_case k ON k.id = c.case_id {lateral} {join}
            WHERE c.direction = 'inbound' {f"AND {where}" if where else ""}
        """

    day = f"{LOCAL}::date"
    categories = "CROSS JOIN LATERAL (SELECT DISTINCT unnest(k.categories) AS code) AS x"
    return f"""
        SELECT helpline_id, day, call_type, trait, value, count(*) FROM (
            SELECT c.helpline_id, {day} AS day, c.call_type,
                   CASE WHEN k.child_age IS NULL THEN 'age_range' ELSE 'age' END AS trait,
                   coalesce(k.child_age::text, k.child_age_range, 'unknown') AS value
            {source()}
            UNION ALL
            SELECT c.helpline_id, {day}, c.call_type, 'gender', coalesce(k.child_gender, 'unknown')
            {source()}
            UNION ALL
            SELECT c.helpline_id, {day}, c.call_type, 'category', x.code
            {source(categories)}
        ) AS traits GROUP BY 1, 2, 3, 4, 5
    """


def rollups_refresh(*, limit: int = REFRESH_BATCH, wait: bool = False) -> int:
    """Recounts the hours marked since the last run (at most `limit` marks), and whole helplines
    whose time zone changed; returns how many hours and helplines were recounted (0 when nothing
    changed, or another runner holds the lock and `wait` is False)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        else:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK])
            if not cursor.fetchone()[0]:
                return 0
        # A mark without an instant (at IS NULL) is a whole helpline: its day and hour are NULL.
        cursor.execute(
            """
            WITH taken AS (
                DELETE FROM reports_rollupdirty
                WHERE id IN (SELECT id FROM reports_rollupdirty ORDER BY id LIMIT %s)
                RETURNING helpline_id, at
            )
            SELECT DISTINCT t.helpline_id, (t.at AT TIME ZONE h.timezone)::date,
                   extract(hour FROM t.at AT TIME ZONE h.timezone)::int
            FROM taken t JOIN helpline_helpline h ON h.id = t.helpline_id
            """,
            [limit],
        )
        marked = cursor.fetchall()
        whole = sorted({helpline for helpline, day, _hour in marked if day is None})
        hours = [mark for mark in marked if mark[1] is not None and mark[0] not in whole]
        if whole:
            _recount_helplines(cursor, whole)
        if hours:
            _recount(cursor, hours)
            days = sorted({(helpline, day) for helpline, day, _hour in hours})
            _recount_days(cursor, days)
            _recount_trait_days(cursor, days)
            _recount_case_days(cursor, days)
        return len(whole) + len(hours)


def _recount_helplines(cursor, helpline_ids: list[int]) -> int:
    cursor.execute("DELETE FROM reports_contacthour WHERE helpline_id = ANY(%s)", [helpline_ids])
    cursor.execute(
        f"INSERT INTO reports_contacthour ({COLUMNS}) {COUNTED} WHERE c.helpline_id = ANY(%s) {GROUPED}",
        [helpline_ids],
    )
    written = cursor.rowcount
    cursor.execute("DELETE FROM reports_contactday WHERE helpline_id = ANY(%s)", [helpline_ids])
    cursor.execute(
        f"INSERT INTO reports_contactday ({DAY_COLUMNS}) {DAYS_OF_HOURS} "
        f"WHERE r.helpline_id = ANY(%s) {DAYS_GROUPED}",
        [helpline_ids],
    )
    written += cursor.rowcount
    cursor.execute("DELETE FROM reports_caseday WHERE helpline_id = ANY(%s)", [helpline_ids])
    cursor.execute(
        f"INSERT INTO reports_caseday ({CASE_DAY_COLUMNS}) {_case_counted('k.helpline_id = ANY(%s)')}",
        [helpline_ids, helpline_ids],
    )
    written += cursor.rowcount
    cursor.execute("DELETE FROM reports_contacttraitday WHERE helpline_id = ANY(%s)", [helpline_ids])
    cursor.execute(
        f"INSERT INTO reports_contacttraitday ({TRAIT_COLUMNS}) "
        f"{_traits_counted(where='c.helpline_id = ANY(%s)')}",
        [helpline_ids] * 3,
    )
    return written + cursor.rowcount


MARKED_DAYS = "SELECT * FROM unnest(%s::bigint[], %s::date[]) AS m(helpline_id, day)"


def _forget_days(cursor, table: str, days: list[tuple[int, date]]) -> tuple[list[int], list[date]]:
    """Deletes a roll-up's rows of these days (to be recounted whole); their helplines and dates."""
    helplines, dates = (list(column) for column in zip(*days, strict=True))
    cursor.execute(
        f"DELETE FROM {table} r USING ({MARKED_DAYS}) m "
        "WHERE r.helpline_id = m.helpline_id AND r.day = m.day",
        [helplines, dates],
    )
    return helplines, dates


def _recount_days(cursor, days: list[tuple[int, date]]) -> None:
    """Sums these days' hourly rows (just recounted) into their day rows."""
    helplines, dates = _forget_days(cursor, "reports_contactday", days)
    marked = MARKED_DAYS
    cursor.execute(
        f"""
        INSERT INTO reports_contactday ({DAY_COLUMNS})
        {DAYS_OF_HOURS} JOIN ({marked}) m ON m.helpline_id = r.helpline_id AND m.day = r.day
        {DAYS_GROUPED}
        """,
        [helplines, dates],
    )


def _recount_case_days(cursor, days: list[tuple[int, date]]) -> None:
    """Recounts these days of the cases roll-up whole: the cases opened and those closed on each
    (by the cases' (helpline, created_at) and (helpline, closed_at) indexes)."""
    helplines, dates = _forget_days(cursor, "reports_caseday", days)
    marked = MARKED_DAYS
    bounds = """
        JOIN ({marked}) m ON m.helpline_id = k.helpline_id
        WHERE k.{column} >= (m.day::timestamp AT TIME ZONE h.timezone)
          AND k.{column} < ((m.day + 1)::timestamp AT TIME ZONE h.timezone)
    """
    cursor.execute(
        f"""
        INSERT INTO reports_caseday ({CASE_DAY_COLUMNS})
        SELECT helpline_id, day, team_id, risk_level, sum(opened), sum(closed) FROM (
            SELECT k.helpline_id, m.day, k.team_id, k.risk_level, 1 AS opened, 0 AS closed
            FROM cases_case k JOIN helpline_helpline h ON h.id = k.helpline_id
            {bounds.format(marked=marked, column="created_at")}
            UNION ALL
            SELECT k.helpline_id, m.day, k.team_id, k.risk_level, 0, 1
            FROM cases_case k JOIN helpline_helpline h ON h.id = k.helpline_id
            {bounds.format(marked=marked, column="closed_at")}
        ) AS counted GROUP BY 1, 2, 3, 4
        """,
        [helplines, dates, helplines, dates],
    )


def _recount_trait_days(cursor, days: list[tuple[int, date]]) -> None:
    """Recounts these days of the CHI roll-up whole (a day's inbound contacts, from the helpline's
    midnight to the next, read by the contacts' (helpline, started_at) index)."""
    helplines, dates = _forget_days(cursor, "reports_contacttraitday", days)
    marked = MARKED_DAYS
    counted = _traits_counted(
        join=f"JOIN ({marked}) m ON m.helpline_id = c.helpline_id",
        where="c.started_at >= (m.day::timestamp AT TIME ZONE h.timezone) "
        "AND c.started_at < ((m.day + 1)::timestamp AT TIME ZONE h.timezone)",
    )
    cursor.execute(f"INSERT INTO reports_contacttraitday ({TRAIT_COLUMNS}) {counted}", [helplines, dates] * 3)


def _recount(cursor, hours: list[tuple[int, date, int]]) -> None:
    helplines, days, numbers = (list(column) for column in zip(*hours, strict=True))
    marked = "SELECT * FROM unnest(%s::bigint[], %s::date[], %s::int[]) AS m(helpline_id, day, hour)"
    cursor.execute(
        f"""
        DELETE FROM reports_contacthour r USING ({marked}) m
        WHERE r.helpline_id = m.helpline_id AND r.day = m.day AND r.hour = m.hour
        """,
        [helplines, days, numbers],
    )
    cursor.execute(
        f"""
        INSERT INTO reports_contacthour ({COLUMNS})
        {COUNTED}
        JOIN ({marked}) m ON m.helpline_id = c.helpline_id
        WHERE c.started_at >= ((m.day + make_interval(hours => m.hour - 1)) AT TIME ZONE h.timezone)
          AND c.started_at < ((m.day + make_interval(hours => m.hour + 2)) AT TIME ZONE h.timezone)
          AND {LOCAL}::date = m.day AND extract(hour FROM {LOCAL}) = m.hour
        {GROUPED}
        """,
        [helplines, days, numbers],
    )


def rollups_rebuild(*, helpline_ids: Iterable[int] | None = None) -> int:
    """Recounts these helplines (all when None) from scratch; returns the roll-up rows written.
    Waits for a running refresh; marks of these helplines are dropped, as the recount reads every
    change committed before it (a change committed later leaves its own mark)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        if helpline_ids is None:
            cursor.execute("DELETE FROM reports_rollupdirty")
            cursor.execute("DELETE FROM reports_contacthour")
            cursor.execute(f"INSERT INTO reports_contacthour ({COLUMNS}) {COUNTED} {GROUPED}")
            written = cursor.rowcount
            cursor.execute("DELETE FROM reports_contactday")
            cursor.execute(f"INSERT INTO reports_contactday ({DAY_COLUMNS}) {DAYS_OF_HOURS} {DAYS_GROUPED}")
            written += cursor.rowcount
            cursor.execute("DELETE FROM reports_caseday")
            cursor.execute(f"INSERT INTO reports_caseday ({CASE_DAY_COLUMNS}) {_case_counted()}")
            written += cursor.rowcount
            cursor.execute("DELETE FROM reports_contacttraitday")
            cursor.execute(f"INSERT INTO reports_contacttraitday ({TRAIT_COLUMNS}) {_traits_counted()}")
            return written + cursor.rowcount
        ids = sorted(set(helpline_ids))
        cursor.execute("DELETE FROM reports_rollupdirty WHERE helpline_id = ANY(%s)", [ids])
        return _recount_helplines(cursor, ids)


def rollups_differences(*, helpline_ids: Iterable[int] | None = None) -> list[tuple]:
    """Roll-up rows that differ from a recount of the raw contacts and cases, both ways ("rollup"
    rows that should not be there or are wrong, "recount" rows missing; the other roll-ups' prefixed
    "cases", "day", "traits"): empty when they agree."""
    ids = None if helpline_ids is None else sorted(set(helpline_ids))
    only = "" if ids is None else "helpline_id = ANY(%(ids)s)"
    raw_only = "" if ids is None else "c.helpline_id = ANY(%(ids)s)"
    # Sums of seconds as floats may differ in their last bits by the order they were added in.
    rounded = COLUMNS.replace("handle_seconds", "round(handle_seconds::numeric, 3)")
    hours = _differences(
        rollup=f"SELECT {rounded} FROM reports_contacthour {_where(only)}",
        recount=f"SELECT {rounded} FROM ({COUNTED} {_where(raw_only)} {GROUPED}) AS counted",
        ids=ids,
    )
    days_rounded = DAY_COLUMNS.replace("handle_seconds", "round(handle_seconds::numeric, 3)")
    by_day = (
        "SELECT helpline_id, day, channel, direction, call_type, language, sum(contacts) AS contacts, "
        "sum(ended) AS ended, sum(handle_seconds) AS handle_seconds "
        f"FROM ({COUNTED} {_where(raw_only)} {GROUPED}) AS counted GROUP BY 1, 2, 3, 4, 5, 6"
    )
    days = _differences(
        rollup=f"SELECT {days_rounded} FROM reports_contactday {_where(only)}",
        recount=f"SELECT {days_rounded} FROM ({by_day}) AS counted_days",
        ids=ids,
    )
    cases = _differences(
        rollup=f"SELECT {CASE_DAY_COLUMNS} FROM reports_caseday {_where(only)}",
        recount=_case_counted("k.helpline_id = ANY(%(ids)s)" if ids is not None else ""),
        ids=ids,
    )
    traits = _differences(
        rollup=f"SELECT {TRAIT_COLUMNS} FROM reports_contacttraitday {_where(only)}",
        recount=_traits_counted(where="c.helpline_id = ANY(%(ids)s)" if ids is not None else ""),
        ids=ids,
    )
    return (
        hours
        + [(f"cases {side}", *rest) for side, *rest in cases]
        + [(f"day {side}", *rest) for side, *rest in days]
        + [(f"traits {side}", *rest) for side, *rest in traits]
    )


def _where(*conditions: str) -> str:
    present = [c for c in conditions if c]
    return f"WHERE {' AND '.join(present)}" if present else ""


def _differences(*, rollup: str, recount: str, ids: list[int] | None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH rollup AS ({rollup}), recount AS ({recount})
            (SELECT 'rollup', * FROM (SELECT * FROM rollup EXCEPT ALL SELECT * FROM recount) AS extra)
            UNION ALL
            (SELECT 'recount', * FROM (SELECT * FROM recount EXCEPT ALL SELECT * FROM rollup) AS missing)
            """,
            {"ids": ids},
        )
        return cursor.fetchall()


def rollups_waiting() -> tuple[int, float | None]:
    """How many marks wait for a run, and the age in seconds of the oldest (the roll-ups' lag:
    the oldest change not yet counted); (0, None) when none waits."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), extract(epoch FROM clock_timestamp() - min(marked_at)) FROM reports_rollupdirty"
        )
        count, age = cursor.fetchone()
        return count, (float(age) if age is not None else None)
