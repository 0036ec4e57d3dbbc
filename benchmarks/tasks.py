"""The work of one measurement, run in a fresh child process so that its peak RSS is its own.

`python benchmarks/tasks.py TASK ...` does the work and prints one JSON object on stdout.
The reference tasks import psycopg only, so that their time and memory are the floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_BLOCK = 1 << 20


def read(engine: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(connection, ...)` in a read snapshot of its own, as a page render opens one."""
    from gleif_data.transactions import read_snapshot

    with read_snapshot(engine, bulk=True) as connection:
        return function(connection, *args, **kwargs)


def copy_out(dsn: str, sql_file: Path, out: Path) -> dict[str, Any]:
    """The reference export: PostgreSQL's COPY of the aggregate query, bytes into a file."""
    import psycopg

    # The CLI's COPY options, so that the two files can be compared byte for byte.
    options = "FORMAT csv, HEADER true, NULL '\\N'"
    statement = f"COPY ({sql_file.read_text()}) TO STDOUT WITH ({options})"
    size = 0
    with (
        psycopg.connect(dsn) as connection,
        out.open("wb") as handle,
        connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for block in copy:
            handle.write(block)
            size += len(block)
    return {"bytes": size}


def copy_in(dsn: str, csv_file: Path, table: str, columns: list[str]) -> dict[str, Any]:
    """The reference import: COPY FROM STDIN of the file into a fresh table of text columns."""
    import psycopg
    from psycopg import sql

    names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    definition = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(name)) for name in columns
    )
    with psycopg.connect(dsn) as connection:
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        connection.execute(
            sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), definition)
        )
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
            sql.Identifier(table), names
        )
        with (
            connection.cursor() as cursor,
            cursor.copy(statement) as copy,
            csv_file.open("rb") as handle,
        ):
            while block := handle.read(_BLOCK):
                copy.write(block)
        rows = connection.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
    return {"rows": rows[0] if rows else None}


def orm_export(url: str, batch: str, out: Path) -> dict[str, Any]:
    """The first proposed approach: ORM objects with joinedload, strings joined in Python."""
    from benchmarks.orm_approach import export_with_orm
    from gleif_data.db import make_engine

    engine = make_engine(url)
    try:
        return {"rows": export_with_orm(engine, batch, out)}
    finally:
        engine.dispose()


def dashboard(url: str, batch: str, repeat: int, later_batch: str | None) -> dict[str, Any]:
    """The dashboard's questions, each timed `repeat` times on a warm engine (median)."""
    from sqlalchemy import func, select

    from gleif_data.db import make_engine
    from gleif_data.export import ExportOptions, count_export_rows, preview_rows
    from gleif_data.filters import DomainFilter
    from gleif_data.models import Domain, GleifCandidate
    from gleif_data.queries import list_batch_sizes, list_batches

    engine = make_engine(url)
    with engine.connect() as connection:
        low, high = connection.execute(
            select(func.min(Domain.id), func.max(Domain.id)).where(Domain.batch_id == batch)
        ).one()
        middle = low + (high - low) // 2
        some_domain = connection.execute(
            select(Domain.domain).where(Domain.id == middle)
        ).scalar_one()

    def opts(**filters: Any) -> ExportOptions:
        return ExportOptions(filters=DomainFilter(**filters))

    def single_domain() -> Any:
        query = select(GleifCandidate).where(GleifCandidate.domain_id == middle)
        with engine.connect() as connection:
            return connection.execute(query.order_by(GleifCandidate.id)).all()

    def split() -> Any:
        return [
            read(engine, count_export_rows, batch, opts(max_candidates=0)),
            read(engine, count_export_rows, batch, opts(min_candidates=1, max_candidates=1)),
            read(engine, count_export_rows, batch, opts(min_candidates=2)),
        ]

    queries: dict[str, Callable[[], Any]] = {
        "list_batches (the CLI's `batches`: domain and candidate counts)": lambda: read(
            engine, list_batches
        ),
        "list_batch_sizes (the batch picker's domain counts)": lambda: read(
            engine, list_batch_sizes
        ),
        "3 x count_export_rows (domains with 0 / 1 / >1 candidates)": split,
        "preview_rows, first 50, no filter": lambda: read(engine, preview_rows, batch, opts()),
        "preview_rows, domain contains 'bank'": lambda: read(
            engine, preview_rows, batch, opts(domain_contains="bank")
        ),
        "preview_rows, count filter (≥ 3 candidates)": lambda: read(
            engine, preview_rows, batch, opts(min_candidates=3)
        ),
        "preview_rows, name filter ('holdings')": lambda: read(
            engine, preview_rows, batch, opts(name_contains="holdings")
        ),
        "count_export_rows, no filter": lambda: read(engine, count_export_rows, batch, opts()),
        "count_export_rows, name filter ('holdings')": lambda: read(
            engine, count_export_rows, batch, opts(name_contains="holdings")
        ),
        "a single domain's candidates (by domain id)": single_domain,
    }
    if later_batch:
        # A batch imported after others sits at high ids: a plan that walks the candidates
        # from the lowest domain id pays for every older batch before its first row.
        queries[f"preview_rows, first 50, no filter, later batch ({later_batch})"] = lambda: read(
            engine, preview_rows, later_batch, opts()
        )
        queries[f"preview_rows, first 50, domain contains 'bank', later batch ({later_batch})"] = (
            lambda: read(engine, preview_rows, later_batch, opts(domain_contains="bank"))
        )
    queries.update(_page_queries(engine, batch, middle, high, some_domain))
    timings = {}
    for label, run in queries.items():
        seconds = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        timings[label] = {"median": statistics.median(seconds), "max": max(seconds)}
    engine.dispose()
    return {"timings": timings}


