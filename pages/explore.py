"""Explore: the batch's domains page by page, filtered and sorted, with links to each domain."""

import pandas as pd
import streamlit as st

from gleif_data.decisions import bulk_accept, count_bulk_accept
from gleif_data.explore import Cursor, SortOrder, explore_page
from gleif_data.statement_timeout import statement_timeout_seconds
from pages.ui import (
    analyst,
    cached_count,
    choose_batch,
    clear_filters,
    count_version,
    database_or_stop,
    describe_filters,
    filter_controls,
    guarded,
    reset_page,
    within_time_limit,
)

PAGE_SIZE = 50

engine = database_or_stop()
st.title("Explore")
summary = choose_batch()
filters = filter_controls()
by_label = {order.label: order for order in SortOrder}
sort = by_label[
    st.segmented_control(
        "Order",
        list(by_label),
        default=SortOrder.FILE.label,
        key="sort",
        bind="query-params",
        on_change=reset_page,
        required=True,
    )
]


def cursor(name: str) -> Cursor | None:
    """The page position in the URL, or None (a broken one starts over)."""
    text = st.query_params.get(name)
    if not text:
        return None
    try:
        return Cursor.decode(text)
    except ValueError:
        del st.query_params[name]
        return None


after, before = cursor("after"), cursor("before")
with st.spinner("Loading domains..."):
    page = guarded(
        lambda: explore_page(
            engine, summary.batch, filters, sort=sort, after=after, before=before, size=PAGE_SIZE
        )
    )

if not page.rows:
    if filters.active():
        st.info(
            f"No domain of this batch matches the filters ({describe_filters(filters)}).",
            icon=":material/search_off:",
        )
        st.button("Clear filters", on_click=clear_filters, key="clear_empty")
    else:
        st.info("This page is empty.", icon=":material/search_off:")
        st.button("Back to the first page", on_click=reset_page)
    st.stop()

# The page shows before the count: counting a filter can read the whole batch.
count_line = st.empty()
count_line.caption(
    f"Counting the matching domains of {summary.domains:,}... Select a row to see its candidates."
)
table = pd.DataFrame(
    {
        "domain": [row.domain for row in page.rows],
        "candidates": [row.candidate_count for row in page.rows],
        "lei_codes": [row.lei_codes for row in page.rows],
        "legal_names": [row.legal_names for row in page.rows],
        "flags": [row.flags.replace("; ", ", ") for row in page.rows],
        "qa_status": [row.qa_status for row in page.rows],
    }
)
event = st.dataframe(
    table,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="explore_table",
    column_config={
        "domain": st.column_config.TextColumn("Domain"),
        "candidates": st.column_config.NumberColumn("Candidates", format="%d"),
        "lei_codes": st.column_config.TextColumn("LEI codes"),
        "legal_names": st.column_config.TextColumn("Legal names", width="large"),
        "flags": st.column_config.TextColumn("Flags"),
        "qa_status": st.column_config.TextColumn("QA"),
    },
)
if event.selection.rows:
    chosen = page.rows[event.selection.rows[0]]
    st.switch_page(
        "pages/domain.py", query_params={"batch": summary.batch, "domain": chosen.domain}
    )


def go(name: str, position: Cursor | None) -> None:
    """Move to the neighbouring page (a button callback)."""
    for key in ("after", "before"):
        if key in st.query_params:
            del st.query_params[key]
    if position is not None:
        st.query_params[name] = position.encode()


with st.container(horizontal=True, vertical_alignment="center"):
    st.button(
        "First",
        icon=":material/first_page:",
        disabled=page.previous_before is None,
        on_click=go,
        args=("after", None),
    )
    st.button(
        "Previous",
        icon=":material/chevron_left:",
        disabled=page.previous_before is None,
        on_click=go,
        args=("before", page.previous_before),
    )
    st.button(
        "Next",
        icon=":material/chevron_right:",
        disabled=page.next_after is None,
        on_click=go,
        args=("after", page.next_after),
    )
    st.caption(f"{len(page.rows)} domains on this page")

matching = within_time_limit(lambda: cached_count(summary.batch, filters, count_version(filters)))
if matching is None:
    limit = statement_timeout_seconds()
    count_line.caption(
        f"Counting the matches among {summary.domains:,} domains took longer than "
        f"{f'{limit:g} s' if limit else 'the time limit'}; narrow the filters to get a "
        "count. Select a row to see its candidates."
    )
else:
    count_line.caption(
        f"{matching:,} of {summary.domains:,} domains match. Select a row to see its candidates."
    )


def close_bulk_dialog() -> None:
    """Forget that the confirmation is open (a callback)."""
    st.session_state.pop("bulk_confirm", None)


@st.dialog("Accept the clean single matches", on_dismiss=close_bulk_dialog)
def confirm_bulk_accept(count: int) -> None:
    """Ask before deciding many domains at once."""
    st.markdown(
        f"This accepts the single candidate of **{count:,} domains** of {summary.batch!r} that "
        "pass the filters, have exactly one candidate, no flag and no decision yet. Each gets "
        f"its own entry in the history, recorded as **{analyst()}**, in one transaction."
    )
    with st.container(horizontal=True):
        accept = st.button("Accept them", type="primary", icon=":material/done_all:")
        st.button("Cancel", on_click=close_bulk_dialog)
    if accept:
        done = guarded(lambda: bulk_accept(engine, summary.batch, filters, decided_by=analyst()))
        close_bulk_dialog()
        st.session_state["bulk_done"] = done
        st.rerun()


# A toggle, not an expander: an expander runs its content on every rerun, and counting the
# clean matches checks every flag of every filtered domain.
if st.toggle("Bulk QA", key="bulk_qa", help="Accept many clean single matches at once."):
    clean = guarded(lambda: count_bulk_accept(engine, summary.batch, filters))
    st.caption(
        f"{clean:,} domains among these filters are undecided, have exactly one candidate "
        "and no flag."
    )
    if not analyst():
        st.text_input(
            "Your name, recorded with your decisions", key="analyst", persist_state="session"
        )
    if st.button(
        "Accept their single candidates...", disabled=not clean or not analyst(), key="bulk"
    ):
        st.session_state["bulk_confirm"] = True
    # The dialog stays open across reruns until the analyst confirms, cancels or closes it.
    if st.session_state.get("bulk_confirm"):
        confirm_bulk_accept(clean)
    if done := st.session_state.pop("bulk_done", None):
        st.success(f"Accepted {len(done.accepted):,} domains.", icon=":material/check:")
