"""Explore: the batch's domains page by page, filtered and sorted, with links to each domain."""

import pandas as pd
import streamlit as st
from sqlalchemy import Connection
from streamlit.delta_generator import DeltaGenerator

from dashboard.bulk_qa import bulk_qa
from dashboard.controls import choose_batch, filter_controls
from dashboard.data import (
    cached_count,
    cached_offset,
    count_version,
    guarded,
    page_snapshot,
    within_time_limit,
)
from dashboard.view_state import (
    clear_filters,
    describe_filters,
    open_page,
    page_position,
    reset_page,
    stamped_position,
    view_fingerprint,
)
from gleif_data.explore import Cursor, ExplorePage, SortOrder, explore_page
from gleif_data.filters import DomainFilter
from gleif_data.queries import BatchSize
from gleif_data.statement_timeout import statement_timeout_seconds

PAGE_SIZE = 50
SHOWN_IN_CELL = 2
LAST = "end"  # ?before=end: the last page


def choose_order() -> SortOrder:
    """The order of the rows, kept in the URL; a new order starts at the first page."""
    by_label = {order.label: order for order in SortOrder}
    return by_label[
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


def cursor(name: str, fingerprint: str) -> Cursor | None:
    """The page position in the URL, or None (a broken one, or another view's, starts over)."""
    text = page_position(name, fingerprint)
    if text is None:
        return None
    try:
        return Cursor.decode(text)
    except ValueError:
        del st.query_params[name]
        return None


def load_page(
    connection: Connection, batch: str, filters: DomainFilter, sort: SortOrder
) -> ExplorePage:
    """The page of domains the URL's position names; when it is empty, says why and stops."""
    fingerprint = view_fingerprint(batch, filters, sort.value)
    last = st.query_params.get("before") == LAST  # the last page of any view: no fingerprint
    after, before = cursor("after", fingerprint), None if last else cursor("before", fingerprint)
    with st.spinner("Loading domains..."):
        page = guarded(
            lambda: explore_page(
                connection,
                batch,
                filters,
                sort=sort,
                after=after,
                before=before,
                last=last,
                size=PAGE_SIZE,
            )
        )
    if page.rows:
        return page
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


def shortened(values: list[str]) -> str:
    """The first few of a list and how many more: the Domain page has them all."""
    shown = "; ".join(values[:SHOWN_IN_CELL])
    more = len(values) - SHOWN_IN_CELL
    return f"{shown} +{more} more" if more > 0 else shown


def domain_table(batch: str, page: ExplorePage) -> None:
    """The page's domains; selecting a row opens it on the Domain page."""
    # What the analyst decides on comes first; the long lists last, cut short in the cell.
    table = pd.DataFrame(
        {
            "domain": [row.domain for row in page.rows],
            "candidates": [row.candidate_count for row in page.rows],
            "flags": [row.flags.replace("; ", ", ") for row in page.rows],
            "qa_status": [row.qa_status for row in page.rows],
            "lei_codes": [shortened([lei for lei, _ in row.candidates]) for row in page.rows],
            "legal_names": [shortened([name for _, name in row.candidates]) for row in page.rows],
        }
    )
    # st.dataframe sorts the rows on screen when a header is clicked, and has no option
    # against it (Streamlit 1.67); on a keyset page that order would contradict the Order
    # above and the URL. A transparent strip over the header row takes those clicks.
    st.html(
        "<style>.st-key-explore_table [data-testid='stDataFrameResizable']::after {"
        "content: ''; position: absolute; top: 0; left: 0; right: 0; height: 36px; z-index: 2;"
        "cursor: default; }</style>"
    )
    event = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="explore_table",
        column_config={
            "domain": st.column_config.TextColumn("Domain", width=200),
            "candidates": st.column_config.NumberColumn("Candidates", format="%d", width=90),
            "flags": st.column_config.TextColumn(
                "Flags", width=330, help="The Overview says what each flag means."
            ),
            "qa_status": st.column_config.TextColumn("QA", width=90),
            "lei_codes": st.column_config.TextColumn(
                "LEI codes", width=330, help="The first two; the Domain page lists them all."
            ),
            "legal_names": st.column_config.TextColumn(
                "Legal names",
                width="large",
                help="The first two; the Domain page lists them all.",
            ),
        },
    )
    if event.selection.rows:
        chosen = page.rows[event.selection.rows[0]]
        open_domain(batch, chosen.domain)


