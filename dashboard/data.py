"""The engine and the cached reads of the pages, and the panels for database errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from dashboard.sign_in import require_sign_in
from gleif_data.config import ConfigError, describe_url, resolve_database_url
from gleif_data.db import make_engine
from gleif_data.explore import Cursor, SortOrder, count_before, count_domains
from gleif_data.export import ExportOptions, count_export_rows
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
from gleif_data.statement_timeout import (
    is_statement_timeout,
    statement_timeout_seconds,
    timeout_engine_options,
    timeout_message,
)

T = TypeVar("T")

T = TypeVar("T")


RETRY_SECONDS = 5


SUMMARY_TTL = 300  # seconds; a new import changes the data version and refreshes sooner


@st.cache_resource
def engine() -> Engine:
    """One engine (and connection pool) per server process; queries have a time limit."""
    url = resolve_database_url()
    return make_engine(url, **timeout_engine_options(url, statement_timeout_seconds()))


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_batches(data_key: tuple[object, ...]) -> list[BatchSize]:
    """Batches with their domain counts, cached per data version."""
    return list_batch_sizes(engine())


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_overview(batch: str, data_key: tuple[object, ...]) -> BatchOverview:
    """The Overview numbers of a batch, cached per data version."""
    return batch_overview(engine(), batch)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_qa_overview(batch: str, data_key: tuple[object, ...]) -> QaOverview:
    """QA progress and flag counts of a batch, cached per data version."""
    return qa_overview(engine(), batch)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_reference_data(data_key: tuple[object, ...]) -> bool:
    """Whether GLEIF reference data has been imported."""
    return has_reference_data(engine())


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_count(batch: str, filters: DomainFilter, data_key: tuple[object, ...]) -> int:
    """How many domains pass the filters."""
    return count_domains(engine(), batch, filters)


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_offset(
    batch: str, filters: DomainFilter, sort: SortOrder, first: Cursor, data_key: object
) -> int:
    """How many matching domains come before an Explore page: its row offset."""
    return count_before(engine(), batch, filters, sort=sort, position=first)


def version() -> DataVersion:
    """The current data version (one small query)."""
    return guarded(lambda: data_version(engine()))


def count_version(filters: DomainFilter) -> DataVersion:
    """The data version a filtered count depends on: decisions count for a QA-state filter only.

    So recording a decision keeps the cached counts of every other filter.
    """
    current = version()
    return current if filters.qa_status is not None else current._replace(decisions=None)


def database_or_stop() -> Engine:
    """The engine, or an error panel and the end of the page when the database can't be used."""
    require_sign_in()  # again here: a page must never rely on app.py having run first
    try:
        current = engine()
        if not is_up_to_date(current):
            st.warning(
                "The database schema is not up to date. Run `python -m gleif_data migrate`.",
                icon=":material/build:",
            )
            st.stop()
    except ConfigError as exc:
        st.error(f"The database configuration is not usable: {exc}", icon=":material/error:")
        st.stop()
    except DBAPIError as exc:
        _stop_on(exc)
    return current


@st.cache_data(ttl=SUMMARY_TTL, show_spinner=False)
def cached_export_rows(batch: str, options: ExportOptions, data_key: tuple[object, ...]) -> int:
    """How many rows an export will have."""
    return count_export_rows(engine(), batch, options)


def within_time_limit(call: Callable[[], T]) -> T | None:
    """Run a data call that may read a whole large batch; None when it runs out of time.

    For counts shown beside a page that is there already: a count that reads a whole
    10 M-domain batch should not take the page (or its download button) away. Other
    database errors show their panel and stop the page, as guarded() does.
    """
    try:
        return call()
    except DBAPIError as exc:
        if is_statement_timeout(exc):
            return None
        _stop_on(exc)
        raise


def guarded(call: Callable[[], T]) -> T:
    """Run a data call; if the database fails, show the error panel and stop the page."""
    try:
        return call()
    except DBAPIError as exc:
        _stop_on(exc)
        raise  # _stop_on() raises; this line only informs type checkers


def _stop_on(exc: DBAPIError) -> None:
    """The right panel for a database error, then the end of the page."""
    if is_statement_timeout(exc):
        st.warning(timeout_message(statement_timeout_seconds()), icon=":material/hourglass_empty:")
    elif isinstance(exc, OperationalError) or exc.connection_invalidated:
        show_database_error()
    else:
        # Permissions, a schema that differs from ours, ...: the driver's first line says
        # which; it names tables and columns, never the connection's secrets.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        st.error(f"The database refused the query: {reason}", icon=":material/error:")
    st.stop()


def show_database_error() -> None:
    """Name the database (never its password), and come back by itself when it answers again."""
    where = describe_url(resolve_database_url())
    st.error(
        f"Cannot reach the {where}. Check that the server is running; "
        "this page reloads by itself as soon as the database answers again.",
        icon=":material/cloud_off:",
    )
    _wait_for_database()


@st.fragment(run_every=RETRY_SECONDS)
def _wait_for_database() -> None:
    try:
        ping(engine())
    except DBAPIError:
        return
    st.rerun(scope="app")
