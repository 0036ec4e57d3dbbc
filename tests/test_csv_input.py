"""The streaming CSV reader: encodings, line ends, damaged archives and bounded input."""

import gzip
import zipfile
import zlib
from pathlib import Path

import pytest

from gleif_data.csv_input import InputLimits, open_csv
from gleif_data.errors import InputError

HEADER = ["domain", "lei_code", "legal_name"]
ROWS = [
    ["acme.com", "5493001KJTIIGC8Y1R12", "ACME Société Générale"],
    ["zeta.de", "0292001130A2Q5CDA023", "Zeta 株式会社 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"],
]


DEFAULT = InputLimits()


def read(path: Path, limits: InputLimits = DEFAULT) -> tuple[list[str], list]:
    """The header and the (line, fields) rows of a file, read to the end."""
    with open_csv(path, limits=limits) as csv_rows:
        return csv_rows.header, list(csv_rows.rows)


def refusal(path: Path, limits: InputLimits = DEFAULT) -> str:
    """The one-line message open_csv gives for a file it refuses."""
    with pytest.raises(InputError) as caught:
        read(path, limits)
    return str(caught.value)


def text_of(rows: list[list[str]], separator: str = ",", end: str = "\n") -> str:
    return "".join(separator.join(row) + end for row in rows)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_as_excel_saves_unicode_text_is_read(tmp_path, encoding):
    path = tmp_path / "unicode text.txt.csv"
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    path.write_bytes(bom + text_of([HEADER, *ROWS], "\t", "\r\n").encode(encoding))
    assert read(path) == (HEADER, [(2, ROWS[0]), (3, ROWS[1])])


def test_a_long_utf16_file_reads_the_same_across_chunk_boundaries(tmp_path):
    rows = [[f"site{i}.com", "5493001KJTIIGC8Y1R12", f"𝔘𝔫𝔦 {i} é"] for i in range(20_000)]
    path = tmp_path / "long.csv"
    path.write_bytes(text_of([HEADER, *rows], "\t", "\r\n").encode("utf-16"))
    header, read_rows = read(path)
    assert header == HEADER
    assert read_rows == [(line, row) for line, row in enumerate(rows, start=2)]


def test_invalid_utf16_is_refused_with_its_line(tmp_path):
    path = tmp_path / "broken.csv"
    good = text_of([HEADER, ROWS[0]], "\t", "\r\n").encode("utf-16-le")
    lone_surrogate = b"\x00\xd8a\x00"
    path.write_bytes(b"\xff\xfe" + good + "z.de\t".encode("utf-16-le") + lone_surrogate)
    assert refusal(path) == (
        f"{path}:3: not valid UTF-16 (illegal UTF-16 surrogate); "
        "save the file as 'CSV UTF-8' and import it again"
    )


def test_utf16_without_a_byte_order_mark_is_named(tmp_path):
    path = tmp_path / "no bom.csv"
    path.write_bytes(text_of([HEADER, *ROWS], "\t").encode("utf-16-le"))
    assert refusal(path) == (
        f"{path}:1: UTF-16 without a byte-order mark: "
        "save the file as 'CSV UTF-8' and import it again"
    )


def test_cr_only_line_ends_as_excel_for_mac_writes_them_are_read_with_their_lines(tmp_path):
    rows = [*ROWS, ["multi.com", "5493001KJTIIGC8Y1R12", '"two\rlines"'], ["last.com", "", ""]]
    path = tmp_path / "mac.csv"
    path.write_bytes(text_of([HEADER, *rows], ",", "\r").encode())
    header, read_rows = read(path)
    assert header == HEADER
    assert read_rows == [
        (2, ROWS[0]),
        (3, ROWS[1]),
        (4, ["multi.com", "5493001KJTIIGC8Y1R12", "two\nlines"]),
        (6, ["last.com", "", ""]),
    ]


def test_a_long_cr_only_file_reads_the_same_across_chunk_boundaries(tmp_path):
    rows = [[f"site{i}.com", "5493001KJTIIGC8Y1R12", f"Name {i}"] for i in range(30_000)]
    path = tmp_path / "mac.csv.gz"
    path.write_bytes(gzip.compress(text_of([HEADER, *rows], ",", "\r").encode()))
    assert read(path)[1] == [(line, row) for line, row in enumerate(rows, start=2)]


def test_crlf_line_ends_stay_crlf_and_a_quoted_crlf_is_kept(tmp_path):
    path = tmp_path / "windows.csv"
    path.write_bytes(b'domain,legal_name\r\nacme.com,"A\r\nB"\r\nz.de,Z\r\n')
    assert read(path)[1] == [(2, ["acme.com", "A\r\nB"]), (4, ["z.de", "Z"])]


