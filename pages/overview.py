"""Overview: how the matching of a batch went, at a glance."""

import pandas as pd
import streamlit as st
from sqlalchemy import Connection

from dashboard.controls import choose_batch
from dashboard.data import (
    cached_overview,
    cached_qa_overview,
    cached_reference_data,
    fragment_snapshot,
    guarded,
    page_snapshot,
    version,
)
from dashboard.view_state import open_page
from gleif_data.flags import Flag
from gleif_data.overview import BUCKETS, NOT_IN_REFERENCE, BatchOverview
from gleif_data.queries import DataVersion

OPEN_EXPLORE = "_open_explore"


def batch_numbers(overview: BatchOverview) -> None:
    """The batch in numbers: domains, with and without candidates, ambiguous, candidates."""
    with st.container(horizontal=True):
        st.metric("Domains", f"{overview.domains:,}", border=True)
        st.metric(
            "With a candidate",
            f"{overview.with_candidates:,}",
            border=True,
            help="Domains with at least one GLEIF candidate.",
        )
        st.metric("Without candidates", f"{overview.without_candidates:,}", border=True)
        st.metric(
            "Ambiguous",
            f"{overview.ambiguous:,}",
            border=True,
            help="Domains with more than one candidate: a human has to choose.",
        )
    with st.container(horizontal=True):
        st.metric("Candidates", f"{overview.candidates:,}", border=True)
        st.metric("Candidates per domain", f"{overview.mean_candidates:.2f}", border=True)
        st.metric("Most candidates on one domain", f"{overview.max_candidates:,}", border=True)


def candidates_per_domain(overview: BatchOverview) -> None:
    """A bar chart: how many domains have 0, 1, 2, ... candidates."""
    st.subheader("Domains by number of candidates")
    histogram = pd.DataFrame(
        {"candidates": list(BUCKETS), "domains": [overview.histogram[b] for b in BUCKETS]}
    )
    st.bar_chart(histogram, x="candidates", y="domains", sort=False, height=320)


def registration_statuses(
    connection: Connection, overview: BatchOverview, data_key: DataVersion
) -> None:
    """A bar chart of the candidates' GLEIF registration statuses, or why there is none."""
    st.subheader("Candidates by registration status")
    if not guarded(lambda: cached_reference_data(connection, data_key)):
        st.info(
            "No GLEIF reference data yet, so registration statuses are unknown. Import the "
            "golden copy with `python -m gleif_data import-gleif FILE`.",
            icon=":material/info:",
        )
    elif overview.registration_statuses:
        statuses = pd.DataFrame(
            {
                "status": list(overview.registration_statuses),
                "candidates": list(overview.registration_statuses.values()),
            }
        )
        st.bar_chart(statuses, x="status", y="candidates", horizontal=True, sort=False, height=320)
        missing = overview.registration_statuses.get(NOT_IN_REFERENCE, 0)
        if missing:
            st.caption(f"{missing:,} candidates have an LEI that the reference data lacks.")
    else:
        st.caption("This batch has no candidates.")


def to_explore(batch: str, params: dict[str, str]) -> None:
    """Remember which filtered Explore to open (a button callback): the run after opens it."""
    st.session_state[OPEN_EXPLORE] = {"batch": batch, **params}


def count_link(batch: str, count: int, params: dict[str, str], key: str, help: str) -> None:
    """A domain count that opens Explore filtered by it (and nothing else)."""
    st.button(
        f"{count:,}",
        key=key,
        help=help,
        width=96,
        disabled=not count,
        on_click=to_explore,
        args=(batch, params),
    )


@st.fragment
def qa_progress(batch: str, data_key: DataVersion) -> None:
    """QA progress and flags; a fragment, so the numbers above show while this counts."""
    st.subheader("Match QA")
    with st.spinner("Counting flags and decisions..."), fragment_snapshot() as reading:
        qa = guarded(lambda: cached_qa_overview(reading, batch, data_key))
    decided_share = qa.decided / qa.domains if qa.domains else 0.0
    st.progress(decided_share, text=f"{qa.decided:,} of {qa.domains:,} domains decided")
    st.caption("Each count opens the Explore page with those domains.")
    status_column, flag_column = st.columns([2, 3], gap="large")
    with status_column:
        st.markdown("**Domains by QA status**")
        for status, count in qa.by_status.items():
            with st.container(horizontal=True, wrap=False, vertical_alignment="center"):
                count_link(
                    batch,
                    count,
                    {"qa_status": status},
                    f"qa_{status}",
                    f"Explore the {status} domains",
                )
                st.markdown(f"**{status}**")
    with flag_column:
        st.markdown("**Domains by flag**")
        for flag, count in qa.by_flag.items():
            with st.container(horizontal=True, wrap=False, vertical_alignment="center"):
                count_link(
                    batch, count, {"flags": flag}, f"flag_{flag}", f"Explore the domains {flag}"
                )
                st.markdown(f"**{flag}**: {Flag(flag).description}")
    # A click reruns this fragment alone, so the page it asks for opens from here.
    if target := st.session_state.pop(OPEN_EXPLORE, None):
        open_page("explore", target)


# One read snapshot for the whole render: the page never mixes two versions of a batch.
with page_snapshot() as connection:
    st.title("Overview")
    summary = choose_batch()
    data_key = version(connection)
    with st.spinner("Counting candidates..."):
        overview = guarded(lambda: cached_overview(connection, summary.batch, data_key))
    batch_numbers(overview)
    left, right = st.columns(2)
    with left:
        candidates_per_domain(overview)
    with right:
        registration_statuses(connection, overview, data_key)
    qa_progress(summary.batch, data_key)
