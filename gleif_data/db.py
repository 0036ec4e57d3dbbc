"""Engines and the few places where PostgreSQL and SQLite differ."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, Connection, Engine

from gleif_data.config import (
    DatabaseUrls,
    normalise_url,
    resolve_database_url,
    resolve_database_urls,
)
from gleif_data.lei import has_valid_check_digits
from gleif_data.models import Domain, GleifCandidate
from gleif_data.sql_dialects import strpos
from gleif_data.text_fold import fold_text

LIST_SEPARATOR = "; "
_CANCEL_SECONDS = 5.0
# The execution option by which an engine on a read replica knows its primary.
_PRIMARY = "gleif_primary"


def make_engine(url: URL | str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for the configured database (pre-ping, Unicode-aware SQLite)."""
    url = resolve_database_url() if url is None else url
    if isinstance(url, str):
        url = normalise_url(url)
    if url.get_backend_name() == "sqlite":
        # Wait up to 30 s for another writer instead of failing at once.
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if is_sqlite(engine):
        event.listen(engine, "connect", _prepare_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
    else:
        event.listen(engine, "connect", _prepare_postgresql_connection)
    return engine


def make_read_engine(urls: DatabaseUrls | None = None, **kwargs: Any) -> Engine:
    """An engine for reads: on the read URL when one is set, writing through it to the primary.

    Without a read URL it is `make_engine`'s. With one, write_transaction and the stored
    counts take the primary (`primary_engine`) from it, so callers that read and write pass
    this one engine. `kwargs` go to both engines.
    """
    urls = resolve_database_urls() if urls is None else urls
    primary = make_engine(urls.write, **kwargs)
    if not urls.replicated:
        return primary
    return make_engine(urls.read, **kwargs).execution_options(**{_PRIMARY: primary})


def primary_engine(engine: Engine) -> Engine:
    """Where writes go: the primary of an engine on a read replica, else the engine itself."""
    return engine.get_execution_options().get(_PRIMARY, engine)


def reads_replica(engine: Engine) -> bool:
    """Whether the engine reads a read replica (made by make_read_engine with a read URL)."""
    return _PRIMARY in engine.get_execution_options()


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite (otherwise it is PostgreSQL)."""
    return engine.dialect.name == "sqlite"


def statement_interrupter(connection: Connection) -> Callable[[], None]:
    """A function that stops the statement `connection` runs, callable from another thread."""
    driver = connection.connection.driver_connection
    if is_sqlite(connection.engine):
        return driver.interrupt  # type: ignore[union-attr]
    # A cancel request travels on a connection of its own; bounded, so a lost server
    # cannot hold up the thread that cancels.
    return functools.partial(driver.cancel_safe, timeout=_CANCEL_SECONDS)  # type: ignore[union-attr]


def _range_bounds(id_range: tuple[int, int]) -> tuple[Any, Any]:
    """`low <= id < high` as BETWEEN's bounds, bound as parameters named once per query."""
    return tuple(bindparam(name, value) for name, value in id_range_params(id_range).items())


def id_range_params(id_range: tuple[int, int]) -> dict[str, int]:
    """The parameters of a query built for one id range: another range reuses its SQL text."""
    low, high = id_range
    return {"id_low": low, "id_last": high - 1}


def in_id_range(column: ColumnElement[int], id_range: tuple[int, int]) -> ColumnElement[bool]:
    """`low <= column < high`, with the parameters candidate_lists uses for the same range."""
    return column.between(*_range_bounds(id_range))


def contains_text(column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """Substring test under gleif_fold (see text_fold) where %, _ and quotes are literal."""
    # strpos takes the needle as a plain string, so LIKE wildcards never apply. The needle
    # is folded here and bound folded, so only the column goes through SQL's fold.
    return strpos(func.gleif_fold(column), fold_text(needle)) > 0


def _prepare_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # The sqlite3 module's own transaction handling skips DDL and ends transactions
    # on its own; SQLAlchemy's documented recipe hands BEGIN back to us (see below).
    dbapi_connection.isolation_level = None
    # SQLite's lower() folds ASCII only; Python's folds every script, like PostgreSQL's.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    # PostgreSQL gets the same function from migration 0003, written in SQL.
    dbapi_connection.create_function("gleif_fold", 1, _gleif_fold, deterministic=True)
    # PostgreSQL gets the same function from migration 0002, written in SQL.
    dbapi_connection.create_function(
        "lei_check_digits_valid", 1, _lei_check_digits_valid, deterministic=True
    )
    dbapi_connection.execute("PRAGMA foreign_keys = ON")
    dbapi_connection.execute("PRAGMA journal_mode = WAL")


def _prepare_postgresql_connection(dbapi_connection: Any, _record: Any) -> None:
    # JIT compilation is planned from cost estimates that count every arm of a CASE: the
    # QA state's index probes made a 2 ms page of 50 domains compile for 3-4 s.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def _begin_sqlite_transaction(connection: Any) -> None:
    # A writer asks for the write lock up front (see transactions.write_transaction): a deferred
    # transaction that reads first cannot wait for it and fails at once when another
    # writer got there in between.
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _gleif_fold(value: str | None) -> str | None:
    return fold_text(value) if isinstance(value, str) else value


def _lei_check_digits_valid(code: str | None) -> int:
    return int(code is not None and has_valid_check_digits(code))


def candidate_lists(
    dialect_name: str,
    batch: str,
    *,
    domain_ids: Select[Any] | None = None,
    id_range: tuple[int, int] | None = None,
) -> Subquery:
    """Per domain of a batch: candidate count and "; "-joined LEIs and names, in candidate id order.

    Columns: domain_id, candidate_count, lei_codes, legal_names. A NULL code or name counts as
    an empty string, so that the i-th code always belongs to the i-th name. With `domain_ids`
    (a SELECT of domain ids), only those domains are aggregated; with `id_range` (low, high),
    only the domains with low <= id < high.
    """
    c = GleifCandidate.__table__.alias("c")
    d = Domain.__table__.alias("cd")
    code = func.coalesce(c.c.lei_code, "")
    name = func.coalesce(c.c.legal_name, "")
    in_batch = (d.c.id == c.c.domain_id) & (d.c.batch_id == batch)
    if domain_ids is not None:
        in_batch = in_batch & c.c.domain_id.in_(domain_ids)
    if id_range is not None:
        # The candidates of a range of domain ids, whatever their batch: the caller joins
        # the lists to its batch's domains, which drops the others. Without the join to
        # `domains` here, the (domain_id, id) index yields the range in group order, so
        # PostgreSQL aggregates it without a sort (with the join it sorted each range).
        source, where = c, [c.c.domain_id.between(*_range_bounds(id_range))]
    else:
        source, where = c.join(d, in_batch), []
    if dialect_name != "sqlite":
        return (
            select(
                c.c.domain_id,
                func.count().label("candidate_count"),
                func.aggregate_strings(code, LIST_SEPARATOR)
                .aggregate_order_by(c.c.id)
                .label("lei_codes"),
                func.aggregate_strings(name, LIST_SEPARATOR)
                .aggregate_order_by(c.c.id)
                .label("legal_names"),
            )
            .select_from(source)
            .where(*where)
            .group_by(c.c.domain_id)
            .subquery("candidate_lists")
        )
    # SQLite before 3.44 (Python 3.11 ships 3.40) has no ORDER BY inside an aggregate, so
    # aggregate_order_by cannot compile there; as a window function over an ordered frame
    # the order is defined, and the frame's last row holds the whole list.
    window = {"partition_by": c.c.domain_id, "order_by": c.c.id, "rows": (None, 0)}
    running = (
        select(
            c.c.domain_id,
            func.count().over(**window).label("candidate_count"),
            func.aggregate_strings(code, LIST_SEPARATOR).over(**window).label("lei_codes"),
            func.aggregate_strings(name, LIST_SEPARATOR).over(**window).label("legal_names"),
            func.row_number()
            .over(partition_by=c.c.domain_id, order_by=c.c.id.desc())
            .label("from_last"),
        )
        .select_from(source)
        .where(*where)
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
