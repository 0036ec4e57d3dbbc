"""Stopping a running export from another thread: no new query starts, the running ones end."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gleif_data.errors import GleifDataError

logger = logging.getLogger(__name__)


class ExportCancelled(GleifDataError):
    """The export was stopped on purpose: its reader went away."""


class Cancellation:
    """Lets one thread stop the queries other threads run for an export.

    A parallel export runs one query per connection at once: each registers its own
    interrupt, and `cancel()` calls them all.
    """

    def __init__(self) -> None:
        # One lock for the flag and the running queries: a query that has ended is never
        # interrupted, since its connection may already serve another request.
        self._lock = threading.Lock()
        self._cancelled = False
        self._interrupts: dict[int, Callable[[], None]] = {}
        self._next_key = 0

    def is_set(self) -> bool:
        """Whether `cancel()` was called."""
        return self._cancelled

    @contextmanager
    def running(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """Run a query that `cancel()` stops by calling `interrupt` from its own thread."""
        with self._lock:
            if self._cancelled:
                raise ExportCancelled("the export was cancelled")
            key = self._next_key
            self._next_key += 1
            self._interrupts[key] = interrupt
        try:
            yield
        finally:
            with self._lock:
                del self._interrupts[key]

    def cancel(self) -> None:
        """Refuse every later query and interrupt those running now, if any."""
        with self._lock:
            self._cancelled = True
            for interrupt in list(self._interrupts.values()):
                try:
                    interrupt()
                except Exception as exc:  # the export still stops at its next write
                    logger.warning("could not interrupt the export's query: %s", exc)
