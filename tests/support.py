"""Small helpers the tests share: writing input files and reading the real GLEIF sample."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Sequence
from pathlib import Path

from gleif_data.demo import GOLDEN_COPY_SAMPLE

IMPORT_HEADER = ["domain", "lei_code", "legal_name", "match_score", "match_method"]


def write_csv(
    path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = IMPORT_HEADER
) -> Path:
    """Write a UTF-8 CSV with a header; .gz paths are gzip-compressed."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sample_records() -> list[dict[str, str]]:
    """The real golden-copy records the project ships, as dicts with GLEIF's column names."""
    with gzip.open(GOLDEN_COPY_SAMPLE, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_gleif_subset(path: Path, leis: Iterable[str]) -> Path:
    """A golden-copy CSV with the real records of these LEIs only (fast to import)."""
    wanted = set(leis)
    records = [r for r in sample_records() if r["LEI"] in wanted]
    return write_csv(path, [list(r.values()) for r in records], list(records[0]))