def open_domain(batch: str, domain: str) -> None:
    """Open a domain on the Domain page so that Back returns to this very page of Explore.

    The filters follow in session state (carry_view_to); the link is the keyboard's way.
    """
    open_page("domain", {"batch": batch, "domain": domain})
    st.page_link(
        "pages/domain.py",
        label=f"Open {domain}",
        icon=":material/open_in_new:",
        query_params={"domain": domain},
    )


def go(name: str, position: Cursor | str | None, fingerprint: str) -> None:
    """Move to another page (a button callback)."""
    for key in ("after", "before"):
        if key in st.query_params:
            del st.query_params[key]
    if position is not None:
        st.query_params[name] = (
            position
            if isinstance(position, str)
            else stamped_position(position.encode(), fingerprint)
        )


def page_buttons(page: ExplorePage, fingerprint: str) -> DeltaGenerator:
    """First, Previous, Next and Last; returns the place of the position line beside them."""
    with st.container(horizontal=True, vertical_alignment="center"):
        at_start = page.previous_before is None
        at_end = page.next_after is None
        st.button(
            "First",
            icon=":material/first_page:",
            disabled=at_start,
            on_click=go,
            args=("after", None, fingerprint),
        )
        st.button(
            "Previous",
            icon=":material/chevron_left:",
            disabled=at_start,
            on_click=go,
            args=("before", page.previous_before, fingerprint),
        )
        st.button(
            "Next",
            icon=":material/chevron_right:",
            disabled=at_end,
            on_click=go,
            args=("after", page.next_after, fingerprint),
        )
        st.button(
            "Last",
            icon=":material/last_page:",
            disabled=at_end,
            on_click=go,
            args=("before", LAST, fingerprint),
        )
        position_line = st.empty()
        position_line.caption(f"{len(page.rows)} domains on this page")
    return position_line


def counts(
    connection: Connection,
    summary: BatchSize,
    filters: DomainFilter,
    sort: SortOrder,
    page: ExplorePage,
    count_line: DeltaGenerator,
    position_line: DeltaGenerator,
) -> None:
    """How many domains match, and which rows of them the page shows, once they are counted."""
    matching = within_time_limit(
        lambda: cached_count(
            connection, summary.batch, filters, count_version(connection, filters)
        ),
        connection,
    )
    if matching is None:
        limit = statement_timeout_seconds()
        count_line.caption(
            f"Counting the matches among {summary.domains:,} domains took longer than "
            f"{f'{limit:g} s' if limit else 'the time limit'}; narrow the filters to get a "
            "count. Select a row to see its candidates."
        )
    else:
        count_line.caption(
            f"{matching:,} of {summary.domains:,} domains match. "
            "Select a row to see its candidates."
        )

    offset: int | None = 0
    if page.previous_before is not None and page.first is not None:
        first = page.first
        offset = within_time_limit(
            lambda: cached_offset(
                connection, summary.batch, filters, sort, first, count_version(connection, filters)
            ),
            connection,
        )
    if offset is not None:
        shown = f"Rows {offset + 1:,}-{offset + len(page.rows):,}"
        position_line.caption(
            f"{shown} of {matching:,} matching" if matching is not None else shown
        )


# One read snapshot for the whole render: the page never mixes two versions of a batch.
with page_snapshot() as connection:
    st.title("Explore")
    summary = choose_batch()
    filters = filter_controls()
    sort = choose_order()
    page = load_page(connection, summary.batch, filters, sort)
    # The page shows before the count: counting a filter can read the whole batch.
    count_line = st.empty()
    count_line.caption(
        f"Counting the matching domains of {summary.domains:,}... "
        "Select a row to see its candidates."
    )
    domain_table(summary.batch, page)
    position_line = page_buttons(page, view_fingerprint(summary.batch, filters, sort.value))
    counts(connection, summary, filters, sort, page, count_line, position_line)
    # A toggle, not an expander: an expander runs its content on every rerun, and counting the
    # clean matches checks every flag of every filtered domain.
    if st.toggle("Bulk QA", key="bulk_qa", help="Accept many clean single matches at once."):
        bulk_qa(connection, summary.batch, filters)
