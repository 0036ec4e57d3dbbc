"""What the pages share: the engine, cached summaries, batch and filter controls, error panels."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import quote, unquote, urlencode

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from streamlit.runtime.scriptrunner import get_script_run_ctx

from gleif_data.config import ConfigError, describe_url, resolve_database_url
from gleif_data.db import make_engine
from gleif_data.explore import count_domains
from gleif_data.export import ExportOptions, count_export_rows
from gleif_data.filters import DomainFilter
from gleif_data.flags import Flag
from gleif_data.migrate import is_up_to_date
from gleif_data.overview import (
    BatchOverview,
    QaOverview,
    batch_overview,
    has_reference_data,
    qa_overview,
)
from gleif_data.qa_state import QaStatus
from gleif_data.queries import BatchSize, DataVersion, data_version, list_batch_sizes, ping
from gleif_data.statement_timeout import (
    is_statement_timeout,
    statement_timeout_seconds,
    timeout_engine_options,
    timeout_message,
)
from pages.sign_in import require_sign_in

T = TypeVar("T")
RETRY_SECONDS = 5
SUMMARY_TTL = 300  # seconds; a new import changes the data version and refreshes sooner
FILTER_KEYS = (
    "domain_contains",
    "lei_contains",
    "name_contains",
    "min_candidates",
    "max_candidates",
    "flags",
    "qa_status",
    "min_name_score",
    "max_name_score",
)
# What each filter widget holds when it is empty.
_EMPTY: dict[str, object] = {
    "min_candidates": None,
    "max_candidates": None,
    "min_name_score": None,
    "max_name_score": None,
    "flags": [],
    "qa_status": None,
}
PAGE_KEYS = ("after", "before")
_VIEW, _PAGE = "_view", "_page"
ANALYST_COOKIE = "gleif_analyst"
ANALYST_COOKIE_DAYS = 400  # the longest lifetime browsers grant a cookie
ANALYST_MAX_CHARS = 100
_EDITING_NAME, _TO_REMEMBER = "_analyst_editing", "_analyst_to_remember"
_MARKDOWN_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
_log = logging.getLogger(__name__)


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


def choose_batch() -> BatchSize:
    """The batch chooser, shared by every page through the URL; stops on an empty database."""
    summaries = cached_batches(version())
    if not summaries:
        st.info(
            "No batches yet. Load the demo with `python -m gleif_data demo`, or import your "
            "own matches: `python -m gleif_data import-batch FILE.csv --batch NAME`.",
            icon=":material/inbox:",
        )
        st.stop()
    by_name = {s.batch: s for s in summaries}
    # No format_func: a bound widget writes its displayed text to the URL.
    if st.session_state.get("batch") not in (None, *by_name):
        del st.session_state["batch"]  # carried over, but the batch has gone since
    with _shared_by_every_page():
        name = st.selectbox("Batch", list(by_name), key="batch", **_bound())
    _remember("batch")
    chosen = by_name[name]
    # Domains only: counting candidates reads the whole batch (the Overview shows them).
    st.caption(f"{chosen.domains:,} domains")
    return chosen


def filter_controls() -> DomainFilter:
    """The filter inputs, kept in the URL; stops with a warning on contradictory values."""
    with st.container(border=True), _shared_by_every_page():
        text = st.columns(3)
        text[0].text_input("Domain contains", key="domain_contains", **_bound())
        text[1].text_input("LEI contains", key="lei_contains", **_bound())
        text[2].text_input("Legal name contains", key="name_contains", **_bound())
        numbers = st.columns(4)
        for column, key, label, top in (
            (numbers[0], "min_candidates", "Candidates at least", None),
            (numbers[1], "max_candidates", "Candidates at most", None),
            (numbers[2], "min_name_score", "Name score at least", 100),
            (numbers[3], "max_name_score", "Name score at most", 100),
        ):
            column.number_input(
                label, min_value=0, max_value=top, value=None, step=1, key=key, **_bound()
            )
        qa = st.columns([3, 1, 1])
        qa[0].multiselect(
            "Flags (all of)",
            [flag.value for flag in Flag],
            key="flags",
            placeholder="Any",
            help="\n".join(f"- **{flag.value}**: {flag.description}" for flag in Flag),
            **_bound(),
        )
        qa[1].selectbox(
            "QA status",
            [s.value for s in QaStatus],
            index=None,
            key="qa_status",
            placeholder="Any",
            **_bound(),
        )
        if any(st.session_state.get(key) not in (None, "", []) for key in FILTER_KEYS):
            qa[2].button("Clear filters", icon=":material/filter_alt_off:", on_click=clear_filters)
    _remember(*FILTER_KEYS)
    try:
        return current_filters()
    except ValueError as exc:
        st.warning(f"Check the filters: {exc}.", icon=":material/warning:")
        st.stop()
        raise


def current_filters() -> DomainFilter:
    """The filters as the widgets (or the URL) hold them."""

    def number(key: str) -> int | None:
        value = st.session_state.get(key)
        return None if value is None else int(value)

    return DomainFilter(
        domain_contains=st.session_state.get("domain_contains") or None,
        lei_contains=st.session_state.get("lei_contains") or None,
        name_contains=st.session_state.get("name_contains") or None,
        min_candidates=number("min_candidates"),
        max_candidates=number("max_candidates"),
        flags=frozenset(st.session_state.get("flags") or ()),
        qa_status=st.session_state.get("qa_status") or None,
        min_name_score=number("min_name_score"),
        max_name_score=number("max_name_score"),
    )


_FILTER_WORDS = {
    "domain_contains": "domain contains",
    "lei_contains": "LEI contains",
    "name_contains": "legal name contains",
    "min_candidates": "candidates at least",
    "max_candidates": "candidates at most",
    "flags": "flags",
    "qa_status": "QA status",
    "min_name_score": "name score at least",
    "max_name_score": "name score at most",
}


def describe_filters(filters: DomainFilter) -> str:
    """'domain contains "x", candidates at least 2' for messages."""
    return ", ".join(
        f'{_FILTER_WORDS[name]} "{value}"'
        if name.endswith("contains")
        else f"{_FILTER_WORDS[name]} {value}"
        for name, value in filters.active().items()
    )


def clear_filters() -> None:
    """Empty every filter (a button callback)."""
    for key in FILTER_KEYS:
        st.session_state[key] = _EMPTY.get(key, "")
    reset_page()


def analyst() -> str:
    """Who is deciding: the signed-in user, else the name given in this browser (a cookie)."""
    if st.user.get("is_logged_in"):
        return str(st.user.get("email") or st.user.get("name") or "")
    if "analyst" not in st.session_state:
        return _remembered_analyst()
    return str(st.session_state.get("analyst") or "").strip()


def open_page(url_path: str, params: Mapping[str, str]) -> None:
    """Show another page of the app with exactly these URL parameters, as Back and Forward do.

    st.switch_page can't when the batch or filters are in the URL: it must set the query
    string, and Streamlit lets no code set a parameter bound to a widget; it would also leave
    an extra history entry. Here the browser moves to the URL and tells Streamlit, which then
    reads every bound widget from it (a missing one takes its default), in one history entry.
    """
    target = json.dumps(f"{url_path}?{urlencode(params)}")  # urlencode leaves no < > or quote
    st.html(
        "<script>"
        f"window.history.pushState({{}}, '', new URL({target}, window.location.href));"
        "window.dispatchEvent(new PopStateEvent('popstate'));"
        "</script>",
        unsafe_allow_javascript=True,
    )


def analyst_input() -> None:
    """Who decides: the signed-in user, or a name asked once per browser and kept in a cookie."""
    if st.user.get("is_logged_in"):
        st.caption(f"Deciding as {analyst()} (signed in).")
        return
    if "analyst" not in st.session_state and (remembered := _remembered_analyst()):
        st.session_state["analyst"] = remembered
    if analyst() and not st.session_state.get(_EDITING_NAME):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.caption(f"Deciding as **{markdown_text(analyst())}**")
            st.button(
                "Change name",
                icon=":material/edit:",
                type="tertiary",
                on_click=st.session_state.__setitem__,
                args=(_EDITING_NAME, True),
            )
    else:
        st.text_input(
            "Your name, recorded with your decisions",
            key="analyst",
            # No help tooltip: its button would share the label (and its accessible name).
            placeholder="e.g. Ana Silva (remembered in this browser)",
            max_chars=ANALYST_MAX_CHARS,
            persist_state="session",
            on_change=_analyst_typed,
        )
    # On every run until a new connection brings the cookie back: a run that a quick rerun
    # replaces never reaches the browser, and its script with it.
    wanted = st.session_state.get(_TO_REMEMBER)
    if wanted is not None and wanted != _remembered_analyst():
        _write_analyst_cookie(wanted)


def _analyst_typed() -> None:
    st.session_state[_EDITING_NAME] = False
    st.session_state[_TO_REMEMBER] = str(st.session_state.get("analyst") or "").strip()


def _remembered_analyst() -> str:
    value = st.context.cookies.get(ANALYST_COOKIE)
    if not isinstance(value, str):  # no cookie (or no browser: AppTest)
        return ""
    return unquote(value).strip()[:ANALYST_MAX_CHARS]


def _write_analyst_cookie(name: str) -> None:
    """Set (or, for an empty name, delete) the cookie from the page: Streamlit cannot."""
    # Percent-encoded, the value holds only letters, digits and %-._~: safe in JS and HTML.
    # Lax, not Strict: Chromium leaves Strict cookies out of the WebSocket handshake, which
    # is where st.context.cookies comes from.
    value = quote(name, safe="")
    lifetime = ANALYST_COOKIE_DAYS * 86_400 if name else 0
    st.sidebar.html(  # the sidebar: no gap in the page's layout
        f"<script>document.cookie = '{ANALYST_COOKIE}={value}; path=/; "
        f"max-age={lifetime}; SameSite=Lax';</script>",
        unsafe_allow_javascript=True,
    )


def markdown_text(text: str) -> str:
    """Text shown literally inside Markdown: every ASCII punctuation character escaped."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\g<0>", text)


