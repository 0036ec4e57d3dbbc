"""Review: the domains that still need a look, one at a time, decided by keyboard.

Keys: 1-9 accept that candidate, Shift+1-9 reject it, N no match, S skip, B back. After an
accept or "no match" the page moves on to the next domain of the queue; after a reject it
stays while other candidates of the domain are undecided, and moves on once none is.
The shown domain is in the URL (`?batch=...&domain=...`), so a reload or a copied link
opens it again.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import streamlit as st
from sqlalchemy import Connection

from dashboard.analyst import analyst
from dashboard.controls import choose_batch, filter_controls
from dashboard.data import (
    guarded,
    in_own_snapshot,
    page_snapshot,
    read_now,
    version,
    within_time_limit,
    write_now,
)
from dashboard.view_state import describe_filters
from gleif_data.decisions import DomainState, domain_history, domain_state, record_decision
from gleif_data.domain_detail import CandidateDetail, DomainDetail, find_domain
from gleif_data.errors import GleifDataError, QueryTimedOut
from gleif_data.flag_reasons import (
    candidate_reason,
    domain_reasons,
    domains_sharing_lei,
)
from gleif_data.qa_state import Action, CandidateState, QaStatus
from gleif_data.reference_search import search_reference
from gleif_data.review_queue import (
    QueueDomain,
    QueuePosition,
    ReviewQueue,
    next_domain,
    previous_domain,
    queue_position,
)
from gleif_data.statement_timeout import statement_timeout_seconds

GLEIF_RECORD_URL = "https://search.gleif.org/#/record/"
TO_REVIEW, EVERY_DOMAIN = "To review", "All filtered"
STATUS_COLOURS = {
    QaStatus.ACCEPTED: "green",
    QaStatus.REJECTED: "red",
    QaStatus.NO_MATCH: "orange",
    QaStatus.IN_REVIEW: "blue",
}
SEARCH_LIMIT = 10
MAX_KEYED = 9  # candidates 1-9 have keys; a tenth and later ones have buttons only
BACK_STACK = "review_back"  # the domains shown before, newest last
BACK_LIMIT = 50
NOTICE = "review_notice"
COUNT_WAIT = 0.5  # seconds the page waits for the queue count before it shows it later
POSITIONS_KEPT = 1000
COUNTING = "review_counting"


def plain(text: str) -> str:
    """Text shown as itself in Markdown: legal names hold *, _, [, $ and the like."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", text)


