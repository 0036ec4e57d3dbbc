"""The Review page's place in its queue, counted on a background thread the sessions share."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import streamlit as st

from dashboard.data import within_time_limit
from gleif_data.errors import QueryTimedOut
from gleif_data.review_queue import QueuePosition
from gleif_data.statement_timeout import statement_timeout_seconds

COUNT_WAIT = 0.5  # seconds the page waits for the queue count before it shows it later
POSITIONS_KEPT = 1000
COUNTING = "review_counting"


class PositionCounter:
    """Counts queue positions on one background thread, shared by the sessions."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-count")
        self._counts: OrderedDict[Hashable, Future[QueuePosition]] = OrderedDict()
        self._lock = threading.Lock()

    def request(self, key: Hashable, count: Callable[[], QueuePosition]) -> Future[QueuePosition]:
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


def queue_progress(
    key: Hashable, count: Callable[[], QueuePosition], *, pending_only: bool
) -> None:
    """The progress line, "37 of 412 left in this queue", now or once the count is done.

    The count runs on the counter's thread: at a million domains it takes seconds, and a key
    press meanwhile would wait for it if it ran in the page's own run.
    """
    counting = position_counter().request(key, count)
    # A count this session asked for before and that has not started is not needed any more.
    earlier = st.session_state.get(COUNTING)
    if earlier is not None and earlier is not counting:
        earlier.cancel()
    st.session_state[COUNTING] = counting
    wait([counting], timeout=COUNT_WAIT)
    if counting.done():
        _show_position(counting, pending_only=pending_only)
    else:
        _show_position_later(counting, pending_only=pending_only)


def _show_position(counting: Future[QueuePosition], *, pending_only: bool) -> None:
    """The progress line: "37 of 412 left in this queue"."""
    if counting.cancelled():
        return  # this session has moved on to another domain
    position = within_time_limit(counting.result)
    left = "left " if pending_only else ""
    if position is None:
        limit = statement_timeout_seconds()
        st.caption(
            f"Counting this queue took longer than {f'{limit:g} s' if limit else 'the time limit'}."
        )
    elif position.in_queue:
        st.caption(f"{position.position:,} of {position.total:,} {left}in this queue")
    else:
        st.caption(
            f"This domain is not in the queue (decided, or filtered out); "
            f"{position.total:,} {left}in this queue"
        )


@st.fragment(run_every=1)
def _show_position_later(counting: Future[QueuePosition], *, pending_only: bool) -> None:
    """The progress line once the count is done; until then, that it is counting."""
    if counting.done():
        _show_position(counting, pending_only=pending_only)
    else:
        st.caption("Counting this queue...")
