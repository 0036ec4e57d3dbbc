"""Domain: find a domain, see its candidates with their GLEIF facts, decide on each one."""

from functools import partial

import pandas as pd
import streamlit as st
from sqlalchemy import Connection

from dashboard.analyst import analyst, analyst_input
from dashboard.candidate_cards import NBSP, candidate_card, flag_reasons
from dashboard.controls import choose_batch
from dashboard.data import guarded, page_snapshot, write_now
from dashboard.errors import markdown_text
from gleif_data.decisions import (
    Decision,
    DomainState,
    domain_history,
    domain_state,
    record_decision,
)
from gleif_data.domain_detail import DomainDetail, find_domain, suggest_domains
from gleif_data.errors import DatabaseError, GleifDataError
from gleif_data.qa_state import Action, CandidateState, QaStatus

SUGGESTIONS = 10
STATUS_ICONS = {
    QaStatus.ACCEPTED: ":material/check_circle:",
    QaStatus.REJECTED: ":material/cancel:",
    QaStatus.NO_MATCH: ":material/block:",
}


def typed_domain(connection: Connection, batch: str) -> DomainDetail:
    """The domain box and the domain it names; else a hint or suggestions, and the page stops."""
    typed = st.text_input(
        "Domain",
        key="domain",
        bind="query-params",
        placeholder="acme.com, part of a name, or a pasted web address",
        icon=":material/search:",
    )
    if not typed.strip():
        st.info(
            "Type a domain of the batch, part of one, or paste a web address; or select a row "
            "on the Explore page.",
            icon=":material/search:",
        )
        st.stop()
    detail = guarded(lambda: find_domain(connection, batch, typed))
    if detail is None:
        suggestions(connection, batch, typed)
        st.stop()
    return detail


def suggestions(connection: Connection, batch: str, typed: str) -> None:
    """The batch's domains that contain what was typed, each a button that opens it."""
    found = guarded(lambda: suggest_domains(connection, batch, typed, limit=SUGGESTIONS))
    shown = markdown_text(typed.strip())
    if not found:
        st.warning(
            f"No domain of the batch {batch!r} is or contains “{shown}”.",
            icon=":material/search_off:",
        )
        return
    more = " (the first ten: type more to narrow them)" if len(found) == SUGGESTIONS else ""
    st.markdown(f"No domain is exactly “{shown}”. Domains containing it{more}:")
    with st.container(horizontal=True, gap="small"):
        for number, name in enumerate(found):
            st.button(
                name,
                key=f"suggestion_{number}",
                icon=":material/language:",
                on_click=open_domain,
                args=(name,),
            )


def open_domain(name: str) -> None:
    """Show a suggested domain (a button callback)."""
    st.session_state["domain"] = name


def domain_heading(detail: DomainDetail) -> None:
    """The domain's name, its country, how often the batch stores it, its other spellings."""
    st.subheader(detail.domain)
    about = []
    if detail.country:
        about.append(f"Country-code domain of **{detail.country}**.")
    if detail.stored_times > 1:
        about.append(
            f"Stored **{detail.stored_times} times** in this batch (the export lists each row); "
            "the candidates of every row are below."
        )
    if about:
        st.caption(" ".join(about))
    if detail.other_spellings:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.caption("Also stored in another spelling, a domain of its own for decisions:")
            for number, other in enumerate(detail.other_spellings):
                st.button(
                    other,
                    key=f"spelling_{number}",
                    type="tertiary",
                    icon=":material/language:",
                    on_click=open_domain,
                    args=(other,),
                )


def decide(detail: DomainDetail, action: Action, lei_code: str | None = None) -> None:
    """Record a decision (a button callback); a missing name refuses it with a message."""
    who = analyst()
    if not who:
        st.session_state["decision_error"] = "Type your name first: decisions record who made them."
        return
    try:
        write_now(
            lambda writing: record_decision(
                writing,
                batch=detail.batch,
                domain=detail.domain,
                action=action,
                decided_by=who,
                lei_code=lei_code,
                note=st.session_state.get("decision_note"),
            )
        )
    except DatabaseError as exc:
        st.session_state["decision_error"] = (
            f"Not recorded: the database refused it ({exc.reason})."
        )
        return
    except GleifDataError as exc:
        st.session_state["decision_error"] = f"Not recorded: {exc}."
        return
    st.session_state["decision_note"] = ""
    done = action.value.replace("_", " ")
    st.toast(f"Recorded: {done}{f' {lei_code}' if lei_code else ''}", icon=":material/check:")