# One read snapshot for the whole render: the page never mixes two versions of a batch.
with page_snapshot() as connection:
    st.title("Review")
    top = st.columns(2, vertical_alignment="top")
    with top[0]:
        summary = choose_batch()
    with top[1]:
        scope = st.segmented_control(
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
    queue = ReviewQueue(summary.batch, filters, pending_only=scope != EVERY_DOMAIN)

    def show(found: QueueDomain | None) -> None:
        """Put a domain (or none: the queue is done) in the URL."""
        if found is None:
            st.query_params.pop("domain", None)
        else:
            st.query_params["domain"] = found.domain

    def move_on(current: DomainDetail, *, remember: bool = True) -> None:
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

    def go_back(current: DomainDetail) -> None:
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

    def decide(current: DomainDetail, action: Action, lei_code: str | None = None) -> None:
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
        move_on(current)

    def _undecided_left(current: DomainDetail) -> bool:
        """Whether some candidate of the domain is neither accepted nor rejected."""
        now = read_now(lambda reading: current_state(reading, current))
        return any(state is CandidateState.UNDECIDED for state in now.candidates.values())

    def current_state(reading: Connection, current: DomainDetail) -> DomainState:
        """The domain's QA state and each candidate's, from its log."""
        history = guarded(lambda: domain_history(reading, current.batch, current.domain))
        return domain_state(history, [c.lei_code for c in current.candidates])

    class PositionCounter:
        """Counts queue positions on one background thread, shared by the sessions."""

        def __init__(self) -> None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-count")
            self._counts: OrderedDict[Hashable, Future[QueuePosition]] = OrderedDict()
            self._lock = threading.Lock()

        def request(
            self, key: Hashable, count: Callable[[], QueuePosition]
        ) -> Future[QueuePosition]:
            """The count for this key: done already (for the same data), running, or started."""
            with self._lock:
                found = self._counts.get(key)
                if found is None or found.cancelled() or _failed(found):
                    found = self._pool.submit(count)
                    self._counts[key] = found
                self._counts.move_to_end(key)
                while len(self._counts) > POSITIONS_KEPT:
                    self._counts.popitem(last=False)
                return found

    def _failed(counting: Future[QueuePosition]) -> bool:
        """Whether a count failed for a reason other than its time limit (worth another try)."""
        if not counting.done():
            return False
        error = counting.exception()
        return error is not None and not isinstance(error, QueryTimedOut)

    @st.cache_resource
    def position_counter() -> PositionCounter:
        """One counter per server process."""
        return PositionCounter()

    def show_position(counting: Future[QueuePosition], *, pending_only: bool) -> None:
        """The progress line: "37 of 412 left in this queue"."""
        if counting.cancelled():
            return  # this session has moved on to another domain
        position = within_time_limit(counting.result)
        left = "left " if pending_only else ""
        if position is None:
            limit = statement_timeout_seconds()
            took = f"{limit:g} s" if limit else "the time limit"
            st.caption(f"Counting this queue took longer than {took}.")
        elif position.in_queue:
            st.caption(f"{position.position:,} of {position.total:,} {left}in this queue")
        else:
            st.caption(
                f"This domain is not in the queue (decided, or filtered out); "
                f"{position.total:,} {left}in this queue"
            )

    @st.fragment(run_every=1)
    def show_position_later(counting: Future[QueuePosition], *, pending_only: bool) -> None:
        """The progress line once the count is done; until then, that it is counting."""
        if counting.done():
            show_position(counting, pending_only=pending_only)
        else:
            st.caption("Counting this queue...")

    # Which domain: the URL's, else the queue's first. Another batch chosen here starts afresh.
    if st.session_state.get("review_batch") not in (None, summary.batch):
        st.query_params.pop("domain", None)
    st.session_state["review_batch"] = summary.batch
    wanted = st.query_params.get("domain")
    detail = guarded(lambda: find_domain(connection, summary.batch, wanted)) if wanted else None
    if wanted and detail is None:
        st.session_state[NOTICE] = f"The batch {summary.batch!r} has no domain {wanted!r}."
    if detail is None:
        first = guarded(lambda: next_domain(connection, queue))
        if first is None:
            st.query_params.pop("domain", None)
            active = describe_filters(filters)
            st.success(
                "Nothing left to review in this queue"
                + (f" (filters: {active})." if active else "."),
                icon=":material/task_alt:",
            )
            with st.container(horizontal=True):
                st.page_link("pages/overview.py", label="Overview", icon=":material/insights:")
                st.page_link("pages/explore.py", label="Explore", icon=":material/table_view:")
            st.stop()
        show(first)
        detail = guarded(lambda: find_domain(connection, summary.batch, first.domain))
        assert detail is not None

    if notice := st.session_state.pop(NOTICE, None):
        st.info(notice, icon=":material/info:")

    state = current_state(connection, detail)
    status, deciding = state.status, state.latest
    progress = st.empty()

    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.subheader(detail.domain, anchor=False)
            st.badge(
                status.value.capitalize(),
                color=STATUS_COLOURS.get(status, "gray"),
            )
        country = detail.country
        tld = detail.domain.rsplit(".", 1)[-1]
        facts = [
            f"ccTLD .{tld}: country {country}"
            if country
            else f".{tld} is a generic TLD: no country from it"
        ]
        if deciding is not None:
            when = deciding.decided_at.strftime("%Y-%m-%d %H:%M UTC")
            facts.append(
                f"last decision: {deciding.action.value.replace('_', ' ')} by "
                f"{deciding.decided_by}, {when}"
            )
        st.caption(" · ".join(facts))
        if state.accepted_lei and state.accepted_lei not in state.candidates:
            st.markdown(
                f":green[:material/check_circle: Matched to another LEI: "
                f"[{state.accepted_lei}]({GLEIF_RECORD_URL}{state.accepted_lei}) "
                f"{plain(state.accepted_legal_name or '')}]"
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
                disabled=status is QaStatus.NO_MATCH,
                on_click=decide,
                args=(detail, Action.NO_MATCH),
            )
            st.button(
                "Skip", icon=":material/skip_next:", shortcut="S", on_click=move_on, args=(detail,)
            )
            st.button(
                "Back", icon=":material/undo:", shortcut="B", on_click=go_back, args=(detail,)
            )
            st.page_link(
                "pages/domain.py",
                label="Domain view",
                icon=":material/open_in_new:",
                query_params={"batch": summary.batch, "domain": detail.domain},
            )

    def candidate_reasons(candidate: CandidateDetail) -> list[str]:
        """Each flag of the candidate with its reason; shared_lei names the other domains."""
        shared = None
        if "shared_lei" in candidate.flags:
            shared = guarded(
                lambda: domains_sharing_lei(
                    connection, detail.batch, candidate.lei_code, besides=detail.domain_id
                )
            )
        return [
            candidate_reason(flag, detail.domain, candidate, shared) for flag in candidate.flags
        ]

    def candidate_card(number: int, candidate: CandidateDetail, verdict: CandidateState) -> None:
        """One candidate: its GLEIF facts, its flags with their reasons, accept and reject."""
        keyed = number <= MAX_KEYED
        mark = {
            CandidateState.ACCEPTED: ":green-badge[accepted]",
            CandidateState.REJECTED: ":red-badge[rejected]",
        }
        registration = candidate.registration_status or (
            "" if candidate.in_reference_data else "not in the reference data"
        )
        with st.container(border=True):
            with st.container(horizontal=True, vertical_alignment="center"):
                st.markdown(
                    f"**{number}. {plain(candidate.legal_name) or '(no name)'}** "
                    + mark.get(verdict, ""),
                    width="stretch",
                )
                with st.container(horizontal=True, wrap=False, width="content"):
                    st.button(
                        "Accept",
                        key=f"accept_{detail.domain_id}_{number}",
                        icon=":material/check_circle:",
                        type="primary",
                        shortcut=str(number) if keyed else None,
                        disabled=verdict is CandidateState.ACCEPTED,
                        on_click=decide,
                        args=(detail, Action.ACCEPT, candidate.lei_code),
                    )
                    st.button(
                        "Reject",
                        key=f"reject_{detail.domain_id}_{number}",
                        icon=":material/cancel:",
                        shortcut=f"Shift+{number}" if keyed else None,
                        disabled=verdict is CandidateState.REJECTED,
                        on_click=decide,
                        args=(detail, Action.REJECT, candidate.lei_code),
                    )
            lines = [
                f"[{candidate.lei_code}]({GLEIF_RECORD_URL}{candidate.lei_code}) · "
                f"registration **{registration or 'unknown'}** · "
                f"entity **{candidate.entity_status or 'unknown'}** · "
                f"name score **{candidate.name_score}**",
                f"legal address **{candidate.legal_address_country or '?'}** · "
                f"HQ **{candidate.headquarters_country or '?'}** · "
                f"jurisdiction **{candidate.legal_jurisdiction or '?'}**"
                + (
                    f" · GLEIF name: {plain(candidate.reference_legal_name)}"
                    if candidate.reference_legal_name
                    and candidate.reference_legal_name != candidate.legal_name
                    else ""
                ),
                *(
                    f":orange[:material/flag: {plain(reason)}]"
                    for reason in candidate_reasons(candidate)
                ),
            ]
            st.markdown("  \n".join(lines))

    def other_entity_search() -> None:
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
                    st.markdown(f"**{plain(match.legal_name or '(no name)')}**", width="stretch")
                    st.button(
                        "Accept this entity",
                        key=f"accept_other_{detail.domain_id}_{match.lei}",
                        icon=":material/check_circle:",
                        disabled=state.accepted_lei == match.lei,
                        on_click=decide,
                        args=(detail, Action.ACCEPT, match.lei),
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

    for number, candidate in enumerate(detail.candidates, start=1):
        candidate_card(
            number, candidate, state.candidates.get(candidate.lei_code, CandidateState.UNDECIDED)
        )
    other_entity_search()

    st.caption(
        "Keys: 1-9 accept that candidate, Shift+1-9 reject it, N no match, S skip, B back. "
        "Accept and no match move on to the next domain; a reject moves on once no candidate is "
        "left undecided."
    )

    # Last: it reads the whole filtered batch, and the card is on the page already. It runs on
    # a thread of its own: at a million domains it takes seconds, and a key press meanwhile would
    # wait for it if it ran here.
    counting = position_counter().request(
        (queue, detail.domain_id, version(connection)),
        in_own_snapshot(lambda reading: queue_position(reading, queue, detail.domain_id)),
    )
    # A count this session asked for before and that has not started is not needed any more.
    earlier = st.session_state.get(COUNTING)
    if earlier is not None and earlier is not counting:
        earlier.cancel()
    st.session_state[COUNTING] = counting
    with progress.container():
        wait([counting], timeout=COUNT_WAIT)
        if counting.done():
            show_position(counting, pending_only=queue.pending_only)
        else:
            show_position_later(counting, pending_only=queue.pending_only)
