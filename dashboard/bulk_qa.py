"""Explore's "Bulk QA": accept the clean single matches at once, see what was accepted, undo."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Connection

from dashboard.analyst import analyst
from dashboard.data import guarded, write_now
from gleif_data.decisions import (
    BulkAccept,
    BulkAcceptSummary,
    bulk_accept,
    bulk_accept_result,
    bulk_accepts,
    count_bulk_accept,
    undo_bulk_accept,
)
from gleif_data.errors import GleifDataError
from gleif_data.filters import DomainFilter

CONFIRM, LAST, UNDONE, ERROR = "bulk_confirm", "bulk_last", "bulk_undone", "bulk_error"
EARLIER_SHOWN = 10


def bulk_qa(connection: Connection, batch: str, filters: DomainFilter) -> None:
    """The bulk accept controls, the last bulk accept's result and the batch's earlier ones.

    It reads through the render's `connection`; its writes open transactions of their own.
    """
    min_score = st.number_input(
        "Name score at least (optional)",
        min_value=0,
        max_value=100,
        value=None,
        step=1,
        key="bulk_min_name_score",
        width=260,
        help="Accept only the candidates whose name matches the domain this well (0-100).",
    )
    min_name_score = None if min_score is None else int(min_score)
    clean = guarded(
        lambda: count_bulk_accept(connection, batch, filters, min_name_score=min_name_score)
    )
    scored = "" if min_name_score is None else f", a name score of at least {min_name_score}"
    st.caption(
        f"{clean:,} domains among these filters are undecided, have exactly one candidate"
        f"{scored} and no flag."
    )
    if not analyst():
        st.text_input(
            "Your name, recorded with your decisions", key="analyst", persist_state="session"
        )
    if st.button(
        "Accept their single candidates...", disabled=not clean or not analyst(), key="bulk"
    ):
        st.session_state[CONFIRM] = True
    # The dialog stays open across reruns until the analyst confirms, cancels or closes it.
    if st.session_state.get(CONFIRM):
        _confirm(batch, filters, clean, min_name_score)
    if error := st.session_state.pop(ERROR, None):
        st.error(error, icon=":material/error:")
    if undone := st.session_state.pop(UNDONE, None):
        bulk_id, withdrawn = undone
        st.success(
            f"Bulk accept {bulk_id} undone: {withdrawn:,} acceptances withdrawn; the history "
            "keeps both.",
            icon=":material/undo:",
        )
    _results(connection, batch)


def _close() -> None:
    """Forget that the confirmation is open (a callback)."""
    st.session_state.pop(CONFIRM, None)


@st.dialog("Accept the clean single matches", on_dismiss=_close)
def _confirm(batch: str, filters: DomainFilter, count: int, min_name_score: int | None) -> None:
    """Ask before deciding many domains at once."""
    scored = "" if min_name_score is None else f", a name score of at least {min_name_score}"
    st.markdown(
        f"This accepts the single candidate of **{count:,} domains** of {batch!r} that pass "
        f"the filters, have exactly one candidate{scored}, no flag and no decision yet. Each "
        f"gets its own entry in the history, recorded as **{analyst()}**, in one transaction. "
        "You can undo it afterwards."
    )
    with st.container(horizontal=True):
        accept = st.button("Accept them", type="primary", icon=":material/done_all:")
        st.button("Cancel", on_click=_close)
    if accept:
        done = guarded(
            lambda: write_now(
                lambda writing: bulk_accept(
                    writing, batch, filters, decided_by=analyst(), min_name_score=min_name_score
                )
            )
        )
        _close()
        st.session_state[LAST] = (batch, done.bulk_id)
        st.rerun()


def _undo(batch: str, bulk_id: int) -> None:
    """Withdraw what a bulk accept accepted and still stands (a button callback)."""
    try:
        withdrawn = write_now(
            lambda writing: undo_bulk_accept(writing, batch, bulk_id, decided_by=analyst())
        )
    except GleifDataError as exc:
        st.session_state[ERROR] = str(exc)
        return
    st.session_state[UNDONE] = (bulk_id, withdrawn)


def _results(connection: Connection, batch: str) -> None:
    """The last bulk accept of this session in full; the batch's earlier ones in a line each."""
    summaries = guarded(lambda: bulk_accepts(connection, batch))
    last_batch, last_id = st.session_state.get(LAST, (None, None))
    last = next((s for s in summaries if last_batch == batch and s.bulk_id == last_id), None)
    if last is not None:
        accepted = guarded(lambda: bulk_accept_result(connection, batch, last.bulk_id))
        _show_last(batch, last, accepted)
    earlier = [s for s in summaries if s is not last][:EARLIER_SHOWN]
    if not earlier:
        return
    st.markdown("**Earlier bulk accepts of this batch**")
    for summary in earlier:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"{_describe(summary)}")
            st.button(
                "Undo",
                key=f"undo_bulk_{summary.bulk_id}",
                icon=":material/undo:",
                disabled=not summary.in_force or not analyst(),
                on_click=_undo,
                args=(batch, summary.bulk_id),
            )


def _show_last(batch: str, summary: BulkAcceptSummary, accepted: BulkAccept) -> None:
    """What this session's last bulk accept accepted, and its undo."""
    st.success(
        f"Bulk accept {summary.bulk_id} accepted {summary.accepted:,} domains"
        + ("." if summary.in_force == summary.accepted else f"; {summary.in_force:,} still stand."),
        icon=":material/check:",
    )
    st.dataframe(
        pd.DataFrame(accepted.accepted, columns=["domain", "lei", "legal_name"]),
        hide_index=True,
        height=min(400, 38 + 35 * len(accepted.accepted)),
        column_config={
            "domain": st.column_config.TextColumn("Domain", width=220),
            "lei": st.column_config.TextColumn("LEI", width=200),
            "legal_name": st.column_config.TextColumn("Legal name", width="large"),
        },
    )
    st.button(
        "Undo this bulk accept",
        key="undo_last_bulk",
        icon=":material/undo:",
        disabled=not summary.in_force or not analyst(),
        help="Withdraws exactly these acceptances where they still stand; the history keeps both.",
        on_click=_undo,
        args=(batch, summary.bulk_id),
    )


def _describe(summary: BulkAcceptSummary) -> str:
    """'Bulk accept 3 by Ana on 2026-12-01 14:02 UTC: 40 accepted, 38 still stand.'"""
    when = summary.decided_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Bulk accept {summary.bulk_id} by {summary.decided_by} on {when}: "
        f"{summary.accepted:,} accepted, {summary.in_force:,} still stand."
    )
