"""Demo data: real GLEIF records as reference data, and two invented batches matched to them.

Everything is derived from the shipped golden-copy subset with a fixed seed, so the demo is
the same on every machine, and loading it twice changes nothing.
"""

from __future__ import annotations

import csv
import gzip
import random
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from gleif_data.lei import has_valid_check_digits
from gleif_data.queries import batch_exists, list_batches
from gleif_data.transactions import read_snapshot

GOLDEN_COPY_SAMPLE = (
    Path(__file__).resolve().parent / "demo_data" / "lei2-golden-copy-subset.csv.gz"
)
DEMO_BATCHES = {"demo-small": 200, "demo-large": 6_000}
_SEED = 20260123

# Words of legal forms that make poor domain labels ("Acme GmbH" -> acme).
_LEGAL_FORMS = frozenset(
    """
    ab ag as asa bv co company corp corporation gmbh inc kg kk limited llc llp lp ltd nv
    oy plc sa sarl sas se spa srl the of and de des du la le y s et di del dello della
    """.split()
)
# Country codes whose web domain is not the country code itself.
_CC_TLDS = {"GB": "uk"}


@dataclass(frozen=True)
class DemoRecord:
    """What the demo needs of one GLEIF record."""

    lei: str
    legal_name: str
    country: str
    registration_status: str
    entity_status: str


@dataclass(frozen=True)
class DemoReport:
    """What loading the demo did."""

    reference_records: int
    created: list[str]
    skipped: list[str]


def load_demo(engine: Engine, *, only_if_empty: bool = False) -> DemoReport:
    """Import the reference records and create the demo batches that do not exist yet."""
    with read_snapshot(engine) as connection:
        if only_if_empty and list_batches(connection):
            return DemoReport(0, [], list(DEMO_BATCHES))
    reference = import_gleif(engine, GOLDEN_COPY_SAMPLE)
    records = read_sample()
    created, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="gleif-demo-") as folder:
        for batch, size in DEMO_BATCHES.items():
            with read_snapshot(engine) as connection:
                there = batch_exists(connection, batch)
            if there:
                skipped.append(batch)
                continue
            path = Path(folder) / f"{batch}.csv"
            write_batch_csv(path, demo_rows(records, size, seed=_SEED + size))
            import_batch(engine, path, batch)
            created.append(batch)
    return DemoReport(reference, created, skipped)


def read_sample() -> list[DemoRecord]:
    """The shipped golden-copy records, in file order."""
    with gzip.open(GOLDEN_COPY_SAMPLE, "rt", encoding="utf-8", newline="") as handle:
        return [
            DemoRecord(
                lei=row["LEI"],
                legal_name=row["Entity.LegalName"],
                country=row["Entity.LegalAddress.Country"],
                registration_status=row["Registration.RegistrationStatus"],
                entity_status=row["Entity.EntityStatus"],
            )
            for row in csv.DictReader(handle)
        ]


def demo_rows(records: list[DemoRecord], size: int, *, seed: int) -> Iterator[list[str]]:
    """Rows of a match CSV for `size` domains: none, one or many candidates per domain."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    # Records that make QA interesting come first, so that every batch has them.
    notable = [r for r in records if _is_notable(r)]
    others = [r for r in records if not _is_notable(r)]
    rng.shuffle(others)
    sources = (notable[: max(size // 10, 10)] + others)[:size]
    rng.shuffle(sources)
    used: set[str] = set()
    for record in sources:
        domain = _unique(_domain_for(record, rng), used)
        roll = rng.random()
        if roll < 0.25 and not _is_notable(record):
            yield [domain, "", "", "", ""]
            continue
        extra = 0 if roll < 0.75 else rng.randint(1, 3) if roll < 0.95 else rng.randint(4, 9)
        candidates = [record, *rng.sample(records, extra)]
        for rank, candidate in enumerate(candidates):
            score = rng.uniform(0.85, 1.0) if rank == 0 else rng.uniform(0.3, 0.8)
            method = "name+tld" if rank == 0 else "fuzzy-name"
            yield [domain, candidate.lei, candidate.legal_name, f"{score:.2f}", method]


def write_batch_csv(path: Path, rows: Iterator[list[str]]) -> None:
    """Write rows under the import header."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["domain", "lei_code", "legal_name", "match_score", "match_method"])
        writer.writerows(rows)


def _is_notable(record: DemoRecord) -> bool:
    return (
        record.registration_status not in ("ISSUED", "LAPSED")
        or record.entity_status == "NULL"
        or not has_valid_check_digits(record.lei)
    )


def _domain_for(record: DemoRecord, rng: random.Random) -> str:
    words = [w for w in re.findall(r"\w+", record.legal_name.lower()) if w not in _LEGAL_FORMS]
    ascii_words = [_ascii(w) for w in words]
    # Latin names become ASCII labels; other scripts keep their letters (an IDN).
    chosen = [w for w in ascii_words if w] if any(ascii_words) else words
    label = "-".join(chosen[:2])[:40].strip("-_") or "entity"
    tld = _CC_TLDS.get(record.country, record.country.lower())
    if rng.random() < 0.4 or not tld.isalpha():
        tld = rng.choice(["com", "com", "org", "net", "io"])
    return f"{label}.{tld}"


def _ascii(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded)


def _unique(domain: str, used: set[str]) -> str:
    label, _, tld = domain.partition(".")
    candidate, n = domain, 1
    while candidate in used:
        n += 1
        candidate = f"{label}{n}.{tld}"
    used.add(candidate)
    return candidate
