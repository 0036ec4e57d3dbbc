"""Read CSV files as analysts produce them: .csv, .csv.gz, .zip; UTF-8 or UTF-16; any line end.

Input is bounded before it is buffered: the file is read in chunks, a line (or a row whose
quoted fields hold line breaks) may be at most `InputLimits.row_bytes` long, a field at most
131,072 characters (the csv module's limit), and a compressed file may inflate to at most
`InputLimits.inflation` times its size (never refused below `InputLimits.inflated_floor`).
Memory therefore stays flat whatever the file holds, a gzip bomb included.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gleif_data.errors import InputError

# Delimiters a spreadsheet may write: Excel uses ';' in locales with a decimal comma.
_DELIMITERS = ",;\t|"
_CHUNK = 64 * 1024
_MIB = 1024 * 1024
# Errors a decompressor raises on damaged data (gzip.BadGzipFile is an OSError).
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)


@dataclass(frozen=True)
class InputLimits:
    """How much one row and a compressed file may hold before the import refuses the file."""

    row_bytes: int = 8 * _MIB
    inflation: int = 100
    inflated_floor: int = 256 * _MIB


@dataclass
class CsvRows:
    """An open CSV file: its header and an iterator of (line number, fields)."""

    path: Path
    header: list[str]
    delimiter: str
    rows: Iterator[tuple[int, list[str]]]


@contextmanager
def open_csv(path: Path, *, limits: InputLimits = InputLimits()) -> Iterator[CsvRows]:
    """Open a CSV file for streaming; every decoding or parsing problem is an InputError."""
    with ExitStack() as stack:
        stream = _text_stream(stack, path, limits)
        lines = _Lines(stream, path, limits.row_bytes)
        numbered = iter(lines)
        first = next(numbered, None)
        if first is None or not first.strip():
            raise InputError(path, 1, "the file is empty: expected a header row")
        delimiter = _sniff_delimiter(first[:_CHUNK])
        reader = csv.reader(_chain(first, numbered), delimiter=delimiter, strict=True)
        header = _next_row(reader, path)
        if header is None:
            raise InputError(path, 1, "the file is empty: expected a header row")
        lines.row_bytes = 0
        yield CsvRows(
            path=path,
            header=[name.strip() for name in header],
            delimiter=delimiter,
            rows=_rows(reader, lines, path, len(header)),
        )


class _Unreadable(Exception):
    """The bytes cannot be read (damaged compression, too much inflation); the reason."""


def _text_stream(stack: ExitStack, path: Path, limits: InputLimits) -> io.BufferedReader:
    """The file's content as UTF-8 (or undecodable) bytes with LF or CRLF line ends."""
    inner, compressed = _open_binary(stack, path)
    cap = max(limits.inflation * path.stat().st_size, limits.inflated_floor) if compressed else 0
    too_big = (
        f"the file inflates to more than {cap // _MIB:,} MB, over {limits.inflation} times "
        "its compressed size: a damaged archive or a zip bomb"
    )
    stream = io.BufferedReader(_Counted(inner, compressed, cap, too_big), _CHUNK)
    try:
        head = stream.peek(2)[:2]
        if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            stream.read(2)
            stream = io.BufferedReader(_Utf16AsUtf8(stream, path, head), _CHUNK)
        if _ends_lines_with_cr_only(stream.peek(_CHUNK)):
            stream = io.BufferedReader(_CrAsLf(stream), _CHUNK)
    except _Unreadable as exc:
        raise InputError(path, 1, str(exc)) from None
    return stream


def _open_binary(stack: ExitStack, path: Path) -> tuple[BinaryIO, bool]:
    """The file's bytes, decompressed; and whether it was compressed."""
    if not path.is_file():
        raise InputError(path, None, "no such file")
    name = path.name.lower()
    try:
        if name.endswith(".gz"):
            return stack.enter_context(gzip.open(path, "rb")), True  # type: ignore[return-value]
        if name.endswith(".zip"):
            archive = stack.enter_context(zipfile.ZipFile(path))
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise InputError(path, None, "the zip archive must hold exactly one .csv file")
            return stack.enter_context(archive.open(members[0])), True
        return stack.enter_context(path.open("rb")), False
    except (RuntimeError, NotImplementedError) as exc:
        # zipfile: an encrypted member, or a compression method it cannot read.
        raise InputError(path, None, f"cannot read the zip archive: {exc}") from None
    except _READ_ERRORS as exc:
        raise InputError(path, None, f"cannot read the file: {exc}") from None


class _Counted(io.RawIOBase):
    """Bytes from a (decompressing) reader: read errors and too much inflation are _Unreadable."""

    def __init__(self, inner: BinaryIO, compressed: bool, cap: int, too_big: str) -> None:
        self._inner, self._compressed, self._cap, self._too_big = inner, compressed, cap, too_big
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except _READ_ERRORS as exc:
            if "Not a gzipped file" in str(exc):
                raise _Unreadable(f"not a gzip file ({exc})") from None
            if self._compressed:
                raise _Unreadable(f"the compressed data is damaged ({exc})") from None
            raise _Unreadable(f"cannot read the file: {exc}") from None
        self._total += len(data)
        if self._compressed and self._total > self._cap:
            raise _Unreadable(self._too_big)
        buffer[: len(data)] = data
        return len(data)