def show_unexpected_error(exc: BaseException, where: str) -> None:
    """The app's own panel for an error no page expected: what failed, what to do, a reference.

    No traceback and no exception text (it may hold data); both go to the server log under
    the reference, which the analyst can quote.
    """
    reference = secrets.token_hex(4)
    _log.error("unexpected error in %s (reference %s)", where, reference, exc_info=exc)
    if isinstance(exc, DBAPIError):
        # The driver's first line names a table or column, never the connection's secrets.
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        what = f"the database refused a query: {markdown_text(first)}"
        todo = (
            "If the database was changed by hand or by another program, its schema may no "
            "longer be what the dashboard expects: whoever runs it can check with "
            "`python -m gleif_data migrate`."
        )
    else:
        what = f"an unexpected error ({type(exc).__name__})"  # its text may hold data
        todo = "Reload the page to try again."
    st.error(
        f"**{where[:1].upper()}{where[1:]} failed**: {what}.  \n{todo} "
        "If it happens again, tell whoever runs the dashboard and quote the reference "
        f"**{reference}**: the server log has the details under it.",
        icon=":material/error:",
    )


def on_script_error(exc: Exception) -> bool:
    """st.App's handler for what a callback or fragment raises: our panel, not Streamlit's."""
    show_unexpected_error(exc, "the last action")
    return True


