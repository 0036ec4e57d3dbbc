"""Export: the aggregated file, in any format and layout, for the filters or the whole batch."""

from urllib.parse import quote, urlencode

import streamlit as st
from sqlalchemy import Connection

from dashboard.controls import choose_batch, filter_controls
from dashboard.data import (
    cached_export_rows,
    count_version,
    export_file,
    page_snapshot,
    within_time_limit,
)
from dashboard.sign_in import link_signer
from dashboard.view_state import describe_filters
from gleif_data.export import (
    MEDIA_TYPES,
    ExportFormat,
    ExportLayout,
    ExportOptions,
    export_file_name,
)
from gleif_data.export_links import DEFAULT_LIFETIME_SECONDS, LinkSigner, SigningUnavailable
from gleif_data.filters import DomainFilter

# Up to this many rows the file is built in the server's memory for the download button;
# larger exports stream from the export route instead.
BUTTON_LIMIT_ROWS = 20_000


def choose_options(filters: DomainFilter) -> ExportOptions:
    """Format, layout, scope and QA columns, kept in the URL."""
    settings = st.columns(3)
    # Options are shown as they are: a bound widget writes its displayed text to the URL.
    export_format = ExportFormat(
        settings[0].selectbox(
            "Format", [f.value for f in ExportFormat], key="format", bind="query-params"
        )
    )
    layout = ExportLayout(
        settings[1].selectbox(
            "One row per", [v.value for v in ExportLayout], key="layout", bind="query-params"
        )
    )
    whole = (
        settings[2].radio(
            "Domains",
            ["filtered", "whole batch"],
            key="scope",
            bind="query-params",
            horizontal=True,
        )
        == "whole batch"
    )
    with_qa = st.checkbox(
        "Add QA columns",
        key="qa",
        bind="query-params",
        help="After the usual columns: QA status, accepted LEI and legal name, and flags "
        "(per domain); or flags, name score and decision (per candidate).",
    )
    return ExportOptions(
        format=export_format,
        layout=layout,
        filters=DomainFilter() if whole else filters,
        with_qa=with_qa,
    )


def what_it_holds(connection: Connection, batch: str, options: ExportOptions) -> int | None:
    """How many rows, for which domains, with which columns; None when counting took too long."""
    with st.spinner("Counting rows..."):
        version = count_version(connection, options.filters)
        rows = within_time_limit(
            lambda: cached_export_rows(connection, batch, options, version), connection
        )
    active = options.filters.active()
    scope = describe_filters(options.filters) if active else "the whole batch"
    if rows is None:
        # Too many to count within the time limit: far more than the download button takes.
        st.markdown(f"**Rows not counted**: counting took too long ({scope}).")
    else:
        st.markdown(f"**{rows:,} rows** ({scope}).")
    st.caption(f"Columns: {', '.join(options.columns)}.")
    if options.format in (ExportFormat.CSV, ExportFormat.XLSX):
        st.caption("Cells that a spreadsheet would run as formulas start with an apostrophe.")
    return rows


def route_link(batch: str, options: ExportOptions) -> tuple[str, LinkSigner | None]:
    """The export route's link for these options, signed when sign-in is on; and the signer.

    Stops with an error when links cannot be signed: the route would refuse every one.
    """
    params = options.to_query()
    try:
        signer = link_signer()
    except SigningUnavailable as exc:
        st.error(f"Export links cannot be signed: {exc}.", icon=":material/lock:")
        st.stop()
    if signer is not None:
        user = str(st.user.get("email") or st.user.get("name") or "")
        params["token"] = signer.sign(batch, options.to_query(), user)
    base = st.get_option("server.baseUrlPath").strip("/")
    link = f"{'/' + base if base else ''}/api/export/{quote(batch, safe='')}?{urlencode(params)}"
    return link, signer


def download(batch: str, options: ExportOptions, rows: int | None, link: str) -> None:
    """A download button for a small export, else a link that streams it from the route."""
    file_name = export_file_name(batch, options.format)
    if rows is not None and rows <= BUTTON_LIMIT_ROWS:
        st.download_button(
            f"Download {file_name}",
            data=lambda: export_file(batch, options),
            file_name=file_name,
            mime=MEDIA_TYPES[options.format],
            icon=":material/download:",
            on_click="ignore",
            type="primary",
            key="download",
        )
    else:
        st.link_button(f"Download {file_name}", link, icon=":material/download:", type="primary")
        st.caption("Large exports stream straight from the database; the download starts at once.")


def from_a_script(link: str, signer: LinkSigner | None) -> None:
    """The same export with curl, from the export route."""
    with st.expander("Use this export from a script", icon=":material/terminal:"):
        lifetime = (
            f" The link is signed for you and works for {DEFAULT_LIFETIME_SECONDS // 60} minutes."
            if signer is not None
            else ""
        )
        st.markdown(f"The export route streams the same bytes as the CLI.{lifetime}")
        st.code(f"curl -fOJ 'http://HOST:PORT{link}'", language="bash")


# One read snapshot for the whole render: the page never mixes two versions of a batch.
with page_snapshot() as connection:
    st.title("Export")
    summary = choose_batch()
    with st.expander("Filters", icon=":material/filter_list:"):
        filters = filter_controls()
    options = choose_options(filters)
    rows = what_it_holds(connection, summary.batch, options)
    link, signer = route_link(summary.batch, options)
    download(summary.batch, options, rows, link)
    from_a_script(link, signer)
