"""The batch chooser and the filter inputs that every data page shows."""

from __future__ import annotations

from typing import TypeVar

import streamlit as st

from dashboard.data import cached_batches, render_snapshot, version
from dashboard.view_state import (
    FILTER_KEYS,
    bound,
    clear_filters,
    current_filters,
    remember,
    shared_by_every_page,
)
from gleif_data.filters import DomainFilter
from gleif_data.flags import Flag
from gleif_data.qa_state import QaStatus
from gleif_data.queries import BatchSize

T = TypeVar("T")


def choose_batch() -> BatchSize:
    """The batch chooser, shared by every page through the URL; stops on an empty database."""
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
    # No format_func: a bound widget writes its displayed text to the URL.
    if st.session_state.get("batch") not in (None, *by_name):
        del st.session_state["batch"]  # carried over, but the batch has gone since
    with shared_by_every_page():
        name = st.selectbox("Batch", list(by_name), key="batch", **bound())
    remember("batch")
    chosen = by_name[name]
    # Domains only: counting candidates reads the whole batch (the Overview shows them).
    st.caption(f"{chosen.domains:,} domains")
    return chosen


def filter_controls() -> DomainFilter:
    """The filter inputs, kept in the URL; stops with a warning on contradictory values."""
    with st.container(border=True), shared_by_every_page():
        text = st.columns(3)
        text[0].text_input("Domain contains", key="domain_contains", **bound())
        text[1].text_input("LEI contains", key="lei_contains", **bound())
        text[2].text_input("Legal name contains", key="name_contains", **bound())
        numbers = st.columns(4)
        for column, key, label, top in (
            (numbers[0], "min_candidates", "Candidates at least", None),
            (numbers[1], "max_candidates", "Candidates at most", None),
            (numbers[2], "min_name_score", "Name score at least", 100),
            (numbers[3], "max_name_score", "Name score at most", 100),
        ):
            column.number_input(
                label, min_value=0, max_value=top, value=None, step=1, key=key, **bound()
            )
        qa = st.columns([3, 1, 1])
        qa[0].multiselect(
            "Flags (all of)",
            [flag.value for flag in Flag],
            key="flags",
            placeholder="Any",
            help="\n".join(f"- **{flag.value}**: {flag.description}" for flag in Flag),
            **bound(),
        )
        qa[1].selectbox(
            "QA status",
            [s.value for s in QaStatus],
            index=None,
            key="qa_status",
            placeholder="Any",
            **bound(),
        )
        if any(st.session_state.get(key) not in (None, "", []) for key in FILTER_KEYS):
            qa[2].button("Clear filters", icon=":material/filter_alt_off:", on_click=clear_filters)
    remember(*FILTER_KEYS)
    try:
        return current_filters()
    except ValueError as exc:
        st.warning(f"Check the filters: {exc}.", icon=":material/warning:")
        st.stop()
        raise
