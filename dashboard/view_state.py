"""The analyst's view (batch, filters, page position) kept in the URL and carried between pages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from gleif_data.fields import Field
from gleif_data.filters import FILTER_FIELDS, DomainFilter

T = TypeVar("T")

FILTER_KEYS = tuple(f.name for f in FILTER_FIELDS)  # each filter's widget key and URL parameter
PAGE_KEYS = ("after", "before")
_VIEW, _PAGE = "_view", "_page"
# A page position carries this many hex digits of the view it was made for.
_FINGERPRINT_DIGITS = 10


def empty_value(field: Field) -> object:
    """What a filter's input holds when the filter is off."""
    if field.kind == "flags":
        return []
    return None if field.kind == "choice" else ""


def current_filters() -> DomainFilter:
    """The filters as the inputs (or the URL) hold them; ViewError names a bad one by label."""
    return DomainFilter(
        **{f.name: f.parse(_as_text(st.session_state.get(f.name))) for f in FILTER_FIELDS}
    )


def _as_text(value: object) -> str | list[str] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [str(item) for item in value]
    return str(value)


def describe_filters(filters: DomainFilter) -> str:
    """'Domain contains "x", Candidates at least 2' for messages; long text shortened."""
    return filters.describe()


def view_fingerprint(batch: str, filters: DomainFilter, order: str) -> str:
    """A short digest of the view (batch, filters, order) that a page position belongs to."""
    view = json.dumps([batch, sorted(filters.to_query().items()), order], ensure_ascii=False)
    return hashlib.sha256(view.encode()).hexdigest()[:_FINGERPRINT_DIGITS]


def page_position(name: str, fingerprint: str) -> str | None:
    """The page position `after` or `before` in the URL, if it was made for this view.

    A position made for other filters or another order (Back or Forward across a filter
    change brings one along) would start the page at an unrelated row: it is dropped.
    """
    text = st.query_params.get(name)
    if not text:
        return None
    stamp, dot, position = text.partition(".")
    if dot and stamp == fingerprint and position:
        return position
    del st.query_params[name]
    return None


def stamped_position(position: str, fingerprint: str) -> str:
    """A page position as the URL holds it: behind the fingerprint of its view."""
    return f"{fingerprint}.{position}"


def clear_filters() -> None:
    """Empty every filter (a button callback)."""
    for field in FILTER_FIELDS:
        st.session_state[field.name] = empty_value(field)
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


def filter_query() -> list[tuple[str, str]]:
    """The filters as their inputs hold them, as URL parameters (a flag set: one per flag)."""
    pairs: list[tuple[str, str]] = []
    for field in FILTER_FIELDS:
        value = st.session_state.get(field.name)
        if value in (None, "", []) or value == empty_value(field):
            continue
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((field.name, str(item)) for item in values)
    return pairs


def name_in_url(pairs: list[tuple[str, str]]) -> None:
    """Make the URL name this part of the view, if it does not yet; Streamlit then reruns.

    Streamlit writes a bound widget's value to the URL when the analyst changes it, but not
    a value that came another way: the first batch chosen for a URL without one, or the
    filters carried to a page from the one before. A link copied then would not reproduce
    the view (an Export link would export the whole batch). The browser's URL is replaced,
    not pushed (Back still leaves the page), and Streamlit rereads every bound widget from it.
    """
    missing = [(key, value) for key, value in pairs if value not in st.query_params.get_all(key)]
    if not missing:
        return
    keys = sorted({key for key, _ in pairs})
    changes = json.dumps({key: [value for k, value in pairs if k == key] for key in keys})
    changes = changes.replace("<", "\\u003c")  # typed text cannot end the script
    st.html(
        "<script>"
        f"const changes = {changes};"
        "const url = new URL(window.location.href);"
        "for (const [key, values] of Object.entries(changes)) {"
        "url.searchParams.delete(key); values.forEach((v) => url.searchParams.append(key, v)); }"
        "window.history.replaceState(window.history.state, '', url);"
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
