"""Review: the domains that still need a look, one at a time, decided by keyboard.

Keys: 1-9 accept that candidate, Shift+1-9 reject it, N no match, S skip, B back. After an
accept or "no match" the page moves on to the next domain of the queue; after a reject it
stays while other candidates of the domain are undecided, and moves on once none is.
The shown domain is in the URL (`?batch=...&domain=...`), so a reload or a copied link
opens it again.
"""

from __future__ import annotations

from functools import partial

import streamlit as st
from sqlalchemy import Connection

from dashboard.analyst import analyst
from dashboard.candidate_cards import GLEIF_RECORD_URL, candidate_card, flag_reasons
from dashboard.controls import choose_batch, filter_controls
from dashboard.data import (
    guarded,
    in_own_snapshot,
    page_snapshot,
    read_now,
    version,
    write_now,
)
from dashboard.errors import markdown_text
from dashboard.queue_position import queue_progress
from dashboard.view_state import describe_filters
from gleif_data.decisions import DomainState, domain_history, domain_state, record_decision
from gleif_data.domain_detail import DomainDetail, find_domain
from gleif_data.errors import GleifDataError
from gleif_data.flag_reasons import domain_reasons
from gleif_data.qa_state import Action, CandidateState, QaStatus
from gleif_data.reference_search import search_reference
from gleif_data.review_queue import (
    QueueDomain,
    ReviewQueue,
    next_domain,
    previous_domain,
    queue_position,
)

TO_REVIEW, EVERY_DOMAIN = "To review", "All filtered"
STATUS_COLOURS = {
    QaStatus.ACCEPTED: "green",
    QaStatus.REJECTED: "red",
    QaStatus.NO_MATCH: "orange",
    QaStatus.IN_REVIEW: "blue",
}
SEARCH_LIMIT = 10
BACK_STACK = "review_back"  # the domains shown before, newest last
BACK_LIMIT = 50
NOTICE = "review_notice"


def choose_queue() -> ReviewQueue:
    """The batch, the queue and the filters: which domains this review walks through."""
    batch_column, queue_column = st.columns(2, vertical_alignment="top")
    with batch_column:
        batch = choose_batch().batch
    scope = queue_column.segmented_control(
        "Queue",
        [TO_REVIEW, EVERY_DOMAIN],
        default=TO_REVIEW,
        key="queue",
        bind="query-params",
        required=True,
        help="To review: undecided or in review, with any flag (ambiguous, no candidate, "
        "country mismatch, ...). All filtered: every domain that passes the filters.",
    )
    with st.expander("Filters"):
        filters = filter_controls()
    return ReviewQueue(batch, filters, pending_only=scope != EVERY_DOMAIN)


def show(found: QueueDomain | None) -> None:
    """Put a domain (or none: the queue is done) in the URL."""
    if found is None:
        st.query_params.pop("domain", None)
    else:
        st.query_params["domain"] = found.domain


def move_on(queue: ReviewQueue, current: DomainDetail, *, remember: bool = True) -> None:
    """Show the queue's next domain after this one, from the start again after the last."""
    if remember:
        stack = st.session_state.setdefault(BACK_STACK, [])
        stack.append((current.batch, current.domain))
        del stack[:-BACK_LIMIT]
    found = read_now(lambda reading: next_domain(reading, queue, after=current.domain_id))
    if found is None:
        found = read_now(lambda reading: next_domain(reading, queue))
        if found is not None:
            st.session_state[NOTICE] = "End of the queue: back to its first domain."
    show(found)


def go_back(queue: ReviewQueue, current: DomainDetail) -> None:
    """Show the domain shown before this one (a button callback)."""
    stack = st.session_state.get(BACK_STACK, [])
    while stack:
        batch, name = stack.pop()
        if batch == current.batch and name != current.domain:
            st.query_params["domain"] = name
            return
    # Nothing shown before in this session (a reload, a link): the queue's previous domain.
    found = read_now(lambda reading: previous_domain(reading, queue, before=current.domain_id))
    if found is None:
        st.session_state[NOTICE] = "This is the first domain of the queue."
        return
    show(found)


