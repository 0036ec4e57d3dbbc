"""The batch chooser and the filter inputs that every data page shows."""

from __future__ import annotations

import html
from typing import NoReturn
from urllib.parse import urlencode

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.data import cached_batches, render_snapshot, version
from dashboard.view_state import (
    FILTER_KEYS,
    bound,
    clear_filters,
    current_filters,
    filter_query,
    name_in_url,
    remember,
    shared_by_every_page,
)
from gleif_data.fields import Field, ViewError, shorten
from gleif_data.filters import FILTER_FIELDS, DomainFilter
from gleif_data.queries import BatchSize

# The filter inputs' rows, by kind: text boxes, number boxes, then the QA choices.
_ROWS = (("text",), ("number",), ("flags", "choice"))


def choose_batch() -> BatchSize:
    """The batch chooser, shared by every page through the URL; stops on an empty database.

    The batch is always in the URL, so a link names its batch whatever sorts first later;
    a URL naming no existing batch stops with the list of batches instead of showing another.
    """
    connection = render_snapshot()
    summaries = cached_batches(connection, version(connection))
    if not summaries:
        st.info(
            "No batches yet. Load the demo with `python -m gleif_data demo`, or import your "
            "own matches: `python -m gleif_data import-batch FILE.csv --batch NAME`.",
            icon=":material/inbox:",
        )
        st.stop()
    by_name = {s.batch: s for s in summaries}
    asked = st.query_params.get("batch")
    if asked is not None and asked not in by_name:
        unknown_batch(asked, list(by_name))
    if st.session_state.get("batch") not in by_name:
        # Nothing chose a batch yet (or the one carried over has gone since).
        st.session_state["batch"] = summaries[0].batch
    # No default (index=None): Streamlit leaves a widget's default out of the URL, and the
    # batch must be in it. No format_func: a bound widget writes its displayed text.
    with shared_by_every_page():
        name = st.selectbox("Batch", list(by_name), index=None, key="batch", **bound())
    chosen = by_name.get(name or "", summaries[0])  # None if the box was cleared
    name_in_url([("batch", chosen.batch)])
    remember("batch")
    # Domains only: counting candidates reads the whole batch (the Overview shows them).
    st.caption(f"{chosen.domains:,} domains")
    return chosen


def unknown_batch(asked: str, names: list[str]) -> NoReturn:
    """Stop with a message naming the batches there are, each a link to it on this page."""
    st.error(
        f"There is no batch named {shorten(asked)}. Choose one of these:", icon=":material/error:"
    )
    # Plain links in this tab (Streamlit's markdown links open a new one); a full load is fine.
    items = "".join(
        f'<li><a href="?{html.escape(urlencode({"batch": name}))}" target="_self">'
        f"{html.escape(name)}</a></li>"
        for name in names
    )
    st.markdown(f"<ul>{items}</ul>", unsafe_allow_html=True)
    st.stop()
    raise AssertionError("st.stop() returned")


def filter_controls() -> DomainFilter:
    """The filter inputs, kept in the URL; stops with a warning naming a bad value's field."""
    with st.container(border=True), shared_by_every_page():
        for kinds in _ROWS:
            fields = [f for f in FILTER_FIELDS if f.kind in kinds]
            last = kinds == _ROWS[-1]
            widths = [3 if f.kind == "flags" else 1 for f in fields] + ([1] if last else [])
            columns = st.columns(widths)
            for column, field in zip(columns, fields, strict=False):
                filter_input(column, field)
        if any(st.session_state.get(key) not in (None, "", []) for key in FILTER_KEYS):
            columns[-1].button(
                "Clear filters", icon=":material/filter_alt_off:", on_click=clear_filters
            )
    remember(*FILTER_KEYS)
    name_in_url(filter_query())
    try:
        return current_filters()
    except ViewError as exc:
        st.warning(f"Check the filters: {exc}.", icon=":material/warning:")
        st.stop()
        raise


def filter_input(where: DeltaGenerator, field: Field) -> None:
    """The input of one filter, as its kind asks, bound to its URL parameter."""
    if field.kind == "text":
        where.text_input(field.label, key=field.name, **bound())
    elif field.kind == "number":
        # A text box, not st.number_input: what was typed stays visible and in the URL, so a
        # bad value is reported with its label instead of silently dropped.
        where.text_input(
            field.label,
            key=field.name,
            placeholder="Any",
            help=f"{field.help} A {field.values_in_words()}.",
            **bound(),
        )
    elif field.kind == "flags":
        assert field.choices is not None
        meanings = [
            f"- **{member.value}**: {getattr(member, 'description', '')}"
            for member in field.choices
        ]
        where.multiselect(
            field.label,
            [member.value for member in field.choices],
            key=field.name,
            placeholder="Any",
            help="\n".join([field.help, "", *meanings]),
            **bound(),
        )
    else:
        assert field.choices is not None
        where.selectbox(
            field.label,
            [member.value for member in field.choices],
            index=None,
            key=field.name,
            placeholder="Any",
            help=field.help,
            **bound(),
        )
