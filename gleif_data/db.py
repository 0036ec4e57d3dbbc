"""Engines and the few places where PostgreSQL and SQLite differ."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import ColumnElement, Subquery, create_engine, event, func, select
from sqlalchemy.engine import URL, Engine

from gleif_data.config import normalise_url, resolve_database_url
from gleif_data.models import Domain, GleifCandidate

LIST_SEPARATOR = "; "


def make_engine(url: URL | str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for the configured database (pre-ping, Unicode-aware SQLite)."""
    url = resolve_database_url() if url is None else url
    if isinstance(url, str):
        url = normalise_url(url)
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if is_sqlite(engine):
        event.listen(engine, "connect", _prepare_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite (otherwise it is PostgreSQL)."""
    return engine.dialect.name == "sqlite"


def contains_text(column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """Case-insensitive, Unicode-aware substring test where %, _ and quotes are literal."""
    # strpos/instr take the needle as a plain string, so LIKE wildcards never apply.
    return func.strpos(func.lower(column), func.lower(needle)) > 0


def _prepare_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # The sqlite3 module's own transaction handling skips DDL and ends transactions
    # on its own; SQLAlchemy's documented recipe hands BEGIN back to us (see below).
    dbapi_connection.isolation_level = None
    # SQLite's lower() folds ASCII only; Python's folds every script, like PostgreSQL's.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    # PostgreSQL's strpos is SQLite's instr; one spelling keeps queries dialect-free.
    dbapi_connection.create_function("strpos", 2, _strpos, deterministic=True)
    dbapi_connection.execute("PRAGMA foreign_keys = ON")
    dbapi_connection.execute("PRAGMA journal_mode = WAL")


def _begin_sqlite_transaction(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _strpos(haystack: str | None, needle: str | None) -> int | None:
    if haystack is None or needle is None:
        return None
    return haystack.find(needle) + 1


def candidate_lists(dialect_name: str, batch: str) -> Subquery:
    """Per domain of a batch: candidate count and "; "-joined LEIs and names, in candidate id order.

    Columns: domain_id, candidate_count, lei_codes, legal_names. A NULL code or name counts as
    an empty string, so that the i-th code always belongs to the i-th name.
    """
    c = GleifCandidate.__table__.alias("c")
    d = Domain.__table__.alias("cd")
    code = func.coalesce(c.c.lei_code, "")
    name = func.coalesce(c.c.legal_name, "")
    in_batch = (d.c.id == c.c.domain_id) & (d.c.batch_id == batch)
    if dialect_name != "sqlite":
        return (
            select(
                c.c.domain_id,
                func.count().label("candidate_count"),
                func.string_agg(code, LIST_SEPARATOR).aggregate_order_by(c.c.id).label("lei_codes"),
                func.string_agg(name, LIST_SEPARATOR)
                .aggregate_order_by(c.c.id)
                .label("legal_names"),
            )
            .join_from(c, d, in_batch)
            .group_by(c.c.domain_id)
            .subquery("candidate_lists")
        )
    # SQLite before 3.44 has no ORDER BY inside group_concat(); as a window function over
    # an ordered frame its order is defined, and the frame's last row holds the whole list.
    window = {"partition_by": c.c.domain_id, "order_by": c.c.id, "rows": (None, 0)}
    running = (
        select(
            c.c.domain_id,
            func.count().over(**window).label("candidate_count"),
            func.group_concat(code, LIST_SEPARATOR).over(**window).label("lei_codes"),
            func.group_concat(name, LIST_SEPARATOR).over(**window).label("legal_names"),
            func.row_number()
            .over(partition_by=c.c.domain_id, order_by=c.c.id.desc())
            .label("from_last"),
        )
        .join_from(c, d, in_batch)
        .subquery("running_lists")
    )
    return (
        select(
            running.c.domain_id,
            running.c.candidate_count,
            running.c.lei_codes,
            running.c.legal_names,
        )
        .where(running.c.from_last == 1)
        .subquery("candidate_lists")
    )