def decide(
    queue: ReviewQueue,
    current: DomainDetail,
    action: Action,
    lei_code: str | None = None,
) -> None:
    """Record a decision, then move on (a button callback)."""
    who = analyst()
    if not who:
        st.session_state[NOTICE] = "Type your name first: every decision is recorded with it."
        return
    try:
        guarded(
            lambda: write_now(
                lambda writing: record_decision(
                    writing,
                    batch=current.batch,
                    domain=current.domain,
                    action=action,
                    decided_by=who,
                    lei_code=lei_code,
                )
            )
        )
    except GleifDataError as exc:
        st.session_state[NOTICE] = f"Not recorded: {exc}."
        return
    if action is Action.REJECT and _undecided_left(current):
        return  # the analyst may still accept or reject another candidate of this domain
    move_on(queue, current)


def _undecided_left(current: DomainDetail) -> bool:
    """Whether some candidate of the domain is neither accepted nor rejected."""
    now = read_now(lambda reading: current_state(reading, current))
    return any(state is CandidateState.UNDECIDED for state in now.candidates.values())


def current_state(connection: Connection, current: DomainDetail) -> DomainState:
    """The domain's QA state and each candidate's, from its log."""
    history = guarded(lambda: domain_history(connection, current.batch, current.domain))
    return domain_state(history, [c.lei_code for c in current.candidates])


def domain_to_review(connection: Connection, queue: ReviewQueue) -> DomainDetail:
    """The URL's domain, else the queue's first; when the queue is empty, says so and stops."""
    # Another batch chosen here starts afresh.
    if st.session_state.get("review_batch") not in (None, queue.batch):
        st.query_params.pop("domain", None)
    st.session_state["review_batch"] = queue.batch
    wanted = st.query_params.get("domain")
    detail = guarded(lambda: find_domain(connection, queue.batch, wanted)) if wanted else None
    if wanted and detail is None:
        st.session_state[NOTICE] = f"The batch {queue.batch!r} has no domain {wanted!r}."
    if detail is not None:
        return detail
    first = guarded(lambda: next_domain(connection, queue))
    if first is None:
        st.query_params.pop("domain", None)
        active = describe_filters(queue.filters)
        st.success(
            "Nothing left to review in this queue" + (f" (filters: {active})." if active else "."),
            icon=":material/task_alt:",
        )
        with st.container(horizontal=True):
            st.page_link("pages/overview.py", label="Overview", icon=":material/insights:")
            st.page_link("pages/explore.py", label="Explore", icon=":material/table_view:")
        st.stop()
    show(first)
    detail = guarded(lambda: find_domain(connection, queue.batch, first.domain))
    assert detail is not None
    return detail


def domain_panel(queue: ReviewQueue, detail: DomainDetail, state: DomainState) -> None:
    """The domain, its QA state and last decision, its flags, No match, Skip and Back."""
    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.subheader(detail.domain, anchor=False)
            st.badge(
                state.status.value.capitalize(),
                color=STATUS_COLOURS.get(state.status, "gray"),
            )
        st.caption(" · ".join(domain_facts(detail, state)))
        if state.accepted_lei and state.accepted_lei not in state.candidates:
            st.markdown(
                f":green[:material/check_circle: Matched to another LEI: "
                f"[{state.accepted_lei}]({GLEIF_RECORD_URL}{state.accepted_lei}) "
                f"{markdown_text(state.accepted_legal_name or '')}]"
            )
        for reason in domain_reasons(len(detail.candidates)):
            st.markdown(f":orange[:material/flag: {reason}]")
        if not analyst():
            st.text_input(
                "Your name, recorded with your decisions",
                key="analyst",
                placeholder="e.g. Ana Silva",
                persist_state="session",
            )
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button(
                "No match",
                icon=":material/block:",
                shortcut="N",
                disabled=state.status is QaStatus.NO_MATCH,
                on_click=decide,
                args=(queue, detail, Action.NO_MATCH),
            )
            st.button(
                "Skip",
                icon=":material/skip_next:",
                shortcut="S",
                on_click=move_on,
                args=(queue, detail),
            )
            st.button(
                "Back",
                icon=":material/undo:",
                shortcut="B",
                on_click=go_back,
                args=(queue, detail),
            )
            st.page_link(
                "pages/domain.py",
                label="Domain view",
                icon=":material/open_in_new:",
                query_params={"batch": detail.batch, "domain": detail.domain},
            )