class _Utf16AsUtf8(io.RawIOBase):
    """UTF-16 text (Excel's "Unicode Text", after its byte-order mark) re-encoded as UTF-8."""

    def __init__(self, inner: io.BufferedReader, path: Path, bom: bytes) -> None:
        self._inner, self._path = inner, path
        self._decode = (
            codecs.utf_16_le_decode if bom == codecs.BOM_UTF16_LE else codecs.utf_16_be_decode
        )
        self._pending = b""
        self._out = bytearray()
        self._line_feeds = self._returns = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out and not self._done:
            chunk = self._inner.read(_CHUNK)
            self._done = not chunk
            data = self._pending + chunk
            try:
                text, used = self._decode(data, "strict", self._done)
            except UnicodeDecodeError as exc:
                raise self._error(data, exc) from None
            self._pending = data[used:]
            self._line_feeds += text.count("\n")
            self._returns += text.count("\r")
            self._out += text.encode("utf-8")
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        del self._out[:size]
        return size

    def _error(self, data: bytes, exc: UnicodeDecodeError) -> InputError:
        before = self._decode(data[: exc.start], "replace", True)[0]
        line = max(self._line_feeds + before.count("\n"), self._returns + before.count("\r"))
        return InputError(
            self._path,
            line + 1,
            f"not valid UTF-16 ({exc.reason}); save the file as 'CSV UTF-8' and import it again",
        )


class _CrAsLf(io.RawIOBase):
    """Bytes with CR line ends (Excel for Mac) as LF line ends."""

    def __init__(self, inner: io.BufferedReader) -> None:
        self._inner = inner
        self._carry = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            chunk = self._carry + self._inner.read(max(len(buffer) - 1, 1))
            self._carry = b""
            if chunk.endswith(b"\r") and self._inner.peek(1):
                # The next chunk may start with the LF of this CR.
                chunk, self._carry = chunk[:-1], b"\r"
            data = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if data or (not chunk and not self._carry):
                buffer[: len(data)] = data
                return len(data)


def _ends_lines_with_cr_only(start: bytes) -> bool:
    """Whether the first line end of the file is a CR not followed by LF."""
    cr, lf = start.find(b"\r"), start.find(b"\n")
    if cr < 0 or 0 <= lf < cr or cr + 1 >= len(start):
        return False
    return start[cr + 1 : cr + 2] != b"\n"


class _Lines:
    """Decoded lines of at most `limit` bytes; `row_bytes` counts the current CSV row's bytes."""

    def __init__(self, stream: io.BufferedReader, path: Path, limit: int) -> None:
        self._stream, self._path, self._limit = stream, path, limit
        self.row_bytes = 0

    def __iter__(self) -> Iterator[str]:
        readline, path, limit = self._stream.readline, self._path, self._limit
        number = 0
        while True:
            try:
                raw = readline(limit + 1)
            except _Unreadable as exc:
                raise InputError(path, number + 1, str(exc)) from None
            if not raw:
                return
            number += 1
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            if b"\x00" in raw:
                # PostgreSQL text cannot hold NUL, and Python 3.11's csv no longer rejects it.
                raise InputError(path, number, _nul_reason(number, raw))
            self.row_bytes += len(raw)
            if self.row_bytes > limit:
                raise InputError(path, number, _too_long_reason(limit, len(raw) > limit))
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = raw[exc.start : exc.start + 1].hex().upper()
                raise InputError(
                    path,
                    number,
                    f"not UTF-8 (byte 0x{byte} at column {exc.start + 1}); "
                    "save the file as 'CSV UTF-8' and import it again",
                ) from None
            yield text


def _nul_reason(number: int, raw: bytes) -> str:
    if number == 1 and raw.strip(b"\x00") and raw.count(0) * 3 >= len(raw):
        return "UTF-16 without a byte-order mark: save the file as 'CSV UTF-8' and import it again"
    return _csv_reason(csv.Error("line contains NUL"))


def _too_long_reason(limit: int, one_line: bool) -> str:
    if one_line:
        return (
            f"the line is longer than {limit // _MIB} MB: not a CSV file, or its line ends are lost"
        )
    return (
        f"the row is longer than {limit // _MIB} MB: "
        "a quoted field with line breaks that never closes?"
    )


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


def _rows(reader: Any, lines: _Lines, path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    # One loop with one try, rather than a helper call per row: imports read millions.
    line = reader.line_num + 1
    try:
        for row in reader:
            lines.row_bytes = 0
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
    if "new-line character seen in unquoted field" in text:
        return "a line break (carriage return) inside an unquoted field: quote the field"
    return f"malformed CSV: {text}"
