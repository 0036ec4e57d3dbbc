"""The aggregated export: one row per domain (or per candidate), streamed from the database."""

from __future__ import annotations

import io
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import ColumnElement, Connection, Engine, Select, case, func, literal, select

from gleif_data.cancellation import Cancellation
from gleif_data.copy_out import bind, copy_blocks, copy_statement
from gleif_data.db import candidate_lists, in_id_range, is_sqlite, statement_interrupter
from gleif_data.errors import GleifDataError
from gleif_data.explore import count_domains
from gleif_data.fields import Field
from gleif_data.filters import DomainFilter
from gleif_data.flags import candidate_conditions, domain_flag_list, flag_list
from gleif_data.models import Domain, GleifCandidate, LeiRecord
from gleif_data.qa_state import (
    accepted_lei_expression,
    accepted_name_expression,
    candidate_state_expression,
    status_expression,
)
from gleif_data.queries import require_batch
from gleif_data.transactions import read_snapshot

if TYPE_CHECKING:
    import pyarrow as pa

DOMAIN_COLUMNS = ("domain", "gleif_candidate_count", "all_lei_codes", "all_legal_names")
CANDIDATE_COLUMNS = ("domain", "lei_code", "legal_name", "match_score", "match_method")
# With QA, appended after the columns above (never instead of them).
QA_DOMAIN_COLUMNS = ("qa_status", "accepted_lei", "accepted_legal_name", "flags")
QA_CANDIDATE_COLUMNS = ("flags", "name_score", "decision")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_ROWS = 10_000


class ExportFormat(StrEnum):
    """File formats of the export."""

    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"
    JSON = "json"


class ExportLayout(StrEnum):
    """One row per domain (the legacy columns) or one row per candidate (lossless)."""

    DOMAIN = "domain"
    CANDIDATE = "candidate"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
    ExportFormat.JSON: "application/json",
}


# Every export option, once (the filters are DomainFilter's): CLI, URL and README come from here.
EXPORT_FIELDS: tuple[Field, ...] = (
    Field(
        "format",
        "Format",
        "choice",
        "The file format.",
        choices=ExportFormat,
        default=ExportFormat.CSV,
    ),
    Field(
        "layout",
        "One row per",
        "choice",
        "One row per domain (the legacy columns) or per candidate (lossless).",
        choices=ExportLayout,
        default=ExportLayout.DOMAIN,
    ),
    Field(
        "formula_guard",
        "Formula guard",
        "switch",
        "Start CSV and XLSX cells that a spreadsheet would run as formulas with an apostrophe.",
        default=True,
        cli="--no-formula-guard",
        cli_help="Keep cells starting with = + - @ as they are (CSV and XLSX).",
    ),
    Field(
        "with_qa",
        "Add QA columns",
        "switch",
        "Add QA columns after the legacy ones (QA status, accepted LEI and name, flags).",
        default=False,
        url="qa",
    ),
)


@dataclass(frozen=True)
class ExportOptions:
    """What to export: format, layout, filters and whether to neutralise formulas."""

    format: ExportFormat = ExportFormat.CSV
    layout: ExportLayout = ExportLayout.DOMAIN
    filters: DomainFilter = field(default_factory=DomainFilter)
    formula_guard: bool = True
    with_qa: bool = False

    def __post_init__(self) -> None:
        for option in EXPORT_FIELDS:
            object.__setattr__(self, option.name, option.check(getattr(self, option.name)))

    def to_query(self) -> dict[str, str]:
        """The URL query parameters of these options and their filters (defaults left out)."""
        texts = {f.parameter: f.to_text(getattr(self, f.name)) for f in EXPORT_FIELDS}
        # The format and layout are always named: a link says what it downloads.
        texts["format"], texts["layout"] = self.format.value, self.layout.value
        options = {name: text for name, text in texts.items() if text is not None}
        return {**options, **self.filters.to_query()}

    @property
    def guards_formulas(self) -> bool:
        """Parquet and JSON always carry raw values."""
        return self.formula_guard and self.format in (ExportFormat.CSV, ExportFormat.XLSX)

    @property
    def columns(self) -> tuple[str, ...]:
        """The header of the export."""
        if self.layout is ExportLayout.DOMAIN:
            return DOMAIN_COLUMNS + (QA_DOMAIN_COLUMNS if self.with_qa else ())
        return CANDIDATE_COLUMNS + (QA_CANDIDATE_COLUMNS if self.with_qa else ())


