"""Benchmark of the reference search (gleif_data.reference_search) on a generated golden copy.

    .venv/bin/python benchmarks/reference_search.py                     # 3,000,000 records
    .venv/bin/python benchmarks/reference_search.py --scale 300000      # a smaller set
    .venv/bin/python benchmarks/reference_search.py --skip-sqlite
    .venv/bin/python benchmarks/reference_search.py --reindex       # migration 0006 afresh

Builds once and reuses: the PostgreSQL database `gleif_refbench` (`gleif_refbench_<scale>` at
other scales) on the server of BENCH_SERVER_URL (default postgresql://root@127.0.0.1:5432),
and the SQLite file benchmarks/data/refbench_<scale>.sqlite3 (git-ignored), copied from it.
The records are the real sample's 6,450 plus generated ones whose names join the first half
of one real name's words to the second half of another's (so words, scripts and legal forms
occur as often as in the sample), with the first record's statuses and countries. The search
indexes are built by migration 0006 on the loaded table, and that migration is timed.
Each search is timed as the minimum of 3 runs in one warm process, beside a reference measured
in the same run: a primary-key lookup of one record. Writes benchmarks/REFERENCE_SEARCH.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from alembic import command  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402

from gleif_data.config import normalise_url  # noqa: E402
from gleif_data.db import make_engine  # noqa: E402
from gleif_data.demo import GOLDEN_COPY_SAMPLE  # noqa: E402
from gleif_data.import_gleif import import_gleif  # noqa: E402
from gleif_data.migrate import alembic_config, upgrade  # noqa: E402
from gleif_data.reference_search import search_reference  # noqa: E402
from gleif_data.transactions import read_snapshot  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_FILE = BENCH_DIR / "REFERENCE_SEARCH.md"
DEFAULT_SCALE = 3_000_000
GOAL_SECONDS = 0.2
RUNS = 3
# The revision before the search indexes: data is loaded there, then 0006 runs on it.
BEFORE_SEARCH = "0005"

# What an analyst types: (what it is, query).
SEARCHES = [
    ("common word", "bank"),
    ("very common word (a legal form)", "limited"),
    ("two words", "deutsche bank"),
    ("two words, reversed", "bank deutsche"),
    ("typo", "deutshe bank"),
    ("typo of a very common word", "limted"),
    ("rare name", "bank of kathmandu"),
    ("rare name, Cyrillic", "ист вест финанс"),
    ("rare name, Greek", "οικοεκπαιδευτικη"),
    ("LEI prefix, narrow", "7LTWFZ"),
    ("LEI prefix, wide (a LOU's)", "5493"),
    ("whole LEI", "7LTWFZYICNSX8D621K86"),
]
REFERENCE_LEI = "7LTWFZYICNSX8D621K86"

# Generated record g: name from sample records a (first half of its words) and b (second
# half), other facts from a; the LEI keeps a's four-character LOU prefix and encodes g.
GENERATE = """
INSERT INTO lei_records (lei, legal_name, entity_status, registration_status,
    legal_address_country, legal_jurisdiction, headquarters_country, last_update, next_renewal)
SELECT left(a.lei, 4) || '00' || lpad(upper(to_hex(g)), 8, '0')
         || upper(substr(md5(g::text), 1, 4)) || lpad((g % 100)::text, 2, '0'),
       array_to_string(
         a.words[1:greatest(1, cardinality(a.words) / 2)]
         || b.words[cardinality(b.words) / 2 + 1:], ' '),
       a.entity_status, a.registration_status, a.legal_address_country,
       a.legal_jurisdiction, a.headquarters_country, a.last_update, a.next_renewal
