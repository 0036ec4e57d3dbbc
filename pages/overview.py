"""Overview: how the matching of a batch went, at a glance."""

import pandas as pd
import streamlit as st

from gleif_data.flags import Flag
from gleif_data.overview import BUCKETS, NOT_IN_REFERENCE
from pages.ui import (
    cached_overview,
    cached_qa_overview,
    cached_reference_data,
    choose_batch,
    database_or_stop,
    guarded,
    version,
)

database_or_stop()
st.title("Overview")
summary = choose_batch()
data_key = version()
with st.spinner("Counting candidates..."):
    overview = guarded(lambda: cached_overview(summary.batch, data_key))

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

left, right = st.columns(2)
with left:
    st.subheader("Domains by number of candidates")
    histogram = pd.DataFrame(
        {"candidates": list(BUCKETS), "domains": [overview.histogram[b] for b in BUCKETS]}
    )
    st.bar_chart(histogram, x="candidates", y="domains", sort=False, height=320)

with right:
    st.subheader("Candidates by registration status")
    if not guarded(lambda: cached_reference_data(data_key)):
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


@st.fragment
def qa_progress() -> None:
    """QA progress and flags; a fragment, so the numbers above show while this counts."""
    st.subheader("Match QA")
    with st.spinner("Counting flags and decisions..."):
        qa = guarded(lambda: cached_qa_overview(summary.batch, data_key))
    decided_share = qa.decided / qa.domains if qa.domains else 0.0
    st.progress(decided_share, text=f"{qa.decided:,} of {qa.domains:,} domains decided")
    status_column, flag_column = st.columns(2)
    status_column.dataframe(
        pd.DataFrame({"QA status": list(qa.by_status), "domains": list(qa.by_status.values())}),
        hide_index=True,
    )
    flag_column.dataframe(
        pd.DataFrame(
            {
                "flag": list(qa.by_flag),
                "domains": list(qa.by_flag.values()),
                "meaning": [Flag(name).description for name in qa.by_flag],
            }
        ),
        hide_index=True,
    )


qa_progress()
