"""An export's rows into its format, onto a binary sink (reports.exports.sealed: encrypted as it is
written), a batch at a time: CSV, NDJSON and Parquet in flat memory whatever the rows; XLSX, a
zipped format written at its end, holds its sheet in memory and stops at the sheet's million rows.

Times are on the helpline's clock with its offset, to the second (Parquet: timestamps in its time
zone; XLSX: the helpline's wall clock, the format has no zone). In CSV no text cell starts a
spreadsheet formula (helpline.audit_export.cell); NDJSON and Parquet carry the values as they are."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, BinaryIO, Protocol
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from helpline.audit_export import cell

from ..models import ExportFormat
from .datasets import Column, Kind

XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


class TooManyRows(Exception):
    """More rows than the format holds (XLSX)."""


class RowWriter(Protocol):
    def write(self, rows: Sequence[tuple]) -> None: ...

    def close(self) -> None: ...


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return value.astimezone(zone) if value is not None else None


class CsvWriter:
    def __init__(self, sink: BinaryIO, columns: tuple[Column, ...], zone: ZoneInfo):
        self.sink, self.columns, self.zone = sink, columns, zone
        self._line([c.name for c in columns])

    def _line(self, *rows: Sequence[Any]) -> None:
        buffer = io.StringIO()
        # Lines end in \n, as PostgreSQL's COPY writes them (reports.exports.copy_csv).
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        self.sink.write(buffer.getvalue().encode())

    def _cell(self, column: Column, value: Any) -> Any:
        if value is None:
            return ""
        if column.kind is Kind.TIME:
            return value.astimezone(self.zone).isoformat(timespec="seconds")
        if column.kind is Kind.LIST:
            return cell(";".join(value))
        if column.kind is Kind.TEXT:
            return cell(value)
        return value

    def write(self, rows: Sequence[tuple]) -> None:
        columns = self.columns
        self._line(*([self._cell(c, v) for c, v in zip(columns, row, strict=True)] for row in rows))

    def close(self) -> None:
        pass


class NdjsonWriter:
    def __init__(self, sink: BinaryIO, columns: tuple[Column, ...], zone: ZoneInfo):
        self.sink, self.names, self.zone = sink, [c.name for c in columns], zone
        self.times = [i for i, c in enumerate(columns) if c.kind is Kind.TIME]

    def write(self, rows: Sequence[tuple]) -> None:
        lines = []
        for row in rows:
            values = list(row)
            for i in self.times:
                if values[i] is not None:
                    values[i] = values[i].astimezone(self.zone).isoformat(timespec="seconds")
            lines.append(json.dumps(dict(zip(self.names, values, strict=True)), ensure_ascii=False))
        self.sink.write(("\n".join(lines) + "\n").encode() if lines else b"")

    def close(self) -> None:
        pass


def _arrow_type(kind: Kind, zone: ZoneInfo) -> pa.DataType:
    return {
        Kind.TEXT: pa.string(),
        Kind.INTEGER: pa.int64(),
        Kind.BOOLEAN: pa.bool_(),
        Kind.TIME: pa.timestamp("us", tz=zone.key),
        Kind.LIST: pa.list_(pa.string()),
    }[kind]


class ParquetWriter:
    def __init__(self, sink: BinaryIO, columns: tuple[Column, ...], zone: ZoneInfo):
        # The data dictionary travels in the schema: each field's description and tag.
        self.schema = pa.schema(
            [
                pa.field(
                    c.name,
                    _arrow_type(c.kind, zone),
                    metadata={"description": str(c.description), "personal_data": c.tag or ""},
                )
                for c in columns
            ]
        )
        self.file = pa.PythonFile(sink, mode="w")
        self.writer = pq.ParquetWriter(self.file, self.schema, compression="zstd")

    def write(self, rows: Sequence[tuple]) -> None:
        if rows:
            self.writer.write_table(
                pa.Table.from_pylist([], schema=self.schema) if not rows else self._table(rows)
            )

    def _table(self, rows: Sequence[tuple]) -> pa.Table:
        arrays = [
            pa.array(list(values), type=field.type)
            for values, field in zip(zip(*rows, strict=True), self.schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def close(self) -> None:
        self.writer.close()  # the footer; the sink itself is closed by its owner


class XlsxWriter:
    def __init__(self, sink: BinaryIO, columns: tuple[Column, ...], zone: ZoneInfo):
        self.sink, self.columns, self.zone = sink, columns, zone
        self.buffer = io.BytesIO()
        self.book = xlsxwriter.Workbook(self.buffer, {"in_memory": True, "strings_to_formulas": False})
        self.sheet = self.book.add_worksheet("export")
        self.time = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.sheet.write_row(0, 0, [c.name for c in columns], self.book.add_format({"bold": True}))
        self.row = 0

    def write(self, rows: Sequence[tuple]) -> None:
        if self.row + len(rows) > XLSX_MAX_ROWS:
            raise TooManyRows()
        sheet = self.sheet
        for row in rows:
            self.row += 1
            for column, (spec, value) in enumerate(zip(self.columns, row, strict=True)):
                if value is None or value == "":
                    continue
                if spec.kind is Kind.TIME:
                    sheet.write_datetime(
                        self.row, column, value.astimezone(self.zone).replace(tzinfo=None), self.time
                    )
                elif spec.kind is Kind.LIST:
                    sheet.write_string(self.row, column, ";".join(value))
                elif spec.kind is Kind.TEXT:
                    sheet.write_string(self.row, column, str(value))  # text, never a formula
                elif spec.kind is Kind.BOOLEAN:
                    sheet.write_boolean(self.row, column, value)
                else:
                    sheet.write_number(self.row, column, value)

    def close(self) -> None:
        self.book.close()
        self.sink.write(self.buffer.getbuffer())
        self.buffer = io.BytesIO()


WRITERS: dict[str, type] = {
    ExportFormat.CSV: CsvWriter,
    ExportFormat.NDJSON: NdjsonWriter,
    ExportFormat.PARQUET: ParquetWriter,
    ExportFormat.XLSX: XlsxWriter,
}

CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.NDJSON: "application/x-ndjson",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def row_writer(file_format: str, sink: BinaryIO, columns: tuple[Column, ...], zone: ZoneInfo) -> RowWriter:
    return WRITERS[file_format](sink, columns, zone)
