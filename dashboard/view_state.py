"""The analyst's view (batch, filters, page position) kept in the URL and carried between pages."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from gleif_data.filters import DomainFilter

T = TypeVar("T")

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


def remember(*keys: str) -> None:
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
def shared_by_every_page() -> Iterator[None]:
    """Widgets made here are the app's, not the page's: their URL parameter survives Back.

    Streamlit ties a bound widget to the page that made it, and on a move to another page
    (Back and Forward included) drops the URL parameters of the other pages' widgets before
    the new page reads them. Several pages bind `batch` and the filters, so Back from the
    Domain page would reset the batch. Widgets of the main script are never dropped; this
    makes the widget as if app.py had (Streamlit 1.67 internals, covered by a browser test).
    Streamlit 1.67 has no public way to bind one key on several pages: upstream
    https://github.com/streamlit/streamlit/issues/14350 (its fix, pull 14374, keeps a page's
    own widget values, and still drops other pages' parameters on a page switch).
    """
    ctx = get_script_run_ctx()
    if ctx is None:
        yield
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        yield


def bound() -> dict[str, object]:
    return {"bind": "query-params", "on_change": reset_page}
