"""An export written by a thread of its own into a bounded queue, for a reader in another thread."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from gleif_data.cancellation import Cancellation
from gleif_data.errors import GleifDataError
from gleif_data.export import ExportOptions, write_export

_QUEUE_BLOCKS = 16  # at most this many written blocks wait for a slow reader
_POLL_SECONDS = 0.25  # how soon a blocked thread notices that the export was stopped


class ExportAborted(RuntimeError):
    """The export stopped half-way; its reader must not pass on a file that looks complete."""


class ExportStream:
    """The bytes of one export as a thread writes them; `close()` stops it and frees its backend.

    The queue is bounded, so a slow reader slows the export instead of filling memory.
    """

    def __init__(
        self, engine: Engine, batch: str, options: ExportOptions, workers: int | None = None
    ) -> None:
        self._engine = engine
        self._batch = batch
        self._options = options
        self._workers = workers
        self._blocks: queue.Queue[bytes | BaseException | None] = queue.Queue(_QUEUE_BLOCKS)
        self._cancellation = Cancellation()
        self._thread = threading.Thread(target=self._produce, name=f"export-{batch}", daemon=True)

    def start(self) -> None:
        """Start writing the export in its thread."""
        self._thread.start()

    def next_block(self, timeout: float = _POLL_SECONDS) -> bytes | None:
        """The next block; b"" when none came within `timeout`; None once the export is whole.

        Raises ExportAborted when the export failed.
        """
        try:
            item = self._blocks.get(timeout=timeout)
        except queue.Empty:
            return b""
        if isinstance(item, BaseException):
            message = str(item) if isinstance(item, GleifDataError) else "the export failed"
            raise ExportAborted(message) from item
        return item

    def close(self, wait: float = 10.0) -> bool:
        """Stop the export, cancelling its query; whether its thread ended within `wait` s."""
        deadline = time.monotonic() + wait
        while True:
            # Again on each round: a cancel request that reached the server just before
            # the statement did finds nothing to cancel.
            self._cancellation.cancel()
            if not self._thread.is_alive():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._thread.join(min(_POLL_SECONDS, remaining))

    def _produce(self) -> None:
        writer = _QueueWriter(self._put)
        try:
            write_export(
                self._engine,
                self._batch,
                out=writer,  # type: ignore[arg-type]
                options=self._options,
                cancellation=self._cancellation,
                workers=self._workers,
            )
            writer.flush()
            self._put(None)
        except BaseException as exc:  # handed over to the reader, which aborts its transfer
            if not self._cancellation.is_set():
                self._put_quietly(exc)

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._cancellation.is_set():
            try:
                self._blocks.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _put_quietly(self, item: BaseException) -> None:
        with contextlib.suppress(_Stopped):
            self._put(item)


class _Stopped(Exception):
    """The reader closed the stream: the writing thread unwinds."""


class _QueueWriter:
    """A write-only binary file that hands blocks of about 256 KiB on."""

    _BLOCK = 256 * 1024

    def __init__(self, put: Callable[[bytes], None]) -> None:
        self._put = put
        self._buffer = bytearray()
        self._position = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        self._buffer += data
        self._position += size
        if len(self._buffer) >= self._BLOCK:
            self.flush()
        return size

    def flush(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
