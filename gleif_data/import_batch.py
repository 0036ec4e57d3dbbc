"""Import a batch of matches: a CSV with one row per (domain, candidate), as one transaction."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select

from gleif_data.batch_tables import (
    FirstIds,
    advance_sequences,
    analyze_tables,
    first_free_ids,
    lock_for_import,
    merge_repeated_domains,
)
from gleif_data.bulk_load import load_rows
from gleif_data.csv_input import CsvRows, open_csv
from gleif_data.domains import normalise_domain
from gleif_data.errors import GleifDataError, InputError
from gleif_data.lei import has_valid_check_digits, normalise_lei
from gleif_data.models import Domain, GleifCandidate
from gleif_data.names import label_score, registrable_label
from gleif_data.overview import refresh_counts
from gleif_data.read_ahead import read_ahead
from gleif_data.transactions import read_snapshot, write_transaction

TARGET_COLUMNS = ("domain", "lei_code", "legal_name", "match_score", "match_method")
_SAMPLE_SIZE = 5
_PROGRESS_EVERY = 10_000
# Rows per chunk written while the next one is read (see read_ahead): large enough that a
# COPY's fixed cost does not count, small enough that two chunks sit lightly in memory.
_CHUNK_ROWS = 20_000
# The tables' columns in the order the rows of _numbered_rows and _write_chunk give them.
_DOMAINS = Domain.__table__
_CANDIDATES = GleifCandidate.__table__


@dataclass
class ImportReport:
    """What an import did."""

    batch: str
    domains: int = 0
    candidates: int = 0
    duplicates_skipped: int = 0
    replaced_domains: int = 0
    invalid_leis: set[str] = field(default_factory=set)

    def summary(self) -> str:
        """One paragraph for the analyst."""
        text = (
            f"batch {self.batch!r}: {self.domains:,} domains, "
            f"{self.candidates:,} candidates imported"
        )
        if self.replaced_domains:
            text += f" (replaced {self.replaced_domains:,} domains)"
        if self.duplicates_skipped:
            text += f"; {self.duplicates_skipped:,} repeated (domain, LEI) rows kept once"
        if self.invalid_leis:
            samples = ", ".join(sorted(self.invalid_leis)[:_SAMPLE_SIZE])
            more = " ..." if len(self.invalid_leis) > _SAMPLE_SIZE else ""
            text += (
                f"; {len(self.invalid_leis):,} LEIs fail their ISO 7064 check digits "
                f"and are marked invalid ({samples}{more})"
            )
        return text


def import_batch(
    engine: Engine,
    path: Path,
    batch: str,
    *,
    replace: bool = False,
    column_map: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a match CSV into a batch, all or nothing; InputError names file and line."""
    batch = validate_batch_name(batch)
    with open_csv(path) as csv_rows:
        positions = _column_positions(csv_rows, column_map or {})
        report = ImportReport(batch=batch)
        with write_transaction(engine, bulk=True) as connection:
            lock_for_import(connection)
            existing = _domain_count(connection, batch)
            if existing and not replace:
                raise GleifDataError(
                    f"batch {batch!r} already exists ({existing:,} domains); "
                    "use --replace to replace it"
                )
            # Ids above the replaced rows' too: the dashboard's cache key (the largest ids)
            # then changes with every import.
            first_ids = first_free_ids(connection)
            if existing:
                report.replaced_domains = delete_batch(connection, batch)
            rows = _numbered_rows(csv_rows, positions, first_ids, report, progress or _no_progress)
            for chunk in read_ahead(rows, _CHUNK_ROWS):
                _write_chunk(connection, batch, chunk)
            if not report.domains:
                raise InputError(path, None, "the file has a header but no rows")
            analyze_tables(connection)
            merged, dropped = merge_repeated_domains(connection, batch)
            report.domains -= merged
            report.candidates -= dropped
            report.duplicates_skipped += dropped
            advance_sequences(connection)
    # Counted now rather than by the first analyst who opens the Overview.
    with read_snapshot(engine, bulk=True) as connection:
        refresh_counts(connection, [batch])
    return report


def validate_batch_name(batch: str) -> str:
    """A batch name: trimmed, 1 to 200 printable characters."""
    name = batch.strip()
    if not name:
        raise GleifDataError("the batch name is empty")
    if len(name) > 200 or not name.isprintable():
        raise GleifDataError("a batch name has at most 200 printable characters")
    return name


def delete_batch(connection: Connection, batch: str) -> int:
    """Delete a batch's candidates and domains; return how many domains went."""
    ids = select(Domain.id).where(Domain.batch_id == batch).scalar_subquery()
    connection.execute(delete(GleifCandidate).where(GleifCandidate.domain_id.in_(ids)))
    return connection.execute(delete(Domain).where(Domain.batch_id == batch)).rowcount


def _domain_count(connection: Connection, batch: str) -> int:
    query = select(func.count()).select_from(Domain).where(Domain.batch_id == batch)
    return connection.execute(query).scalar_one()