def export_file_name(batch: str, export_format: ExportFormat, now: datetime | None = None) -> str:
    """`gleif-export_<batch>_<YYYYMMDD-HHMM>.<ext>`, safe as a file name on any system."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M")
    safe_batch = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in batch).strip(".")
    return f"gleif-export_{safe_batch or 'batch'}_{stamp}.{export_format.value}"


def export_query(
    dialect_name: str,
    batch: str,
    options: ExportOptions,
    *,
    limit: int | None = None,
    id_range: tuple[int, int] | None = None,
) -> Select[Any]:
    """The SELECT that yields the export's rows in order, filters and formula guard applied.

    With `limit`, the first rows only: they come from the first `limit` domains that pass the
    filters, so only those domains' candidates are read, and a page costs the same in a
    batch of any size. With `id_range` (low, high), the rows of the domains with
    low <= id < high only: the part of a parallel export (gleif_data.export_ranges).
    """
    d = Domain.__table__.alias("d")
    page = None if limit is None else _first_domain_ids(batch, options.filters, limit)
    lists = candidate_lists(dialect_name, batch, domain_ids=page, id_range=id_range)
    count = func.coalesce(lists.c.candidate_count, 0)
    if page is None:
        where = [d.c.batch_id == batch, *options.filters.conditions(d, count)]
    else:
        where = [d.c.batch_id == batch, d.c.id.in_(page)]
    if id_range is not None:
        where.append(in_id_range(d.c.id, id_range))
    text = _guard if options.guards_formulas else _raw
    if options.layout is ExportLayout.DOMAIN:
        qa_columns = []
        if options.with_qa:
            qa_columns = [
                status_expression(d).label("qa_status"),
                text(func.coalesce(accepted_lei_expression(d), "")).label("accepted_lei"),
                text(func.coalesce(accepted_name_expression(d), "")).label("accepted_legal_name"),
                domain_flag_list(d).label("flags"),
            ]
        query = (
            select(
                text(func.coalesce(d.c.domain, "")).label("domain"),
                count.label("gleif_candidate_count"),
                text(func.coalesce(lists.c.lei_codes, "")).label("all_lei_codes"),
                text(func.coalesce(lists.c.legal_names, "")).label("all_legal_names"),
                *qa_columns,
            )
            .select_from(d.outerjoin(lists, lists.c.domain_id == d.c.id))
            .where(*where)
            .order_by(d.c.id)
        )
        return query if limit is None else query.limit(limit)
    selected = select(d.c.id, d.c.domain, d.c.batch_id).where(*where)
    if options.filters.uses_counts and page is None:
        selected = selected.select_from(d.outerjoin(lists, lists.c.domain_id == d.c.id))
    chosen = selected.subquery("chosen")
    c = GleifCandidate.__table__.alias("c")
    r = LeiRecord.__table__.alias("r")
    joined = chosen.outerjoin(c, c.c.domain_id == chosen.c.id)
    qa_columns = []
    if options.with_qa:
        joined = joined.outerjoin(r, r.c.lei == c.c.lei_code)
        # A domain without candidates has a row of empty candidate fields: no flags either.
        no_candidate = c.c.id.is_(None)
        qa_columns = [
            case((no_candidate, ""), else_=flag_list(candidate_conditions(c, chosen, r))).label(
                "flags"
            ),
            c.c.name_score,
            case((no_candidate, ""), else_=candidate_state_expression(chosen, c)).label("decision"),
        ]
    # A domain without candidates still gets a row, so the file re-imports losslessly.
    query = (
        select(
            text(chosen.c.domain).label("domain"),
            text(c.c.lei_code).label("lei_code"),
            text(c.c.legal_name).label("legal_name"),
            c.c.match_score,
            text(c.c.match_method).label("match_method"),
            *qa_columns,
        )
        .select_from(joined)
        .order_by(chosen.c.id, c.c.id)
    )
    return query if limit is None else query.limit(limit)


def _first_domain_ids(batch: str, filters: DomainFilter, limit: int) -> Select[Any]:
    """Ids of the first `limit` domains of the batch that pass the filters, in id order."""
    p = Domain.__table__.alias("p")
    c = GleifCandidate.__table__.alias("pc")
    # Per domain, a count that the (domain_id, id) index answers: the page is found by
    # walking the batch in id order, never by counting every domain's candidates first.
    count = (
        select(func.count()).where(c.c.domain_id == p.c.id).correlate(p).scalar_subquery()
        if filters.uses_counts
        else None
    )
    return (
        select(p.c.id)
        .where(p.c.batch_id == batch, *filters.conditions(p, count))
        .order_by(p.c.id)
        .limit(limit)
    )


def count_export_rows(connection: Connection, batch: str, options: ExportOptions) -> int:
    """How many rows the export will have."""
    if options.layout is ExportLayout.DOMAIN:
        # One row per domain that passes the filters: the batch's stored counts often know.
        return count_domains(connection, batch, options.filters)
    query = export_query(connection.dialect.name, batch, options).order_by(None).subquery()
    return connection.execute(select(func.count()).select_from(query)).scalar_one()


def write_export(
    engine: Engine,
    batch: str,
    out: BinaryIO,
    options: ExportOptions,
    progress: Callable[[int], None] | None = None,
    cancellation: Cancellation | None = None,
    workers: int | None = None,
) -> int:
    """Stream the export of a batch to `out`; return the number of rows written.

    With `cancellation`, another thread can stop the export, its queries included. On
    PostgreSQL a CSV of the domain layout is copied by `workers` connections at once
    (default: GLEIF_EXPORT_WORKERS, else what the machine and the server can use).
    """
    cancellation = cancellation or Cancellation()
    with read_snapshot(engine) as connection:
        require_batch(connection, batch)
    progress = progress or (lambda _rows: None)
    query = export_query(engine.dialect.name, batch, options)
    domain_csv = options.format is ExportFormat.CSV and options.layout is ExportLayout.DOMAIN
    if domain_csv and not is_sqlite(engine):
        from gleif_data.export_ranges import copy_csv_in_ranges

        return copy_csv_in_ranges(
            engine,
            batch,
            lambda id_range: export_query(engine.dialect.name, batch, options, id_range=id_range),
            out,
            progress=progress,
            cancellation=cancellation,
            workers=workers,
        )
    # The writers pull in pyarrow and xlsxwriter (~60 MB, ~0.4 s): only the exports that
    # need them pay for them, not the PostgreSQL CSV export above.
    from gleif_data.export_writers import (
        ExportLimitError,
        write_csv,
        write_json,
        write_parquet,
        write_parquet_from_csv,
        write_xlsx,
    )

    arrow_parquet = options.format is ExportFormat.PARQUET and not is_sqlite(engine)
    source: Generator[Any, None, None] = (
        _copy_blocks(engine, query, cancellation)
        if arrow_parquet
        else _chunks(engine, query, cancellation)
    )
    # Closed on every way out, so the query ends now rather than when the garbage collector
    # finds the generator (an error's traceback keeps it, and its connection, alive).
    with closing(source):
        try:
            if options.format is ExportFormat.CSV:
                return write_csv(out, options.columns, source, progress)
            if options.format is ExportFormat.XLSX:
                return write_xlsx(out, options.columns, source, progress)
            if arrow_parquet:
                return write_parquet_from_csv(out, source, progress, parquet_schema(options))
            if options.format is ExportFormat.PARQUET:
                schema = parquet_schema(options)
                return write_parquet(out, options.columns, source, progress, schema)
            return write_json(out, options.columns, source, progress)
        except ExportLimitError as exc:
            raise GleifDataError(str(exc)) from None


def parquet_schema(options: ExportOptions) -> pa.Schema:
    """The Arrow schema of a Parquet export: counts and scores are numbers, the rest text."""
    import pyarrow as pa

    types = {
        "gleif_candidate_count": pa.int64(),
        "match_score": pa.float64(),
        "name_score": pa.int64(),
    }
    return pa.schema([(name, types.get(name, pa.string())) for name in options.columns])


def _chunks(
    engine: Engine, query: Select[Any], cancellation: Cancellation
) -> Iterator[Sequence[Any]]:
    """Rows in chunks, through a server-side cursor: the batch never sits in memory."""
    with engine.connect() as connection, cancellation.running(statement_interrupter(connection)):
        result = connection.execution_options(yield_per=_CHUNK_ROWS).execute(query)
        for partition in result.partitions():
            yield [tuple(row) for row in partition]


def _copy_blocks(engine: Engine, query: Select[Any], cancellation: Cancellation) -> Iterator[bytes]:
    """The query's rows as CSV with a header, in blocks, written by PostgreSQL's COPY."""
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    with engine.connect() as connection, cancellation.running(statement_interrupter(connection)):
        driver = connection.connection.driver_connection
        statement = bind(driver, copy_statement(str(compiled), header=True), compiled.params)  # type: ignore[arg-type]
        yield from copy_blocks(driver, statement, cancellation.is_set)  # type: ignore[arg-type]


def _guard(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """Prefix a cell that a spreadsheet would run as a formula with an apostrophe."""
    first = func.substr(column, 1, 1)
    return case((first.in_(FORMULA_PREFIXES), literal("'") + column), else_=column)


def _raw(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return column


def preview_rows(
    connection: Connection, batch: str, options: ExportOptions, limit: int = 50
) -> list[tuple[Any, ...]]:
    """The first rows of the export, for a preview in the dashboard."""
    query = export_query(connection.dialect.name, batch, options, limit=limit)
    return [tuple(row) for row in connection.execute(query)]


def export_bytes(engine: Engine, batch: str, options: ExportOptions) -> bytes:
    """The whole export in memory: for small downloads only."""
    buffer = io.BytesIO()
    write_export(engine, batch, buffer, options)
    return buffer.getvalue()