FROM generate_series(1, :count) AS g
JOIN refbench_sample AS a ON a.i = (hashint4(g) & 2147483647) % :sample
JOIN refbench_sample AS b ON b.i = (hashint4(g # 1431655765) & 2147483647) % :sample
ON CONFLICT (lei) DO NOTHING
"""
SAMPLE_TABLE = """
CREATE TEMPORARY TABLE refbench_sample AS
SELECT row_number() OVER (ORDER BY lei) - 1 AS i,
       regexp_split_to_array(legal_name, '\\s+') AS words,
       lei, entity_status, registration_status, legal_address_country, legal_jurisdiction,
       headquarters_country, last_update, next_renewal
FROM lei_records WHERE legal_name IS NOT NULL
"""
COLUMNS = (
    "lei, legal_name, entity_status, registration_status, legal_address_country,"
    " legal_jurisdiction, headquarters_country, last_update, next_renewal"
)


def read(engine: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(connection, ...)` in a read snapshot of its own, as a page render opens one."""
    with read_snapshot(engine, bulk=True) as connection:
        return function(connection, *args, **kwargs)


def say(message: str) -> None:
    """A progress line on stderr, with the time."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def build_postgresql(
    server: URL, database: str, scale: int, *, reindex: bool = False
) -> tuple[URL, dict[str, str]]:
    """The PostgreSQL database of `scale` records, built unless it is there; with build facts."""
    url = server.set(database=database)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
        ).first()
        if exists:
            facts = _built_facts(url, scale)
            if facts is not None:
                say(f"reusing database {database}")
                return url, index_postgresql(url, scale, facts) if reindex else facts
            connection.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    say(f"building database {database} with {scale:,} records ...")
    engine = make_engine(url)
    upgrade(engine)
    _downgrade(engine, BEFORE_SEARCH)
    import_gleif(engine, Path(GOLDEN_COPY_SAMPLE))
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text(SAMPLE_TABLE))
        sample = connection.execute(text("SELECT count(*) FROM refbench_sample")).scalar_one()
        generated = scale - connection.execute(text("SELECT count(*) FROM lei_records")).scalar()
        connection.execute(text(GENERATE), {"count": generated, "sample": sample})
    load = time.perf_counter() - started
    facts = {
        "records": f"{_count(engine):,}",
        "built": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "load": f"{load:.0f} s (INSERT ... SELECT from generate_series)",
    }
    engine.dispose()
    return url, index_postgresql(url, scale, facts)


def index_postgresql(url: URL, scale: int, facts: dict[str, str]) -> dict[str, str]:
    """Run migration 0006 (afresh: down to 0005 first) on the loaded table, timed."""
    engine = make_engine(url)
    _downgrade(engine, BEFORE_SEARCH)
    say("migrating to head (the search indexes) ...")
    started = time.perf_counter()
    upgrade(engine)
    migrate = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE lei_records"))
        sizes = connection.execute(
            text(
                "SELECT pg_size_pretty(pg_relation_size('lei_records')),"
                " pg_size_pretty(pg_relation_size('ix_lei_records_legal_name_trgm')),"
                " pg_size_pretty(pg_relation_size('ix_lei_records_lei_prefix')),"
                " pg_size_pretty(pg_relation_size('ix_lei_records_name_length'))"
            )
        ).one()
    facts = {
        **facts,
        "migration 0006 on the loaded table": f"{migrate:.0f} s",
        "sizes": f"table {sizes[0]}, trigram GIN index {sizes[1]}, LEI prefix index"
        f" {sizes[2]}, name length index {sizes[3]}",
    }
    _store_facts(engine, scale, facts)
    engine.dispose()
    return facts


def build_sqlite(source: URL, path: Path, scale: int, *, reindex: bool = False) -> dict[str, str]:
    """The SQLite file with the PostgreSQL database's records, built unless it is there."""
    url = f"sqlite:///{path}"
    if path.exists():
        facts = _built_facts(url, scale)
        if facts is not None:
            say(f"reusing {path}")
            return index_sqlite(path, scale, facts) if reindex else facts
        path.unlink()
    say(f"building {path} from {source.database} ...")
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    upgrade(engine)
    _downgrade(engine, BEFORE_SEARCH)
    started = time.perf_counter()
    source_engine = create_engine(source)
    insert = f"INSERT INTO lei_records ({COLUMNS}) VALUES ({', '.join(['?'] * 9)})"
    with source_engine.connect() as reader, engine.begin() as writer:
        rows = reader.execution_options(stream_results=True, yield_per=50_000).exec_driver_sql(
            f"SELECT {COLUMNS} FROM lei_records ORDER BY lei"
        )
        for chunk in rows.partitions():
            writer.exec_driver_sql(insert, [tuple(row) for row in chunk])
    source_engine.dispose()
    load = time.perf_counter() - started
    facts = {
        "records": f"{_count(engine):,}",
        "built": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "load": f"{load:.0f} s (copied from PostgreSQL, with the 0004 triggers)",
    }
    engine.dispose()
    return index_sqlite(path, scale, facts)


def index_sqlite(path: Path, scale: int, facts: dict[str, str]) -> dict[str, str]:
    """Run migration 0006 (afresh: down to 0005 first) on the loaded table, timed."""
    engine = make_engine(f"sqlite:///{path}")
    _downgrade(engine, BEFORE_SEARCH)
    say("migrating to head (the FTS5 table) ...")
    started = time.perf_counter()
    upgrade(engine)
    migrate = time.perf_counter() - started
    facts = {
        **facts,
        "migration 0006 on the loaded table": f"{migrate:.0f} s",
        "sizes": f"file {path.stat().st_size / 1024**2:,.0f} MB",
    }
    _store_facts(engine, scale, facts)
    engine.dispose()
    return facts


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM lei_records")).scalar_one()


def _store_facts(engine: Engine, scale: int, facts: dict[str, str]) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS refbench_facts"))
        connection.execute(
            text("CREATE TABLE refbench_facts (scale integer, name text, value text)")
        )
        for name, value in facts.items():
            connection.execute(
                text("INSERT INTO refbench_facts VALUES (:scale, :name, :value)"),
                {"scale": scale, "name": name, "value": value},
            )


def _built_facts(url: URL | str, scale: int) -> dict[str, str] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, value FROM refbench_facts WHERE scale = :scale"),
                {"scale": scale},
            ).all()
    except Exception:  # no such table: not built, or built half-way
        return None
    finally:
        engine.dispose()
    return dict(rows) if rows else None


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, object]:
    """The minimum wall time of `runs` calls, and the last call's result."""
    times = []
    result: object = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(engine: Engine, label: str) -> list[str]:
    """Markdown table rows: the reference lookup, then every search, for one database."""
    lookup = text("SELECT * FROM lei_records WHERE lei = :lei")

    def primary_key_lookup() -> object:
        with engine.connect() as connection:
            return connection.execute(lookup, {"lei": REFERENCE_LEI}).all()

    primary_key_lookup()  # the pool's first connection is not what we measure
    seconds, _ = best_of(RUNS, primary_key_lookup)
    rows = [f"| {label} | reference: primary-key lookup of one record | | {seconds:.4f} | | |"]
    for what, query in SEARCHES:
        seconds, found = best_of(RUNS, lambda query=query: read(engine, search_reference, query))
        top = found[0] if found else None  # type: ignore[index]
        first = f"{top.legal_name} ({top.score})" if top else "nothing"
        goal = "yes" if seconds < GOAL_SECONDS else "no"
        rows.append(f"| {label} | {what} | `{query}` | {seconds:.4f} | {goal} | {first} |")
        say(f"{label}: {what} {query!r}: {seconds:.4f} s, {len(found)} found")  # type: ignore[arg-type]
    return rows


