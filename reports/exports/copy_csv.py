"""A pseudonymised CSV export at PostgreSQL's own speed: its rows come from `COPY (…) TO STDOUT`
formatted by the database (times on the helpline's clock, lists joined, formula-safe text, as
reports.exports.writers' CsvWriter writes them), and Python only re-keys the ids and hashes, which
every dataset puts first (reports.exports.datasets), so each line is split at its first commas and
never parsed. The key never leaves this process. Full exports, and the other formats, go through the
writers: their values are decrypted, or built, in Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, QuerySet

from helpline.audit_export import FORMULA_STARTS

from .datasets import Column, Kind, Pseudonymised, pseudonym_function

FLUSH = 1 << 20  # bytes gathered before they go to the sealed file


def _formula_safe(expression: str) -> str:
    starts = ", ".join("'" + c.replace("'", "''") + "'" for c in sorted(FORMULA_STARTS))
    return f"CASE WHEN left({expression}, 1) IN ({starts}) THEN '''' || {expression} ELSE {expression} END"


def _formatted(column: Column, name: str) -> str:
    """The column's value as CsvWriter writes it: an empty text is NULL, which COPY writes as an
    empty field, as the csv module writes "" (COPY would quote it)."""
    if column.kind is Kind.TIME:
        return f"""to_char({name}, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM')"""
    if column.kind is Kind.BOOLEAN:
        return f"CASE WHEN {name} THEN 'True' WHEN NOT {name} THEN 'False' END"
    if column.kind is Kind.LIST:
        return _formula_safe(f"NULLIF(array_to_string({name}, ';'), '')")
    if column.kind is Kind.TEXT and column.pseudonymised is Pseudonymised.REKEYED and not column.record:
        # A keyed hash: hex, or empty. Anything else would break the split at the first commas.
        return f"CASE WHEN {name} ~ '^[0-9a-f]*$' THEN NULLIF({name}, '') END"
    if column.kind is Kind.TEXT and not column.record:
        return _formula_safe(f"NULLIF({name}, '')")
    return name


def copy_sql(rows: QuerySet, columns: tuple[Column, ...], order: tuple[str, ...]) -> str | None:
    """The COPY statement of the export's rows: the same query (scope, period) as the writers
    read, its values formatted for the file, in the writers' order. None: no row can match (the
    caller's scope is empty)."""
    names = {f"x{i}": F(c.source) for i, c in enumerate(columns)}
    keys = {f"k{i}": F(field) for i, field in enumerate(order)}
    try:
        inner, params = rows.annotate(**names, **keys).values_list(*names, *keys).query.sql_with_params()
    except EmptyResultSet:
        return None
    with connection.cursor() as cursor:
        inner = cursor.mogrify(inner, params).decode()  # our own ids and times, never a person's text
    outer = ", ".join(_formatted(c, f"t.x{i}") for i, c in enumerate(columns))
    by = ", ".join(f"t.k{i}" for i in range(len(order)))
    return f"COPY (SELECT {outer} FROM ({inner}) AS t ORDER BY {by}) TO STDOUT WITH (FORMAT csv)"


class Rekeying:
    """COPY's lines in, the file's lines out: the first `count` fields re-keyed."""

    def __init__(self, columns: tuple[Column, ...], sink: BinaryIO, progress: Callable[[int], None]):
        rekeyed = [c for c in columns if c.pseudonymised is Pseudonymised.REKEYED]
        self.count = len(rekeyed)
        self.pseudonyms = [pseudonym_function(c) for c in rekeyed]
        self.sink, self.progress = sink, progress
        self.buffer: list[bytes] = []
        self.size = self.rows = 0

    def write(self, line: bytes) -> None:
        fields = line.split(b",", self.count)
        for i, pseudonym in enumerate(self.pseudonyms):
            value = fields[i]
            if value:
                fields[i] = pseudonym(value)
        out = b",".join(fields)
        self.buffer.append(out)
        self.size += len(out)
        self.rows += 1
        if self.size >= FLUSH:
            self.flush()

    def flush(self) -> None:
        self.sink.write(b"".join(self.buffer))
        self.buffer, self.size = [], 0
        self.progress(self.rows)


def copy_rows(
    rows: QuerySet,
    columns: tuple[Column, ...],
    order: tuple[str, ...],
    sink: BinaryIO,
    progress: Callable[[int], None],
) -> int:
    """Writes the rows' CSV (no header) into `sink`, ordered by `order`; returns how many. In the
    caller's transaction."""
    lines = Rekeying(columns, sink, progress)
    sql = copy_sql(rows, columns, order)
    if sql is not None:
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(sql, lines)
    lines.flush()
    return lines.rows
