"""Where a request meets the database: one read snapshot or one write transaction, and its errors.

The caller owns the transaction (house style, habit 12): the page render, the CLI command and
the route open one here and hand its `Connection` to the library's functions. Database errors
are translated here, once, into the library's own (gleif_data.errors), so that no front end
imports a driver or reads `exc.orig`. Every transaction opened here runs under the one
statement time limit (gleif_data.statement_timeout), unless it is declared bulk work.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from gleif_data.config import describe_url
from gleif_data.db import primary_engine
from gleif_data.errors import (
    DatabaseError,
    DatabaseUnavailable,
    PermissionDenied,
    QueryRefused,
    QueryTimedOut,
    ReadOnlyDatabase,
)
from gleif_data.replica import WRITE_LOG
from gleif_data.statement_timeout import statement_timeout_seconds

logger = logging.getLogger(__name__)

_AFTER_SNAPSHOT = "gleif_after_snapshot"  # Connection.info key: writes waiting for the end

# SQLSTATE classes and codes (PostgreSQL appendix A).
_UNAVAILABLE_CLASSES = ("08",)  # connection exception
_UNAVAILABLE_CODES = ("57P01", "57P02", "57P03", "53300")  # shutdown, cannot connect, too many
_TIMED_OUT_CODES = ("57014", "55P03")  # query_canceled (statement_timeout), lock_not_available
_READ_ONLY_CODES = ("25006",)  # read_only_sql_transaction: a READ ONLY transaction, a standby
_PERMISSION_CODES = ("42501",)  # insufficient_privilege
# SQLite's primary result codes (the low byte of sqlite_errorcode).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_CANTOPEN = 5, 6, 8, 14
_SQLITE_PERM, _SQLITE_AUTH = 3, 23


@contextmanager
def read_snapshot(engine: Engine, *, bulk: bool = False) -> Iterator[Connection]:
    """A connection whose reads all see one snapshot of the database, for one request.

    PostgreSQL: REPEATABLE READ, READ ONLY. SQLite: one transaction, whose snapshot starts
    at its first read (WAL). Writes queued with `after_snapshot` run once it has ended.
    `bulk` lifts the time limit, for work that reads whole batches on purpose.
    """
    pending: list[Callable[[Connection], None]] = []
    with database_errors(engine.url), engine.connect() as connection:
        postgresql = connection.dialect.name != "sqlite"
        if postgresql:
            connection.execution_options(isolation_level="REPEATABLE READ")
        connection.info[_AFTER_SNAPSHOT] = pending
        try:
            with connection.begin():
                if postgresql:
                    # Not the postgresql_readonly option: on its way back to the pool the
                    # connection would be made READ WRITE explicitly, and so would every
                    # later transaction on it, against a read-only role's default (and
                    # refused on a hot standby).
                    connection.execute(text("SET TRANSACTION READ ONLY"))
                _limit_time(connection, bulk=bulk)
                yield connection
        finally:
            connection.info.pop(_AFTER_SNAPSHOT, None)
    for write in pending:
        _keep_quietly(engine, write)


@contextmanager
def write_transaction(engine: Engine, *, bulk: bool = False) -> Iterator[Connection]:
    """One transaction that will write, on the primary; committed when the block ends.

    Rolled back on error. An engine on a read replica (db.make_read_engine) writes through
    to its primary (db.primary_engine). When `engine` carries a replica.WriteLog (execution
    option WRITE_LOG), the primary's WAL position after the commit is noted in it, so that
    the session reads the primary until the replica shows the write.

    On SQLite it takes the write lock when it begins: a deferred transaction that reads
    first cannot wait for the lock and fails at once when another writer got there first.
    """
    primary = primary_engine(engine)
    writer = primary.execution_options(sqlite_begin="IMMEDIATE")
    with database_errors(primary.url), writer.begin() as connection:
        _limit_time(connection, bulk=bulk)
        yield connection
    if (log := engine.get_execution_options().get(WRITE_LOG)) is not None:
        with database_errors(primary.url):
            log.note(primary)


@contextmanager
def savepoint(connection: Connection) -> Iterator[None]:
    """A part of a transaction that may fail (a count that runs out of time) and leave it usable.

    On PostgreSQL a failed statement ends the whole transaction otherwise.
    """
    with database_errors(connection.engine.url), connection.begin_nested():
        yield


def after_snapshot(connection: Connection, write: Callable[[Connection], None]) -> None:
    """Run `write` (a cache the reader keeps, such as counts) once the read snapshot has ended.

    A read snapshot cannot write (it is read-only, and on SQLite it must not wait for the
    write lock); `write` then runs in a write transaction of its own, and a failure there
    is logged, not raised. Within any other transaction it runs at once, in a savepoint.
    """
    pending = connection.info.get(_AFTER_SNAPSHOT)
    if pending is not None:
        pending.append(write)
        return
    with savepoint(connection):
        write(connection)


@contextmanager
def database_errors(url: URL) -> Iterator[None]:
    """Translate the database errors raised inside the block into gleif_data's own."""
    try:
        yield
    except DatabaseError:
        raise
    except Exception as exc:
        translated = translate(exc, url)
        if translated is None:
            raise
        raise translated from exc


