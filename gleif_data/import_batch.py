"""Import a batch of matches: a CSV with one row per (domain, candidate), as one transaction."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
)

from gleif_data.csv_input import CsvRows, open_csv
from gleif_data.domains import normalise_domain
from gleif_data.errors import GleifDataError, InputError
from gleif_data.lei import has_valid_check_digits, normalise_lei
from gleif_data.models import Domain, GleifCandidate
from gleif_data.names import label_score, registrable_label
from gleif_data.staging import copy_rows, insert_rows

TARGET_COLUMNS = ("domain", "lei_code", "legal_name", "match_score", "match_method")
_SAMPLE_SIZE = 5
_PROGRESS_EVERY = 10_000
_IMPORT_WORK_MEM = "256MB"

_staging_metadata = MetaData()
staging = Table(
    "import_batch_staging",
    _staging_metadata,
    Column("seq", Integer, nullable=False),
    Column("domain", Text, nullable=False),
    Column("lei_code", Text),
    Column("legal_name", Text),
    Column("match_score", Float),
    Column("match_method", Text),
    Column("name_score", Integer),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


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
        rows = _validated_rows(csv_rows, positions, report, progress or (lambda _n: None))
        with engine.begin() as connection:
            existing = _domain_count(connection, batch)
            if existing and not replace:
                raise GleifDataError(
                    f"batch {batch!r} already exists ({existing:,} domains); "
                    "use --replace to replace it"
                )
            staging.create(connection)
            if connection.dialect.name == "sqlite":
                insert_rows(connection, staging, rows)
            else:
                copy_rows(connection, staging, rows)
                # Without statistics PostgreSQL plans the new staging table as 200 domains,
                # and with the default work_mem (4 MB) the sorts and groupings of a million
                # rows below spill to disk; both last only as long as this transaction.
                connection.execute(text(f"ANALYZE {staging.name}"))
                connection.execute(text(f"SET LOCAL work_mem = '{_IMPORT_WORK_MEM}'"))
            if existing:
                report.replaced_domains = delete_batch(connection, batch)
            _insert_from_staging(connection, batch, report)
            if not report.domains:
                raise InputError(path, None, "the file has a header but no rows")
            if connection.dialect.name == "sqlite":
                staging.drop(connection)
            else:
                # Fresh statistics, so that the dashboard's first queries on the new batch
                # are planned for its real size (autovacuum may take minutes to get there).
                connection.execute(text("ANALYZE domains, gleif_candidates"))
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


def _validated_rows(
    csv_rows: CsvRows,
    positions: dict[str, int],
    report: ImportReport,
    progress: Callable[[int], None],
) -> Iterator[tuple[Any, ...]]:
    """Staging rows in file order; the first bad value stops the import with its line."""
    path = csv_rows.path
    # A missing optional column reads as "": an index past the padded end of every row.
    width = len(csv_rows.header)
    at = {target: positions.get(target, width) for target in TARGET_COLUMNS}
    domain_at, lei_at, name_at = at["domain"], at["lei_code"], at["legal_name"]
    score_at, method_at = at["match_score"], at["match_method"]
    invalid_leis = report.invalid_leis
    # A domain's rows usually follow each other: its raw text is normalised once.
    last_raw, last_domain, last_label = None, "", ""
    seq = 0
    # The per-row work is inlined, with locals instead of helper calls: at a million rows
    # every function call per row costs about a second.
    for seq, (line, fields) in enumerate(csv_rows.rows, start=1):
        fields.append("")
        try:
            raw = fields[domain_at]
            if raw != last_raw:
                last_domain = normalise_domain(raw)
                last_label = registrable_label(last_domain)
                last_raw = raw
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
        if lei_code:
            method = fields[method_at].strip()
            fit = label_score(last_label, legal_name)
            yield seq, last_domain, lei_code, legal_name or None, score, method or None, fit
        else:
            yield seq, last_domain, None, None, None, None, None
    progress(seq % _PROGRESS_EVERY)


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


def _insert_from_staging(connection: Connection, batch: str, report: ImportReport) -> None:
    """Domains by first appearance, then candidates in file order, each (domain, LEI) once."""
    s = staging
    first_seen = func.min(s.c.seq)
    new_domains = (
        select(s.c.domain, func.cast(batch, Text)).group_by(s.c.domain).order_by(first_seen)
    )
    connection.execute(insert(Domain).from_select(["domain", "batch_id"], new_domains))
    report.domains = _domain_count(connection, batch)

    numbered = (
        select(
            s,
            func.row_number()
            .over(partition_by=(s.c.domain, s.c.lei_code), order_by=s.c.seq)
            .label("nth"),
        )
        .where(s.c.lei_code.is_not(None))
        .subquery("numbered")
    )
    d = Domain.__table__
    new_candidates = (
        select(
            d.c.id,
            numbered.c.lei_code,
            numbered.c.legal_name,
            numbered.c.match_score,
            numbered.c.match_method,
            numbered.c.name_score,
        )
        .join_from(numbered, d, (d.c.domain == numbered.c.domain) & (d.c.batch_id == batch))
        .where(numbered.c.nth == 1)
        .order_by(numbered.c.seq)
    )
    connection.execute(
        insert(GleifCandidate).from_select(
            ["domain_id", "lei_code", "legal_name", "match_score", "match_method", "name_score"],
            new_candidates,
        )
    )
    batch_ids = select(Domain.id).where(Domain.batch_id == batch).scalar_subquery()
    candidates = select(func.count()).where(GleifCandidate.domain_id.in_(batch_ids))
    report.candidates = connection.execute(candidates).scalar_one()
    candidate_rows = connection.execute(select(func.count(s.c.lei_code))).scalar_one()
    report.duplicates_skipped = candidate_rows - report.candidates
