"""The file writers' own pieces: cutting COPY's CSV into whole records for Arrow."""

import csv
import io
import random

import pytest

from gleif_data.export_writers import _csv_records

HEADER = b"domain,lei_code,legal_name\n"


def _copy_csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode()


def _awkward_rows(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    pieces = ["a", "ü", '"', '""', "\n", "\r\n", ",", " ", "\\N", "名"]
    return [
        [f"d{n}.com", f"{n:020d}", "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))]
        for n in range(count)
    ]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("block", [1, 7, 64, 4096])
def test_records_are_never_cut_inside_a_quoted_field(seed, block):
    rows = _awkward_rows(500, seed)
    data = HEADER + _copy_csv(rows)
    blocks = [data[i : i + block] for i in range(0, len(data), block)]
    pieces = list(_csv_records(blocks, size=256))
    assert b"".join(pieces) == data[len(HEADER) :]
    parsed = [row for piece in pieces for row in csv.reader(io.StringIO(piece.decode()))]
    assert parsed == rows


def test_a_header_alone_gives_no_records():
    assert list(_csv_records([HEADER[:5], HEADER[5:]], size=10)) == []