def _column_positions(csv_rows: CsvRows, column_map: Mapping[str, str]) -> dict[str, int]:
    """Where each target column is in the file, after --column TARGET=SOURCE mappings."""
    unknown = sorted(set(column_map) - set(TARGET_COLUMNS))
    if unknown:
        raise GleifDataError(
            f"--column {unknown[0]}=...: unknown target; targets are {', '.join(TARGET_COLUMNS)}"
        )
    by_name: dict[str, int] = {}
    for index, name in enumerate(csv_rows.header):
        if not name:
            continue  # an unnamed extra column (`domain,lei_code,,`) is ignored like any other
        if name.casefold() in by_name:
            raise InputError(csv_rows.path, 1, f"the header names column {name!r} twice")
        by_name[name.casefold()] = index
    positions = {}
    for target in TARGET_COLUMNS:
        source = column_map.get(target, target)
        if source.casefold() in by_name:
            positions[target] = by_name[source.casefold()]
        elif target in column_map or target == "domain":
            columns = ", ".join(repr(name) for name in csv_rows.header)
            hint = "" if target in column_map else "; map one with --column domain=NAME"
            raise InputError(
                csv_rows.path, 1, f"no column {source!r} (the columns are {columns}){hint}"
            )
    return positions


def _numbered_rows(
    csv_rows: CsvRows,
    positions: dict[str, int],
    first_ids: FirstIds,
    report: ImportReport,
    progress: Callable[[int], None],
) -> Iterator[tuple[Any, ...]]:
    """(domain id, domain, candidate row) in file order; a bad value stops it with its line.

    `domain` is set when a domain's run of rows begins: it gets its id then. The candidate
    row (id, domain id, LEI, name, scores, method) is None for a row without a new LEI: a
    repeated LEI within the run is dropped here, one across runs by merge_repeated_domains.
    Counts go into the report.
    """
    path = csv_rows.path
    # A missing optional column reads as "": an index past the padded end of every row.
    width = len(csv_rows.header)
    at = {target: positions.get(target, width) for target in TARGET_COLUMNS}
    domain_at, lei_at, name_at = at["domain"], at["lei_code"], at["legal_name"]
    score_at, method_at = at["match_score"], at["match_method"]
    invalid_leis = report.invalid_leis
    domain_id, candidate_id = first_ids.domain - 1, first_ids.candidate - 1
    last_raw, last_domain, last_label = None, "", ""
    run_leis: set[str] = set()
    seq = duplicates = 0
    # The per-row work is inlined, with locals instead of helper calls: at a million rows
    # every function call per row costs about a second.
    for seq, (line, fields) in enumerate(csv_rows.rows, start=1):
        fields.append("")
        try:
            raw = fields[domain_at]
            new_run = raw != last_raw
            if new_run:
                domain = normalise_domain(raw)
                last_raw = raw
                # Two spellings of one domain in a row (a pasted URL, mixed case) are one run.
                new_run = domain != last_domain
                if new_run:
                    last_domain, last_label = domain, registrable_label(domain)
            lei_code = fields[lei_at].strip()
            legal_name = fields[name_at]
            if lei_code:
                lei_code = normalise_lei(lei_code)
                if not has_valid_check_digits(lei_code):
                    invalid_leis.add(lei_code)
            elif legal_name.strip():
                raise ValueError("a legal_name without an lei_code")
            score_text = fields[score_at]
            score = _parse_score(score_text) if score_text else None
        except ValueError as exc:
            raise InputError(path, line, str(exc)) from None
        if seq % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
        if new_run:
            domain_id += 1
            run_leis.clear()
        if lei_code and lei_code not in run_leis:
            run_leis.add(lei_code)
            candidate_id += 1
            method = fields[method_at].strip() or None
            fit = label_score(last_label, legal_name)
            candidate = (candidate_id, domain_id, lei_code, legal_name or None, score, method, fit)
            yield domain_id, last_domain if new_run else None, candidate
        elif new_run:
            yield domain_id, last_domain, None
        elif lei_code:
            duplicates += 1
    progress(seq % _PROGRESS_EVERY)
    report.domains = domain_id - first_ids.domain + 1
    report.candidates = candidate_id - first_ids.candidate + 1
    report.duplicates_skipped = duplicates


def _parse_score(raw: str) -> float | None:
    text = raw.strip()
    if not text:
        return None
    try:
        score = float(text)
    except ValueError:
        raise ValueError(f"match_score {text!r} is not a number") from None
    if not math.isfinite(score):
        raise ValueError(f"match_score {text!r} is not a finite number")
    return score


def _write_chunk(connection: Connection, batch: str, chunk: list[tuple[Any, ...]]) -> None:
    """Write a chunk's new domains, then its candidates (which may point at those domains)."""
    domains = [(domain_id, domain, batch) for domain_id, domain, _ in chunk if domain is not None]
    candidates = [candidate for _, _, candidate in chunk if candidate is not None]
    load_rows(connection, _DOMAINS, domains)
    load_rows(connection, _CANDIDATES, candidates)


def _no_progress(_rows: int) -> None:
    pass