def write_results(sections: Sequence[str], scale: int, argv: Sequence[str]) -> None:
    """Replace this scale's section of REFERENCE_SEARCH.md."""
    marker = f"<!-- scale {scale} -->"
    intro = (
        "# Reference search benchmark\n\n"
        "Written by `benchmarks/reference_search.py` (see its docstring for the data). Times"
        " are the minimum of 3 runs of `search_reference(connection, query)` (limit 10) in one warm"
        " process, including the Python re-ranking; goal: under 0.2 s on PostgreSQL. The"
        " machine is shared: the load average and the primary-key lookup of the same run say"
        " how busy it was.\n"
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    section = "\n".join(
        [
            marker,
            f"## {scale:,} records",
            "",
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load}"
            f" (2 cores, shared)",
            f"- command: `{' '.join([sys.executable, *argv])}`",
            f"- python {platform.python_version()}, {platform.platform()}",
            *sections,
            "",
        ]
    )
    old = RESULTS_FILE.read_text(encoding="utf-8") if RESULTS_FILE.exists() else intro
    parts = old.split("<!-- scale ")
    kept = [parts[0].rstrip("\n") + "\n"]
    kept += ["<!-- scale " + part for part in parts[1:] if not part.startswith(f"{scale} -->")]
    RESULTS_FILE.write_text("\n".join([*kept, section]), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Build or reuse the databases, time the searches, write REFERENCE_SEARCH.md."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="records (default 3 M)")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--reindex", action="store_true", help="run migration 0006 afresh on a reused database"
    )
    args = parser.parse_args(argv)
    server = normalise_url(os.environ.get("BENCH_SERVER_URL", "postgresql://root@127.0.0.1:5432"))
    suffix = "" if args.scale == DEFAULT_SCALE else f"_{args.scale}"
    pg_url, pg_facts = build_postgresql(
        server, f"gleif_refbench{suffix}", args.scale, reindex=args.reindex
    )
    databases: list[tuple[str, str, dict[str, str]]] = [
        ("PostgreSQL", pg_url.render_as_string(hide_password=False), pg_facts)
    ]
    if not args.skip_sqlite:
        path = DATA_DIR / f"refbench_{args.scale}.sqlite3"
        databases.append(
            (
                "SQLite",
                f"sqlite:///{path}",
                build_sqlite(pg_url, path, args.scale, reindex=args.reindex),
            )
        )
    sections: list[str] = []
    table = [
        "",
        "| database | search | query | seconds | < 0.2 s | first result (score) |",
        "|---|---|---|---:|---|---|",
    ]
    for label, url, facts in databases:
        sections += [f"- {label}: " + "; ".join(f"{k}: {v}" for k, v in facts.items())]
        engine = make_engine(url)
        table += measure(engine, label)
        engine.dispose()
    write_results(
        [*sections, *table], args.scale, [str(Path(__file__).relative_to(PROJECT_DIR)), *argv]
    )
    say(f"written {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