def test_a_stray_carriage_return_in_an_unquoted_field_is_named_plainly(tmp_path):
    path = tmp_path / "stray.csv"
    path.write_bytes(b"domain,legal_name\nacme.com,ACME\nz.de,Ze\rta\n")
    message = refusal(path)
    assert message == (
        f"{path}:3: a line break (carriage return) inside an unquoted field: quote the field"
    )
    assert "universal-newline" not in message


def _damaged_deflate(good: bytes) -> bytes:
    """A raw deflate stream: `good`, then a block of the invalid type 3."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    return compressor.compress(good) + compressor.flush(zlib.Z_FULL_FLUSH) + b"\x07" + b"\x00" * 64


def damaged_gzip(path: Path, good: bytes) -> Path:
    """A .gz file whose deflate data breaks after `good`."""
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + _damaged_deflate(good))
    return path


def damaged_zip(path: Path, good: bytes) -> Path:
    """A .zip file holding one .csv whose deflate data breaks after `good`."""
    deflated = _damaged_deflate(good)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("data.csv", b"\x00" * len(deflated))
    content = bytearray(path.read_bytes())
    start = content.index(b"data.csv") + len("data.csv")
    content[start : start + len(deflated)] = deflated
    # In both headers the method (stored, 0) becomes deflate (8), with a size past `good`.
    size = (len(good) + 1000).to_bytes(4, "little")
    central = content.index(b"PK\x01\x02")
    content[8:10] = content[central + 10 : central + 12] = b"\x08\x00"
    content[22:26] = content[central + 24 : central + 28] = size
    path.write_bytes(content)
    return path


def many_rows(count: int) -> bytes:
    body = [
        [f"site{i}.com", "5493001KJTIIGC8Y1R12", f"Name {i * 7919 % 10007}"] for i in range(count)
    ]
    return text_of([HEADER, *body]).encode()


@pytest.mark.parametrize("make", [damaged_gzip, damaged_zip], ids=["gzip", "zip"])
def test_damaged_deflate_data_is_one_message_naming_the_line_reached(tmp_path, make):
    path = make(
        tmp_path / f"damaged.csv.{'gz' if make is damaged_gzip else 'zip'}", many_rows(20_000)
    )
    message = refusal(path)
    where, reason = message.split(": ", 1)
    assert where.startswith(f"{path}:")
    assert 2 < int(where.rsplit(":", 1)[1]) <= 20_002
    assert reason == (
        "the compressed data is damaged (Error -3 while decompressing data: invalid block type)"
    )


def test_a_truncated_gzip_file_is_damaged(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(many_rows(1000))[:-20])
    assert "the compressed data is damaged (Compressed file ended" in refusal(path)


def test_a_plain_csv_named_gz_is_not_a_gzip_file(tmp_path):
    path = tmp_path / "plain.csv.gz"
    path.write_bytes(many_rows(3))
    assert refusal(path) == f"{path}:1: not a gzip file (Not a gzipped file (b'do'))"


def test_a_file_that_inflates_past_the_cap_is_refused_as_it_inflates(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(many_rows(50_000)))
    limits = InputLimits(inflation=3, inflated_floor=0)
    message = refusal(path, limits)
    assert "the file inflates to more than 0 MB, over 3 times its compressed size" in message
    # Under the default cap (100 times, never below 256 MB) the same file reads.
    assert len(read(path)[1]) == 50_000


def test_a_line_without_an_end_is_refused_once_it_passes_the_limit(tmp_path):
    path = tmp_path / "one line.csv"
    path.write_bytes(b"domain,legal_name\n" + b"a" * (3 * 1024 * 1024))
    limits = InputLimits(row_bytes=1024 * 1024)
    assert refusal(path, limits) == (
        f"{path}:2: the line is longer than 1 MB: not a CSV file, or its line ends are lost"
    )


def test_a_row_of_quoted_line_breaks_is_refused_once_it_passes_the_limit(tmp_path):
    path = tmp_path / "many lines.csv"
    path.write_bytes(b"domain,legal_name\n" + b'"\n",' * (1024 * 1024))
    limits = InputLimits(row_bytes=1024 * 1024)
    message = refusal(path, limits)
    assert message.endswith(
        ": the row is longer than 1 MB: a quoted field with line breaks that never closes?"
    )


def test_rows_up_to_the_limit_are_read(tmp_path):
    path = tmp_path / "wide.csv"
    name = "x" * 100_000
    path.write_bytes(f"domain,legal_name\nacme.com,{name}\n".encode())
    assert read(path, InputLimits(row_bytes=200_000))[1] == [(2, ["acme.com", name])]
