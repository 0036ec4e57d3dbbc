"""What every page shares: the cached engine, cached summaries, the database error panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from gleif_data.config import ConfigError, describe_url, resolve_database_url
from gleif_data.db import make_engine
from gleif_data.migrate import is_up_to_date
from gleif_data.queries import BatchSummary, list_batches

T = TypeVar("T")


@st.cache_resource
def engine() -> Engine:
    """One engine (and connection pool) per server process."""
    return make_engine()


@st.cache_data(ttl=60, show_spinner=False)
def batches() -> list[BatchSummary]:
    """Batches with their counts; refreshed every minute."""
    return list_batches(engine())


def database_or_stop() -> Engine:
    """The engine, or an error panel and the end of the page when the database can't be used."""
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
    except DBAPIError:
        show_database_error()
        st.stop()
    return current


def guarded(call: Callable[[], T]) -> T:
    """Run a data call; if the database fails, show the error panel and stop the page."""
    try:
        return call()
    except DBAPIError:
        show_database_error()
        st.stop()
        raise  # st.stop() raises; this keeps type checkers informed


def show_database_error() -> None:
    """Name the database (never its password); the next rerun tries again."""
    where = describe_url(resolve_database_url())
    st.error(
        f"Cannot reach the {where}. Check that the server is running; "
        "this page retries when you reload it.",
        icon=":material/cloud_off:",
    )