def describe_state(state: DomainState) -> str:
    """The domain's state in words, with who set it and when."""
    words = state.status.value.capitalize()
    if state.accepted_lei:
        name = markdown_text(state.accepted_legal_name or "")
        words += f": **{name}** ({state.accepted_lei})"
    elif state.status in (QaStatus.IN_REVIEW, QaStatus.REJECTED):
        rejected = sum(1 for s in state.candidates.values() if s is CandidateState.REJECTED)
        words += f" ({rejected} of {len(state.candidates)} candidates rejected)"
    if state.latest is not None:
        when = state.latest.decided_at.strftime("%Y-%m-%d %H:%M UTC")
        when = when.replace(" ", NBSP).replace("-", "\u2011")  # wraps before it, not inside
        words += f", last decision by {markdown_text(state.latest.decided_by)} on {when}"
    return words


def qa_panel(detail: DomainDetail, state: DomainState) -> None:
    """The domain's QA state, who decides, a note for the next decision, No match and Reset."""
    with st.container(border=True):
        st.markdown(
            f"{STATUS_ICONS.get(state.status, ':material/pending:')} **QA:** "
            f"{describe_state(state)}"
        )
        with st.container(horizontal=True, vertical_alignment="bottom"):
            with st.container(width=300):
                analyst_input()
            who = analyst()
            st.text_input(
                "Note (optional)", key="decision_note", help="Recorded with the next decision."
            )
            st.button(
                "No match",
                icon=":material/block:",
                disabled=not who or state.status is QaStatus.NO_MATCH,
                on_click=decide,
                args=(detail, Action.NO_MATCH),
                help="None of the candidates is the entity behind this domain.",
            )
            st.button(
                "Reset",
                icon=":material/undo:",
                disabled=not who or state.latest is None,
                on_click=decide,
                args=(detail, Action.RESET),
                help="Back to undecided; the history keeps every decision.",
            )
        if not who:
            st.caption("Decisions need your name: type it above.")
        if error := st.session_state.pop("decision_error", None):
            st.error(error, icon=":material/error:")


def candidates(connection: Connection, detail: DomainDetail, state: DomainState) -> None:
    """Every candidate's card, in the order the matching listed them."""
    count = len(detail.candidates)
    if count == 0:
        st.info(
            "The matching found no GLEIF candidate for this domain.",
            icon=":material/person_search:",
        )
        return
    st.caption(
        f"{count} candidate{'s' if count != 1 else ''}, in the order the matching listed them."
    )
    for number, candidate in enumerate(detail.candidates, 1):
        row = None
        if detail.stored_times > 1:
            row = detail.domain_ids.index(candidate.domain_id) + 1
        candidate_card(
            number,
            candidate,
            state.candidates.get(candidate.lei_code, CandidateState.UNDECIDED),
            reasons=flag_reasons(connection, detail, candidate),
            decide=partial(decide, detail),
            key=str(candidate.candidate_id),
            can_decide=bool(analyst()),
            row=row,
        )


def decision_history(history: list[Decision]) -> None:
    """Every decision on the domain, newest first."""
    if not history:
        return
    st.markdown("**History**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": h.decided_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    "who": h.decided_by,
                    "decision": h.action.value.replace("_", " "),
                    "lei": h.lei_code or "",
                    "legal_name": h.legal_name or "",
                    "note": h.note or "",
                }
                for h in reversed(history)
            ]
        ),
        hide_index=True,
        column_config={
            "when": "When",
            "who": "Who",
            "decision": "Decision",
            "lei": "LEI",
            "legal_name": st.column_config.TextColumn("Legal name", width="large"),
            "note": st.column_config.TextColumn("Note", width="large"),
        },
    )


# One read snapshot for the whole render: the page never mixes two versions of a batch.
with page_snapshot() as connection:
    st.title("Domain")
    summary = choose_batch()
    detail = typed_domain(connection, summary.batch)
    domain_heading(detail)
    history = guarded(lambda: domain_history(connection, summary.batch, detail.domain))
    state = domain_state(history, [c.lei_code for c in detail.candidates])
    qa_panel(detail, state)
    candidates(connection, detail, state)
    decision_history(history)
