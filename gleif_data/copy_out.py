"""`COPY ... TO STDOUT` read in large blocks, straight from libpq.

The server sends COPY's output one row per message, and psycopg's `Copy` hands each message
over through a generator and its wait loop: at a million rows that Python work per row cost
more than the query. Here one loop takes the rows libpq has buffered with a non-blocking call
each and joins them into blocks of `BLOCK_BYTES`; it only waits on the socket when libpq's
buffer is empty. The row count comes from COPY's own command tag at the end.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import psycopg
from psycopg import errors, pq

from gleif_data.cancellation import ExportCancelled

BLOCK_BYTES = 256 * 1024
_POLL_MS = 250  # how soon a waiting loop notices that the export was stopped
_STOPPED_GRACE_SECONDS = 5.0  # after a cancel, how long the server may take to end the COPY

CopyBlocks = Generator[bytearray, None, int]


def copy_statement(query_sql: str, *, header: bool) -> str:
    """`COPY (query) TO STDOUT` as CSV, with the NULL marker that keeps empty strings unquoted.

    The domain layout never produces NULL (every column is coalesced); naming a marker other
    than the empty string stops COPY from quoting empty strings, so the bytes match
    csv.writer's. The candidate layout's NULLs come out as the unquoted marker.
    """
    return (
        f"COPY ({query_sql}) TO STDOUT WITH "
        f"(FORMAT csv, HEADER {'true' if header else 'false'}, NULL '\\N')"
    )


def bind(driver: psycopg.Connection[Any], statement: str, params: Mapping[str, Any]) -> str:
    """The statement with its parameters merged in client-side, as psycopg's COPY does."""
    # COPY takes no server-side parameters; psycopg quotes each value as a literal.
    return psycopg.ClientCursor(driver).mogrify(statement, params)


def copy_blocks(
    driver: psycopg.Connection[Any],
    statement: str,
    stopped: Callable[[], bool] = lambda: False,
) -> CopyBlocks:
    """Run a `COPY ... TO STDOUT` statement; yield its output in blocks; return its row count.

    psycopg's BEGIN is not sent here: the statement runs in the connection's open
    transaction, if any, else as a transaction of its own.
    Closed early, the generator cancels the COPY and leaves the connection idle again.
    """
    pgconn = driver.pgconn
    encoding = driver.info.encoding
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    wait = _Waiter(pgconn, poller, stopped)
    pgconn.send_query(statement.encode(encoding))
    idle = False
    try:
        started = wait.result()
        if started is None or started.status != pq.ExecStatus.COPY_OUT:
            wait.drain()
            idle = True
            raise _error(pgconn, started, encoding)
        block = bytearray()
        get = pgconn.get_copy_data
        while True:
            size, data = get(1)
            if size > 0:
                block += data
                if len(block) >= BLOCK_BYTES:
                    yield block
                    block = bytearray()
            elif size == 0:
                wait()
            else:  # -1: the COPY ended; -2: it failed. Either way a result follows.
                break
        if block:
            yield block
        ended = wait.result()
        wait.drain()
        idle = True
        if ended is None or ended.status != pq.ExecStatus.COMMAND_OK:
            raise _error(pgconn, ended, encoding)
        return ended.command_tuples or 0
    finally:
        if not idle:
            _abandon(driver, wait)


class _Waiter:
    """Waits for libpq's socket; gives up once the export is stopped and the server is silent."""

    def __init__(self, pgconn: pq.abc.PGconn, poller: select.poll, stopped: Callable[[], bool]):
        self._pgconn = pgconn
        self._poller = poller
        self._stopped = stopped
        self._stopped_since: float | None = None

    def __call__(self) -> None:
        if not self._poller.poll(_POLL_MS) and self._stopped():
            now = time.monotonic()
            self._stopped_since = self._stopped_since or now
            if now - self._stopped_since > _STOPPED_GRACE_SECONDS:
                raise ExportCancelled("the export was cancelled")
        self._pgconn.consume_input()

    def give_up_after_grace(self) -> None:
        """From now on, as if the export was stopped: a silent server ends the wait."""
        self._stopped = lambda: True

    def result(self) -> pq.abc.PGresult | None:
        """The next result of the running statement, or None once there are no more."""
        while self._pgconn.is_busy():
            self()
        return self._pgconn.get_result()

    def drain(self) -> None:
        """Read the statement's remaining results, so that the connection is idle again."""
        while self.result() is not None:
            pass


def _error(pgconn: pq.abc.PGconn, result: pq.abc.PGresult | None, encoding: str) -> psycopg.Error:
    if result is not None and result.status == pq.ExecStatus.FATAL_ERROR:
        return errors.error_from_result(result, encoding=encoding)
    message = pgconn.get_error_message(encoding) or "COPY ended without its result"
    return psycopg.OperationalError(message)


def _abandon(driver: psycopg.Connection[Any], wait: _Waiter) -> None:
    """Stop a COPY left half-read: cancel it and read to its end, or give the connection up."""
    pgconn = driver.pgconn
    try:
        driver.cancel_safe(timeout=_STOPPED_GRACE_SECONDS)
        wait.give_up_after_grace()
        while (size := pgconn.get_copy_data(1)[0]) >= 0:
            if size == 0:
                wait()
        wait.drain()
    except Exception:  # the pool discards a closed connection when it comes back
        driver.close()
