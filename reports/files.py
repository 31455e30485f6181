"""Report files a supervisor downloads and shares: CSV and XLSX from one table (a header and rows),
so the two formats always carry the same cells. No cell starts a spreadsheet formula (the audit
export's rule, helpline.audit_export.cell); XLSX is written row by row in constant memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import xlsxwriter

from helpline.audit_export import cell


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


CONTENT_TYPES = {
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass
class Table:
    header: list[str]
    rows: list[list[object]]
    # What the file says about itself (period, helpline, the suppression rule): a second sheet of
    # the XLSX; the CSV carries the table alone, so a program reads it as it is.
    about: list[tuple[str, str]] = field(default_factory=list)


def table_file(table: Table, file_format: FileFormat) -> bytes:
    if file_format is FileFormat.CSV:
        return _csv(table.header, table.rows)
    return _xlsx(table)


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return buffer.getvalue().encode()


def _xlsx(table: Table) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"constant_memory": True, "in_memory": True, "strings_to_formulas": False}
    )
    sheet = book.add_worksheet("report")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, table.header, bold)
    for number, row in enumerate(table.rows, start=1):
        for column, value in enumerate(row):
            if value is None:
                continue  # an empty cell, as in the CSV
            if isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(number, column, value)
            else:
                # Always as text: "<5" and "c" are not numbers, and nothing is a formula.
                sheet.write_string(number, column, str(value))
    if table.about:
        about = book.add_worksheet("about")
        for number, (name, value) in enumerate(table.about):
            about.write_string(number, 0, name)
            about.write_string(number, 1, value)
    book.close()
    return buffer.getvalue()