def _page_queries(
    engine: Any, batch: str, middle: int, high: int, some_domain: str
) -> dict[str, Callable[[], Any]]:
    """The Overview, Domain and Explore pages' own queries."""
    from gleif_data.domain_detail import find_domain
    from gleif_data.explore import Cursor, count_domains, explore_page
    from gleif_data.filters import DomainFilter
    from gleif_data.flags import Flag
    from gleif_data.overview import batch_overview, count_batch, qa_overview, refresh_counts
    from gleif_data.transactions import read_snapshot

    def count_afresh() -> Any:
        with read_snapshot(engine, bulk=True) as connection:
            return count_batch(connection, batch)

    read(engine, refresh_counts, [batch])
    deep = Cursor(None, middle + (high - middle) * 9 // 10)
    return {
        # What an import (or the first look after another program wrote the tables) pays.
        "overview.count_batch (all Overview counts, counted afresh)": count_afresh,
        "overview.batch_overview (stored counts)": lambda: read(engine, batch_overview, batch),
        "overview.qa_overview (stored counts, QA statuses counted)": lambda: read(
            engine, qa_overview, batch
        ),
        "domain_detail.find_domain (one domain with reference data)": lambda: read(
            engine, find_domain, batch, some_domain
        ),
        "explore_page, first page": lambda: read(engine, explore_page, batch, DomainFilter()),
        "explore_page, deep page (keyset, ~95 % into the batch)": lambda: read(
            engine, explore_page, batch, DomainFilter(), after=deep
        ),
        "explore_page, first page, name filter ('holdings')": lambda: read(
            engine, explore_page, batch, DomainFilter(name_contains="holdings")
        ),
        "explore_page, first page, a common flag (shared_lei)": lambda: read(
            engine, explore_page, batch, DomainFilter(flags={Flag.SHARED_LEI})
        ),
        "explore_page, first page, a rare flag (invalid_lei, ids stored)": lambda: read(
            engine, explore_page, batch, DomainFilter(flags={Flag.INVALID_LEI})
        ),
        "count_domains, one flag (shared_lei, from the stored counts)": lambda: read(
            engine, count_domains, batch, DomainFilter(flags={Flag.SHARED_LEI})
        ),
        "count_domains, a flag and a name filter (a query)": lambda: read(
            engine,
            count_domains,
            batch,
            DomainFilter(flags={Flag.SHARED_LEI}, name_contains="holdings"),
        ),
    }


def main() -> int:
    """Parse the task and its arguments, run it, print its JSON result with the time it took."""
    parser = argparse.ArgumentParser(description=__doc__)
    tasks = parser.add_subparsers(dest="task", required=True)
    out = tasks.add_parser("copy-out")
    out.add_argument("dsn")
    out.add_argument("sql_file", type=Path)
    out.add_argument("out", type=Path)
    into = tasks.add_parser("copy-in")
    into.add_argument("dsn")
    into.add_argument("csv_file", type=Path)
    into.add_argument("table")
    into.add_argument("columns", nargs="+")
    orm = tasks.add_parser("orm-export")
    orm.add_argument("url")
    orm.add_argument("batch")
    orm.add_argument("out", type=Path)
    board = tasks.add_parser("dashboard")
    board.add_argument("url")
    board.add_argument("batch")
    board.add_argument("--repeat", type=int, default=3)
    board.add_argument("--later-batch")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.task == "copy-out":
        result = copy_out(args.dsn, args.sql_file, args.out)
    elif args.task == "copy-in":
        result = copy_in(args.dsn, args.csv_file, args.table, args.columns)
    elif args.task == "orm-export":
        result = orm_export(args.url, args.batch, args.out)
    else:
        result = dashboard(args.url, args.batch, args.repeat, args.later_batch)
    result["seconds_in_child"] = time.perf_counter() - start
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