def carry_view_to(page: str) -> None:
    """On arriving at another page, give the batch and filters the values they had before.

    Bound widgets keep their values in the URL, but a page switch drops the parameters of the
    page left behind; the analyst's view should follow them from page to page.
    """
    previous = st.session_state.get(_PAGE)
    st.session_state[_PAGE] = page
    if previous is None or previous == page:
        return
    for key, value in st.session_state.get(_VIEW, {}).items():
        if key not in st.query_params:
            st.session_state[key] = value


def _remember(*keys: str) -> None:
    view = st.session_state.setdefault(_VIEW, {})
    for key in keys:
        if key in st.session_state:
            view[key] = st.session_state[key]


def reset_page() -> None:
    """Go back to the first page: a cursor from other filters would skip rows."""
    for key in PAGE_KEYS:
        if key in st.query_params:
            del st.query_params[key]


@contextmanager
def _shared_by_every_page() -> Iterator[None]:
    """Widgets made here are the app's, not the page's: their URL parameter survives Back.

    Streamlit ties a bound widget to the page that made it, and on a move to another page
    (Back and Forward included) drops the URL parameters of the other pages' widgets before
    the new page reads them. Several pages bind `batch` and the filters, so Back from the
    Domain page would reset the batch. Widgets of the main script are never dropped; this
    makes the widget as if app.py had (Streamlit 1.67 internals, covered by a browser test).
    """
    ctx = get_script_run_ctx()
    if ctx is None:
        yield
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        yield


def _bound() -> dict[str, object]:
    return {"bind": "query-params", "on_change": reset_page}
