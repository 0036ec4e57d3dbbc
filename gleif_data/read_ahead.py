"""Read ahead: a background thread turns rows into chunks while the caller writes the last one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
_POLL_SECONDS = 0.1


def read_ahead(rows: Iterable[T], chunk_size: int, depth: int = 2) -> Iterator[list[T]]:
    """Chunks of `rows` in order; an error in `rows` is raised here, at its place in the order.

    An import spends its time in two places: Python reading and checking the file, and the
    database writing the rows. Python waiting on the database releases the GIL, so with the
    reading in a thread of its own both run at once, on two cores. At most `depth` chunks
    wait in memory.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        iterator = iter(rows)
        try:
            while chunk := list(islice(iterator, chunk_size)):
                if not offer(chunk):
                    return
        except BaseException as exc:  # handed to the caller's thread, which raises it
            offer(exc)
            return
        offer(_DONE)

    reader = threading.Thread(target=read, name="read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        # The caller stopped early (an error while writing): let the reader end too.
        stop.set()
        reader.join()
