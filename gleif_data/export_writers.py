"""File writers for exports: each takes the header and chunks of rows, and streams them out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import xlsxwriter

Rows = Iterable[Sequence[Sequence[Any]]]
Progress = Callable[[int], None]

XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CELL_CHARS = 32_767


# The NULL marker of PostgreSQL's COPY (gleif_data.export): a text equal to it is quoted.
COPY_NULL = "\\N"
_QUOTED_CHARACTERS = ',"\r\n'


class ExportLimitError(Exception):
    """The rows do not fit the chosen format."""


def write_csv(out: BinaryIO, header: Sequence[str], chunks: Rows, progress: Progress) -> int:
    """UTF-8 CSV, RFC 4180 quoting, LF line ends: the bytes PostgreSQL's COPY writes."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(_LfLines(text), lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for chunk in chunks:
        if any(COPY_NULL in row for row in chunk):
            for row in chunk:
                if COPY_NULL in row:
                    text.write(_copy_line(row))
                else:
                    writer.writerow(row)
        else:
            writer.writerows(chunk)
        count += len(chunk)
        progress(len(chunk))
    text.detach()  # leave `out` open for the caller
    return count


def _copy_line(row: Sequence[Any]) -> str:
    """One CSV line as COPY writes it: csv.writer's quoting, and the NULL marker quoted."""
    cells = []
    for value in row:
        cell = "" if value is None else str(value)
        # COPY quotes a value equal to its NULL marker, to tell the text from NULL.
        if cell == COPY_NULL or any(ch in cell for ch in _QUOTED_CHARACTERS):
            cell = '"' + cell.replace('"', '""') + '"'
        cells.append(cell)
    return ",".join(cells) + "\n"


class _LfLines:
    """Receives csv.writer's lines, which end in CRLF, and passes them on ending in LF.

    With an LF terminator Python 3.11's writer leaves a lone CR unquoted, which breaks the
    row in every reader; with CRLF it quotes any CR or LF. csv.writer calls write() once
    per row, so the last two characters are always the terminator.
    """

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text

    def write(self, line: str) -> None:
        self._text.write(line[:-2] + "\n")


def write_xlsx(out: BinaryIO, header: Sequence[str], chunks: Rows, progress: Progress) -> int:
    """One worksheet, written row by row; strings are always strings, never formulas."""
    workbook = xlsxwriter.Workbook(
        out, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    # A fixed creation date: the same export then gives the same bytes from the CLI, the
    # route and the page (xlsxwriter already fixes the zip members' timestamps).
    workbook.set_properties({"created": datetime(2000, 1, 1, tzinfo=UTC)})
    sheet = workbook.add_worksheet("export")
    bold = workbook.add_format({"bold": True})
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(header):
        sheet.write_string(0, col, name, bold)
        sheet.set_column(col, col, 18 if name != "all_legal_names" else 60)
    row_index = 0
    for chunk in chunks:
        for row in chunk:
            row_index += 1
            if row_index >= XLSX_MAX_ROWS:
                raise ExportLimitError(
                    f"more than {XLSX_MAX_ROWS - 1:,} rows do not fit one XLSX sheet; "
                    "narrow the filters or export CSV or Parquet"
                )
            for col, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    if len(value) > XLSX_MAX_CELL_CHARS:
                        raise ExportLimitError(
                            f"row {row_index}: column {header[col]!r} has {len(value):,} "
                            f"characters, more than the {XLSX_MAX_CELL_CHARS:,} "
                            "an XLSX cell holds; export CSV or Parquet"
                        )
                    sheet.write_string(row_index, col, value)
                else:
                    sheet.write_number(row_index, col, value)
        progress(len(chunk))
    workbook.close()
    return row_index


def write_parquet(
    out: BinaryIO, header: Sequence[str], chunks: Rows, progress: Progress, schema: pa.Schema
) -> int:
    """Parquet, one row group per chunk of rows."""
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        for chunk in chunks:
            columns = list(zip(*chunk, strict=True)) if chunk else [[] for _ in header]
            writer.write_batch(pa.record_batch(columns, schema=schema))
            count += len(chunk)
            progress(len(chunk))
        if count == 0:
            writer.write_table(schema.empty_table())
    return count


def write_parquet_from_csv(
    out: BinaryIO, blocks: Iterable[bytes], progress: Progress, schema: pa.Schema
) -> int:
    """Parquet from CSV bytes with a header (PostgreSQL's COPY output), parsed by Arrow.

    No Python object per row or cell: Arrow's CSV reader turns the bytes into columns. NULL is
    the unquoted marker \\N, as COPY writes it; a quoted "\\N" and an empty field are text.
    """
    reader = pa_csv.open_csv(
        pa.PythonFile(io.BufferedReader(_BlockStream(blocks), _CSV_BLOCK), mode="r"),
        read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=schema,
            null_values=["\\N"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        for batch in reader:
            writer.write_batch(batch.select(schema.names).cast(schema))
            count += batch.num_rows
            progress(batch.num_rows)
        if count == 0:
            writer.write_table(schema.empty_table())
    return count


_CSV_BLOCK = 2 * 1024 * 1024  # about 20,000 export rows: one Parquet row group


class _BlockStream(io.RawIOBase):
    """A readable raw stream over an iterator of byte blocks."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def write_json(out: BinaryIO, header: Sequence[str], chunks: Rows, progress: Progress) -> int:
    """A JSON array of objects, one object per line, UTF-8 unescaped."""
    count = 0
    out.write(b"[")
    for chunk in chunks:
        parts = []
        for row in chunk:
            prefix = ",\n" if count else "\n"
            parts.append(
                prefix + json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False)
            )
            count += 1
        out.write("".join(parts).encode("utf-8"))
        progress(len(chunk))
    out.write(b"\n]\n")
    return count