def translate(exc: BaseException, url: URL) -> DatabaseError | None:
    """The library's error for a driver's or SQLAlchemy's database error; None for others."""
    where = describe_url(url)
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no free connection in time
        return QueryTimedOut(where, "every database connection of this server is busy")
    if isinstance(exc, sa_exc.DBAPIError):
        original = exc.orig if exc.orig is not None else exc
        kind = _kind(original)
        if exc.connection_invalidated and kind is QueryRefused:
            kind = DatabaseUnavailable
        return kind(where, _reason(original, url))
    if isinstance(exc, psycopg.Error | sqlite3.Error):  # the COPY paths use the driver itself
        return _kind(exc)(where, _reason(exc, url))
    return None


def _kind(exc: BaseException) -> type[DatabaseError]:
    """Which of the library's errors a driver error is."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code == _SQLITE_READONLY:
            return ReadOnlyDatabase
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED):  # waited the busy timeout for a writer
            return QueryTimedOut
        if code == _SQLITE_CANTOPEN:
            return DatabaseUnavailable
        if code in (_SQLITE_PERM, _SQLITE_AUTH):
            return PermissionDenied
        return QueryRefused
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate in _TIMED_OUT_CODES:
        return QueryTimedOut
    if sqlstate in _READ_ONLY_CODES:
        return ReadOnlyDatabase
    if sqlstate in _PERMISSION_CODES:
        return PermissionDenied
    if sqlstate[:2] in _UNAVAILABLE_CLASSES or sqlstate in _UNAVAILABLE_CODES:
        return DatabaseUnavailable
    if not sqlstate and isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable  # no answer from a server at all: refused, lost, closed
    return QueryRefused


def _reason(exc: BaseException, url: URL) -> str:
    """The driver's first line (it names tables and columns), never the connection's password."""
    lines = str(exc).strip().splitlines()
    reason = lines[0].strip() if lines else type(exc).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return reason or type(exc).__name__


def _limit_time(connection: Connection, *, bulk: bool) -> None:
    """The statement time limit for this transaction, on PostgreSQL (SQLite has none)."""
    if bulk or connection.dialect.name == "sqlite":
        return
    seconds = statement_timeout_seconds()
    if seconds is None:
        return
    milliseconds = str(max(1, round(seconds * 1000)))
    # SET cannot take a bound parameter; set_config(..., is_local => true) is SET LOCAL.
    connection.execute(select(func.set_config("statement_timeout", milliseconds, True)))


def _keep_quietly(engine: Engine, write: Callable[[Connection], None]) -> None:
    """Run a write that only keeps a cache; the reader has what it asked for either way."""
    # A cache is no write the session must see: it leaves the session's WriteLog alone, so
    # that the session keeps reading the replica.
    quiet = engine.execution_options(**{WRITE_LOG: None})
    try:
        with write_transaction(quiet) as connection:
            write(connection)
    except DatabaseError as exc:
        logger.warning("could not keep what a read computed: %s", exc)
