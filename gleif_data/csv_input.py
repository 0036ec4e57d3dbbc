"""Read CSV files as analysts produce them (.csv, .csv.gz, .zip; UTF-8 with or without BOM)."""

from __future__ import annotations

import csv
import gzip
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gleif_data.errors import InputError

# Delimiters a spreadsheet may write: Excel uses ';' in locales with a decimal comma.
_DELIMITERS = ",;\t|"


@dataclass
class CsvRows:
    """An open CSV file: its header and an iterator of (line number, fields)."""

    path: Path
    header: list[str]
    delimiter: str
    rows: Iterator[tuple[int, list[str]]]


@contextmanager
def open_csv(path: Path) -> Iterator[CsvRows]:
    """Open a CSV file for streaming; every decoding or parsing problem is an InputError."""
    with ExitStack() as stack:
        binary = stack.enter_context(_open_binary(path))
        lines = _decoded_lines(binary, path)
        first = next(lines, None)
        if first is None or not first.strip():
            raise InputError(path, 1, "the file is empty: expected a header row")
        delimiter = _sniff_delimiter(first)
        reader = csv.reader(_chain(first, lines), delimiter=delimiter, strict=True)
        header = _next_row(reader, path)
        if header is None:
            raise InputError(path, 1, "the file is empty: expected a header row")
        yield CsvRows(
            path=path,
            header=[name.strip() for name in header],
            delimiter=delimiter,
            rows=_rows(reader, path, len(header)),
        )


@contextmanager
def _open_binary(path: Path) -> Iterator[BinaryIO]:
    if not path.is_file():
        raise InputError(path, None, "no such file")
    name = path.name.lower()
    try:
        if name.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                yield handle  # type: ignore[misc]
        elif name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
                if len(members) != 1:
                    raise InputError(path, None, "the zip archive must hold exactly one .csv file")
                with archive.open(members[0]) as handle:
                    yield handle  # type: ignore[misc]
        else:
            with path.open("rb") as handle:
                yield handle
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(path, None, f"cannot read the file: {exc}") from None


def _decoded_lines(binary: BinaryIO, path: Path) -> Iterator[str]:
    """Decode line by line, so that a non-UTF-8 byte is reported with its line number."""
    for number, raw in enumerate(binary, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if b"\x00" in raw:
            # PostgreSQL text cannot hold NUL, and Python 3.11's csv no longer rejects it.
            raise InputError(path, number, _csv_reason(csv.Error("line contains NUL")))
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = raw[exc.start : exc.start + 1].hex().upper()
            raise InputError(
                path,
                number,
                f"not UTF-8 (byte 0x{byte} at column {exc.start + 1}); "
                "save the file as 'CSV UTF-8' and import it again",
            ) from None
        except (OSError, EOFError) as exc:
            raise InputError(path, number, f"cannot read the file: {exc}") from None


def _sniff_delimiter(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _next_row(reader: Any, path: Path) -> list[str] | None:
    """The next record of a csv.reader, with parse errors turned into InputError."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise InputError(path, reader.line_num, _csv_reason(exc)) from None


def _rows(reader: Any, path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    # One loop with one try, rather than a helper call per row: imports read millions.
    line = reader.line_num + 1
    try:
        for row in reader:
            if row and row != [""]:  # else a blank line
                if len(row) != width:
                    if len(row) > width:
                        raise InputError(
                            path, line, f"{len(row)} fields where the header has {width}"
                        )
                    row += [""] * (width - len(row))
                yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(path, reader.line_num, _csv_reason(exc)) from None


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "NUL" in text:
        return "the line contains a NUL byte: the file is binary or damaged"
    if "field larger than field limit" in text:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    if "unexpected end of data" in text or "EOF" in text:
        return "a quoted field is never closed (unterminated quote)"
    return f"malformed CSV: {text}"