def domain_facts(detail: DomainDetail, state: DomainState) -> list[str]:
    """The country its TLD names, and the last decision: who, what, when."""
    tld = detail.domain.rsplit(".", 1)[-1]
    facts = [
        f"ccTLD .{tld}: country {detail.country}"
        if detail.country
        else f".{tld} is a generic TLD: no country from it"
    ]
    if state.latest is not None:
        when = state.latest.decided_at.strftime("%Y-%m-%d %H:%M UTC")
        facts.append(
            f"last decision: {state.latest.action.value.replace('_', ' ')} by "
            f"{state.latest.decided_by}, {when}"
        )
    return facts


def candidates(
    connection: Connection, queue: ReviewQueue, detail: DomainDetail, state: DomainState
) -> None:
    """Every candidate's card; 1-9 accept and Shift+1-9 reject candidates one to nine."""
    for number, candidate in enumerate(detail.candidates, start=1):
        candidate_card(
            number,
            candidate,
            state.candidates.get(candidate.lei_code, CandidateState.UNDECIDED),
            reasons=flag_reasons(connection, detail, candidate),
            decide=partial(decide, queue, detail),
            key=f"{detail.domain_id}_{number}",
            keyboard=True,
        )


def other_entity_search(
    connection: Connection, queue: ReviewQueue, detail: DomainDetail, state: DomainState
) -> None:
    """Search the GLEIF reference data for the right entity when no candidate is it."""
    query = st.text_input(
        "None of these? Search GLEIF by name or LEI"
        if detail.candidates
        else "Search GLEIF by name or LEI",
        key=f"reference_query_{detail.domain_id}",
        placeholder="a legal name, an LEI or its first characters",
        icon=":material/search:",
    )
    if not query or not query.strip():
        return
    found = guarded(lambda: search_reference(connection, query, limit=SEARCH_LIMIT))
    if not found:
        st.caption(f"No GLEIF record matches {query.strip()!r}.")
        return
    for match in found:
        with st.container(border=True):
            with st.container(horizontal=True, vertical_alignment="center"):
                st.markdown(
                    f"**{markdown_text(match.legal_name or '(no name)')}**", width="stretch"
                )
                st.button(
                    "Accept this entity",
                    key=f"accept_other_{detail.domain_id}_{match.lei}",
                    icon=":material/check_circle:",
                    disabled=state.accepted_lei == match.lei,
                    on_click=decide,
                    args=(queue, detail, Action.ACCEPT, match.lei),
                )
            st.markdown(
                f"[{match.lei}]({GLEIF_RECORD_URL}{match.lei}) · "
                f"registration **{match.registration_status or 'unknown'}** · "
                f"entity **{match.entity_status or 'unknown'}** · "
                f"legal address **{match.legal_address_country or '?'}** · "
                f"HQ **{match.headquarters_country or '?'}** · "
                f"jurisdiction **{match.legal_jurisdiction or '?'}** · "
                f"search score **{match.score}**"
            )


# One read snapshot for the whole render: the page never mixes two versions of a batch.
with page_snapshot() as connection:
    st.title("Review")
    queue = choose_queue()
    detail = domain_to_review(connection, queue)
    if notice := st.session_state.pop(NOTICE, None):
        st.info(notice, icon=":material/info:")
    state = current_state(connection, detail)
    progress = st.empty()
    domain_panel(queue, detail, state)
    candidates(connection, queue, detail, state)
    other_entity_search(connection, queue, detail, state)
    st.caption(
        "Keys: 1-9 accept that candidate, Shift+1-9 reject it, N no match, S skip, B back. "
        "Accept and no match move on to the next domain; a reject moves on once no candidate is "
        "left undecided."
    )
    # Last: it reads the whole filtered batch, and the cards are on the page already.
    with progress.container():
        queue_progress(
            (queue, detail.domain_id, version(connection)),
            in_own_snapshot(lambda reading: queue_position(reading, queue, detail.domain_id)),
            pending_only=queue.pending_only,
        )
