"""The page's read snapshot, the cached reads of the pages, and the panels for database errors.

Each page opens one read snapshot around its render (`page_snapshot`): every read of the
render sees the same data, even while an import replaces the batch. Button callbacks and
fragment reruns run outside the render, and open their own (`read_now`, `write_now`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import streamlit as st
from sqlalchemy import Connection, Engine
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.sign_in import require_sign_in
from gleif_data.config import ConfigError, describe_url, resolve_database_urls
from gleif_data.db import make_read_engine, primary_engine, reads_replica
from gleif_data.errors import DatabaseError, DatabaseUnavailable, QueryTimedOut, ReadOnlyDatabase
from gleif_data.explore import Cursor, SortOrder, count_before, count_domains
from gleif_data.export import ExportOptions, count_export_rows, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.migrate import is_up_to_date
from gleif_data.overview import (
    BatchOverview,
    QaOverview,
    batch_overview,
    has_reference_data,
    qa_overview,
)
from gleif_data.queries import BatchSize, DataVersion, data_version, list_batch_sizes, ping
from gleif_data.replica import WRITE_LOG, WriteLog
from gleif_data.statement_timeout import statement_timeout_seconds, timeout_message
from gleif_data.transactions import database_errors, read_snapshot, savepoint, write_transaction

T = TypeVar("T")

RETRY_SECONDS = 5
SUMMARY_TTL = 300  # seconds; a new import changes the data version and refreshes sooner
LAST_WRITE = "gleif_last_write"  # the session's replica.WriteLog

_render: ContextVar[Connection | None] = ContextVar("gleif_render_snapshot", default=None)


@st.cache_resource
def _read_engine() -> Engine:
    """The server process's engine for reads (and its primary's, for writes).

    Its statement time limit is set per transaction (gleif_data.transactions).
    """
    return make_read_engine(resolve_database_urls())


def engine() -> Engine:
    """The engine this session reads from; writes through it go to the primary.

    With a read replica: the replica, except while it has not replayed the session's last
    write yet (one small query tells), when the session reads the primary. So an analyst
    sees a decision at once, and nobody waits for the replica.
    """
    read = _read_engine()
    if not reads_replica(read) or get_script_run_ctx() is None:
        return read
    last_write = st.session_state.setdefault(LAST_WRITE, WriteLog())
    with database_errors(read.url):
        current = read if last_write.seen_by(read) else primary_engine(read)
    return current.execution_options(**{WRITE_LOG: last_write})


@contextmanager
def page_snapshot() -> Iterator[Connection]:
    """One read snapshot for a page render (or a fragment's rerun), after sign-in and schema.

    The page opens it itself: under AppTest, and on a fresh server before app.py has run
    once, Streamlit runs a page script without app.py.

    A database error on opening it shows its panel and ends the page; the page guards its
    own reads (`guarded`, `within_time_limit`).
    """
    require_sign_in()  # again here: a page must never rely on app.py having run first
    rendering = False
    try:
        with read_snapshot(engine()) as connection:
            if not is_up_to_date(connection):
                st.warning(
                    "The database schema is not up to date. Run `python -m gleif_data migrate`.",
                    icon=":material/build:",
                )
                st.stop()
            token = _render.set(connection)
            rendering = True
            try:
                yield connection
            finally:
                _render.reset(token)
    except ConfigError as exc:
        st.error(f"The database configuration is not usable: {exc}", icon=":material/error:")
        st.stop()
    except DatabaseError as exc:
        if rendering:
            raise  # a read the page did not guard: the app's own panel, with a reference
        _stop_on(exc)


@contextmanager
def fragment_snapshot() -> Iterator[Connection]:
    """The render's snapshot when a fragment runs with its page; its own when it reruns alone."""
    current = _render.get()
    if current is not None:
        yield current
        return
    with page_snapshot() as connection:
        yield connection


def render_snapshot() -> Connection:
    """The read snapshot of the page being rendered (see page_snapshot), for its helpers."""
    connection = _render.get()
    if connection is None:
        raise RuntimeError("no page render is open: call this inside `with page_snapshot()`")
    return connection


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_batches(_connection: Connection, data_key: tuple[object, ...]) -> list[BatchSize]:
    """Batches with their domain counts, cached per data version."""
    return list_batch_sizes(_connection)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_overview(
    _connection: Connection, batch: str, data_key: tuple[object, ...]
) -> BatchOverview:
    """The Overview numbers of a batch, cached per data version."""
    return batch_overview(_connection, batch)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_qa_overview(
    _connection: Connection, batch: str, data_key: tuple[object, ...]
) -> QaOverview:
    """QA progress and flag counts of a batch, cached per data version."""
    return qa_overview(_connection, batch)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_reference_data(_connection: Connection, data_key: tuple[object, ...]) -> bool:
    """Whether GLEIF reference data has been imported."""
    return has_reference_data(_connection)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_count(
    _connection: Connection, batch: str, filters: DomainFilter, data_key: tuple[object, ...]
) -> int:
    """How many domains pass the filters."""
    return count_domains(_connection, batch, filters)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_offset(
    _connection: Connection,
    batch: str,
    filters: DomainFilter,
    sort: SortOrder,
    first: Cursor,
    data_key: object,
) -> int:
    """How many matching domains come before an Explore page: its row offset."""
    return count_before(_connection, batch, filters, sort=sort, position=first)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_export_rows(
    _connection: Connection, batch: str, options: ExportOptions, data_key: tuple[object, ...]
) -> int:
    """How many rows an export will have."""
    return count_export_rows(_connection, batch, options)


def version(connection: Connection) -> DataVersion:
    """The data version of the snapshot (one small query)."""
    return guarded(lambda: data_version(connection))


def count_version(connection: Connection, filters: DomainFilter) -> DataVersion:
    """The data version a filtered count depends on: decisions count for a QA-state filter only.

    So recording a decision keeps the cached counts of every other filter.
    """
    current = version(connection)
    return current if filters.qa_status is not None else current._replace(decisions=None)


def read_now(call: Callable[[Connection], T]) -> T:
    """A read in a snapshot of its own (a button callback's); the error panel if it fails."""

    def run() -> T:
        with read_snapshot(engine()) as connection:
            return call(connection)

    return guarded(run)


def write_now(call: Callable[[Connection], T]) -> T:
    """A write in a transaction of its own, committed on return; DatabaseError if it fails."""
    with write_transaction(engine()) as connection:
        return call(connection)


def export_file(batch: str, options: ExportOptions) -> bytes:
    """A small export built in memory, for the download button (it streams on its own)."""
    database = engine()
    with database_errors(database.url):
        return export_bytes(database, batch, options)


def in_own_snapshot(call: Callable[[Connection], T]) -> Callable[[], T]:
    """`call` in a read snapshot of its own, for another thread (it shows no panel)."""
    database = engine()

    def run() -> T:
        with read_snapshot(database) as connection:
            return call(connection)

    return run


def within_time_limit(call: Callable[[], T], connection: Connection | None = None) -> T | None:
    """Run a data call that may read a whole large batch; None when it runs out of time.

    For counts shown beside a page that is there already: a count that reads a whole
    10 M-domain batch should not take the page (or its download button) away. With the
    render's `connection`, the call runs in a savepoint, so the snapshot outlives its
    timeout. Other database errors show their panel and stop the page, as guarded() does.
    """
    try:
        if connection is None:
            with database_errors(engine().url):
                return call()
        with savepoint(connection):
            return call()
    except QueryTimedOut:
        return None
    except DatabaseError as exc:
        _stop_on(exc)
        raise


def guarded(call: Callable[[], T]) -> T:
    """Run a data call; if the database fails, show the error panel and stop the page."""
    try:
        # Inside the render's snapshot a driver error has not reached the boundary yet.
        with database_errors(engine().url):
            return call()
    except DatabaseError as exc:
        _stop_on(exc)
        raise  # _stop_on() raises; this line only informs type checkers


def _stop_on(exc: DatabaseError) -> None:
    """The right panel for a database error, then the end of the page."""
    if isinstance(exc, QueryTimedOut):
        st.warning(timeout_message(statement_timeout_seconds()), icon=":material/hourglass_empty:")
    elif isinstance(exc, DatabaseUnavailable):
        show_database_error()
    elif isinstance(exc, ReadOnlyDatabase):
        st.error(
            f"The database only reads: {exc.reason}. Browsing works; decisions cannot be "
            "recorded here.",
            icon=":material/edit_off:",
        )
    else:
        # Permissions, a schema that differs from ours, ...: the database's first line says
        # which; it names tables and columns, never the connection's secrets.
        st.error(f"The database refused the query: {exc.reason}", icon=":material/error:")
    st.stop()


def show_database_error() -> None:
    """Name the database (never its password), and come back by itself when it answers again."""
    where = describe_url(resolve_database_urls().read)
    st.error(
        f"Cannot reach the {where}. Check that the server is running; "
        "this page reloads by itself as soon as the database answers again.",
        icon=":material/cloud_off:",
    )
    _wait_for_database()


@st.fragment(run_every=RETRY_SECONDS)
def _wait_for_database() -> None:
    try:
        with read_snapshot(engine()) as connection:
            ping(connection)
    except DatabaseError:
        return
    st.rerun(scope="app")
