"""Choose a batch, filter its domains, preview the per-domain counts, download the export."""

import pandas as pd
import streamlit as st

from gleif_data.export import (
    DOMAIN_COLUMNS,
    ExportOptions,
    count_export_rows,
    export_bytes,
    export_file_name,
    preview_rows,
)
from gleif_data.filters import DomainFilter
from pages.ui import batches, database_or_stop, guarded

PREVIEW_ROWS = 50

engine = database_or_stop()
st.title("GLEIF matches")

summaries = guarded(batches)
if not summaries:
    st.info(
        "No batches yet. Load the demo with `python -m gleif_data demo`, or import your own: "
        "`python -m gleif_data import-batch FILE.csv --batch NAME`.",
        icon=":material/inbox:",
    )
    st.stop()

by_name = {s.batch: s for s in summaries}
batch = st.selectbox(
    "Batch",
    list(by_name),
    format_func=lambda name: f"{name} ({by_name[name].domains:,} domains)",
    key="batch",
)
summary = by_name[batch]

with st.container(horizontal=True):
    st.metric("Domains", f"{summary.domains:,}", border=True)
    st.metric("Candidates", f"{summary.candidates:,}", border=True)

with st.expander("Filters", expanded=True, icon=":material/filter_list:"):
    text_columns = st.columns(3)
    domain_contains = text_columns[0].text_input("Domain contains", key="domain_contains")
    lei_contains = text_columns[1].text_input("LEI contains", key="lei_contains")
    name_contains = text_columns[2].text_input("Legal name contains", key="name_contains")
    count_columns = st.columns(3)
    min_candidates = count_columns[0].number_input(
        "Candidates at least", min_value=0, value=None, step=1, key="min_candidates"
    )
    max_candidates = count_columns[1].number_input(
        "Candidates at most", min_value=0, value=None, step=1, key="max_candidates"
    )

try:
    filters = DomainFilter(
        domain_contains=domain_contains,
        lei_contains=lei_contains,
        name_contains=name_contains,
        min_candidates=None if min_candidates is None else int(min_candidates),
        max_candidates=None if max_candidates is None else int(max_candidates),
    )
except ValueError as exc:
    st.warning(f"Check the filters: {exc}.", icon=":material/warning:")
    st.stop()

options = ExportOptions(filters=filters)
with st.spinner("Counting domains..."):
    matching = guarded(lambda: count_export_rows(engine, batch, options))
    rows = guarded(lambda: preview_rows(engine, batch, options, PREVIEW_ROWS))

if not rows:
    active = ", ".join(
        f"{name.replace('_', ' ')}: {value!r}" for name, value in filters.active().items()
    )
    st.info(
        f"No domain of this batch matches the filters ({active}).", icon=":material/search_off:"
    )
    st.stop()

st.caption(
    f"{matching:,} domains match. The first {min(PREVIEW_ROWS, matching):,} are shown; "
    "the download has all of them."
)
st.dataframe(
    pd.DataFrame(rows, columns=list(DOMAIN_COLUMNS)),
    hide_index=True,
    column_config={
        "domain": st.column_config.TextColumn("Domain"),
        "gleif_candidate_count": st.column_config.NumberColumn("Candidates", format="%d"),
        "all_lei_codes": st.column_config.TextColumn("LEI codes"),
        "all_legal_names": st.column_config.TextColumn("Legal names", width="large"),
    },
)

st.download_button(
    f"Download CSV ({matching:,} domains)",
    data=lambda: export_bytes(engine, batch, options),
    file_name=export_file_name(batch, options.format),
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
    type="primary",
)
