"""The PostgreSQL CSV export in parallel: contiguous domain-id ranges, one connection each.

As `pg_dump -j` does, the first connection begins a read-only REPEATABLE READ transaction and
exports its snapshot (`pg_export_snapshot()`); every other connection imports it (`SET
TRANSACTION SNAPSHOT`) before it reads, so every range sees the batch as it was at one moment,
whatever another session commits meanwhile. The first transaction stays open until every
connection that imports the snapshot has done so.

Connections claim the ranges in order, and the calling thread writes them out in order. A
range that is ready before its turn waits in memory, up to `MEMORY_BUDGET` bytes for the whole
export, beyond that in a temporary file; no connection claims a range more than two per
connection ahead of the one being written, so a slow reader bounds the disk used too.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, Select, func, select, text

from gleif_data.cancellation import Cancellation, ExportCancelled
from gleif_data.config import ConfigError
from gleif_data.copy_out import bind, copy_blocks, copy_statement
from gleif_data.db import id_range_params, statement_interrupter
from gleif_data.models import Domain

IdRange = tuple[int, int]  # domain ids from the first, up to but not including the second
WORKERS_VARIABLE = "GLEIF_EXPORT_WORKERS"
MAX_AUTOMATIC_WORKERS = 4
MAX_WORKERS = 32
# Each export takes at most this share of the connections the server has free.
CONNECTION_SHARE = 4
# A range of fewer domain ids is not worth a connection of its own.
MIN_RANGE_DOMAINS = 20_000
# Ranges per connection, so that one that finishes early takes another; and at most this many
# domain ids per range, so that a range waiting for its turn stays small.
RANGES_PER_WORKER = 4
MAX_RANGE_DOMAINS = 100_000
MEMORY_BUDGET = 16 * 1024 * 1024
_READ_BYTES = 1024 * 1024
_POLL_SECONDS = 0.25
_RELEASE_SECONDS = 15.0  # how long the end of an export waits for its connections to come back

logger = logging.getLogger(__name__)


def export_workers_setting(environ: Mapping[str, str] | None = None) -> int | None:
    """GLEIF_EXPORT_WORKERS: connections per PostgreSQL CSV export; None (unset) for automatic."""
    environ = os.environ if environ is None else environ
    raw = environ.get(WORKERS_VARIABLE, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_WORKERS:
        raise ConfigError(f"{WORKERS_VARIABLE} must be a whole number from 1 to {MAX_WORKERS}")
    return int(raw)


def automatic_workers(connection: Connection) -> int:
    """As many connections as the machine has cores, at most 4, and a share of those free."""
    free = connection.execute(
        text(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int - count(*)"
            " FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
    ).scalar_one()
    cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_AUTOMATIC_WORKERS, free // CONNECTION_SHARE))


def plan_ranges(
    low: int | None, high: int | None, workers: int, ranges: int | None = None
) -> list[IdRange | None]:
    """Contiguous ranges of domain ids from `low` to `high` (both included), in order.

    `[None]` means one part, the whole export. Without `ranges`, a small batch or a single
    worker is one part.
    """
    if low is None or high is None:
        return [None]
    span = high - low + 1
    if ranges is None:
        if workers <= 1 or span < 2 * MIN_RANGE_DOMAINS:
            return [None]
        ranges = max(RANGES_PER_WORKER * workers, math.ceil(span / MAX_RANGE_DOMAINS))
        ranges = min(ranges, span // MIN_RANGE_DOMAINS)
    ranges = max(1, min(ranges, span))
    if ranges == 1:
        return [None]
    edges = [low + span * n // ranges for n in range(ranges + 1)]
    return [(edges[n], edges[n + 1]) for n in range(ranges)]


def copy_csv_in_ranges(
    engine: Engine,
    batch: str,
    query_for: Callable[[IdRange | None], Select[Any]],
    out: BinaryIO,
    *,
    progress: Callable[[int], None],
    cancellation: Cancellation,
    workers: int | None = None,
    ranges: int | None = None,
) -> int:
    """Write the CSV of `query_for`'s rows, range by range, with COPY; return the rows written.

    `workers` connections (default: GLEIF_EXPORT_WORKERS, else `automatic_workers`) copy
    `ranges` ranges (default: `plan_ranges`); progress is reported once per range.
    """
    job = _Job(engine, batch, query_for, workers or export_workers_setting(), ranges)
    with cancellation.running(job.stop.cancel):
        return job.run(out, progress)


@dataclass(eq=False)
class _Part:
    """One range: its rows as they arrive, in memory first, then in a temporary file."""

    index: int
    id_range: IdRange | None
    blocks: collections.deque[bytes | bytearray] = field(default_factory=collections.deque)
    spill: IO[bytes] | None = None
    spilled: int = 0
    read: int = 0
    done: bool = False
    rows: int = 0

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
            self.spill = None


class _Job:
    """One parallel export: its connections' threads, and the parts they hand to the writer."""

    def __init__(
        self,
        engine: Engine,
        batch: str,
        query_for: Callable[[IdRange | None], Select[Any]],
        workers: int | None,
        ranges: int | None,
    ) -> None:
        self.stop = Cancellation()
        self._engine = engine
        self._batch = batch
        self._query_for = query_for
        self._workers = workers
        self._ranges = ranges
        # One condition guards every field below; every change is announced with notify_all.
        self._changed = threading.Condition()
        self._parts: list[_Part] | None = None
        self._snapshot: str | None = None
        self._snapshot_open = True
        self._importing = 0  # connections importing the snapshot right now
        self._running = 0  # threads of this export still running (each holds a connection)
        self._next = 0  # the next part to claim
        self._head = 0  # the part being written out
        self._memory = 0
        self._error: BaseException | None = None
        self._ranged: tuple[str, dict[str, Any]] | None = None

    def run(self, out: BinaryIO, progress: Callable[[int], None]) -> int:
        """Start the connections, write the parts in order, wait for the connections to end."""
        try:
            self._start(self._lead, "export-range-lead")
            parts = self._wait_for_plan()
            for n in range(1, min(self._workers or 1, len(parts))):
                self._start(self._help, f"export-range-{n}")
            return self._write(parts, out, progress)
        except BaseException:
            self.stop.cancel()
            raise
        finally:
            self._release()

    def _start(self, target: Callable[[], None], name: str) -> None:
        self._count_running(1)  # the thread counts itself out when it ends
        threading.Thread(target=target, name=name, daemon=True).start()

    def _wait_for_plan(self) -> list[_Part]:
        with self._changed:
            while self._parts is None:
                self._raise_if_failed()
                self._changed.wait(_POLL_SECONDS)
            return self._parts

    def _write(self, parts: list[_Part], out: BinaryIO, progress: Callable[[int], None]) -> int:
        rows = 0
        for part in parts:
            while (block := self._next_block(part)) is not None:
                out.write(block)
            rows += part.rows
            progress(part.rows)
            with self._changed:
                part.close()
                self._head += 1
                self._changed.notify_all()
        return rows

    def _next_block(self, part: _Part) -> bytes | bytearray | None:
        """The part's next block in order (memory first, then its file); None once it is whole."""
        with self._changed:
            while True:
                self._raise_if_failed()
                if part.blocks:
                    block = part.blocks.popleft()
                    self._memory -= len(block)
                    return block
                if part.read < part.spilled:
                    assert part.spill is not None
                    size = min(part.spilled - part.read, _READ_BYTES)
                    data = os.pread(part.spill.fileno(), size, part.read)
                    part.read += len(data)
                    return data
                if part.done:
                    return None
                self._changed.wait(_POLL_SECONDS)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if self.stop.is_set():
            raise ExportCancelled("the export was cancelled")

    def _release(self) -> None:
        """Wait (bounded) until every connection this export checked out is back in the pool."""
        deadline = time.monotonic() + _RELEASE_SECONDS
        with self._changed:
            self._snapshot_open = False
            self._changed.notify_all()
            while self._running and time.monotonic() < deadline:
                self._changed.wait(_POLL_SECONDS)
            if self._running:
                logger.warning("%d export connections did not come back in time", self._running)
            for part in self._parts or []:
                part.close()

    # The connections' threads.

    def _lead(self) -> None:
        """Begin the snapshot, plan the ranges, copy, and end once no helper still imports."""
        try:
            with self._engine.connect() as connection:
                _read_only(connection)
                workers = self._workers or automatic_workers(connection)
                low, high = connection.execute(
                    select(func.min(Domain.id), func.max(Domain.id)).where(
                        Domain.batch_id == self._batch
                    )
                ).one()
                id_ranges = plan_ranges(low, high, workers, self._ranges)
                snapshot = None
                if workers > 1 and len(id_ranges) > 1:
                    snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
                with self._changed:
                    self._workers = workers
                    self._snapshot = snapshot
                    self._parts = [_Part(n, r) for n, r in enumerate(id_ranges)]
                    self._changed.notify_all()
                self._copy_parts(connection)
                self._close_snapshot()
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._count_running(-1)

    def _help(self) -> None:
        """Import the lead's snapshot and copy ranges, unless there is nothing left to do."""
        importing = False
        try:
            with self._engine.connect() as connection:
                with self._changed:
                    if not self._may_import():
                        return
                    self._importing += 1
                    importing = True
                try:
                    _read_only(connection)
                    driver = connection.connection.driver_connection
                    statement = sql.SQL("SET TRANSACTION SNAPSHOT {}").format(
                        sql.Literal(self._snapshot)
                    )
                    driver.execute(statement)  # type: ignore[union-attr]
                finally:
                    with self._changed:
                        self._importing -= 1
                        self._changed.notify_all()
                self._copy_parts(connection)
        except Exception as exc:
            if importing:
                self._fail(exc)
            else:  # e.g. no connection left in the pool or the server: the others do its share
                logger.info("an export connection could not start: %s", exc)
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._count_running(-1)

    def _may_import(self) -> bool:
        assert self._parts is not None
        return (
            self._snapshot_open
            and self._snapshot is not None
            and self._next < len(self._parts)
            and not self.stop.is_set()
        )

    def _close_snapshot(self) -> None:
        """End the snapshot's life once no helper is importing it; later helpers stay out."""
        with self._changed:
            while self._importing and not self.stop.is_set():
                self._changed.wait(_POLL_SECONDS)
            self._snapshot_open = False
            self._changed.notify_all()

    def _copy_parts(self, connection: Connection) -> None:
        driver: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
        with self.stop.running(statement_interrupter(connection)):
            while (part := self._claim()) is not None:
                query, params = self._statement(connection, part)
                statement = bind(driver, copy_statement(query, header=part.index == 0), params)
                blocks = copy_blocks(driver, statement, self.stop.is_set)
                with closing(blocks):
                    while True:
                        try:
                            block = next(blocks)
                        except StopIteration as end:
                            rows = end.value
                            break
                        self._put(part, block)
                with self._changed:
                    part.rows = rows
                    part.done = True
                    self._changed.notify_all()

    def _statement(self, connection: Connection, part: _Part) -> tuple[str, dict[str, Any]]:
        """The part's SELECT and its parameters; compiled once, the ranges differ in values only."""
        if part.id_range is None:
            compiled = self._query_for(None).compile(
                dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
            )
            return str(compiled), dict(compiled.params)
        with self._changed:
            if self._ranged is None:
                compiled = self._query_for(part.id_range).compile(
                    dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
                )
                self._ranged = str(compiled), dict(compiled.params)
            query, params = self._ranged
        return query, {**params, **id_range_params(part.id_range)}

    def _claim(self) -> _Part | None:
        """The next range in order, once it is near enough to the one being written."""
        with self._changed:
            assert self._parts is not None
            assert self._workers is not None
            while True:
                if self.stop.is_set() or self._next >= len(self._parts):
                    return None
                if self._next < self._head + 2 * self._workers:
                    part = self._parts[self._next]
                    self._next += 1
                    return part
                self._changed.wait(_POLL_SECONDS)

    def _put(self, part: _Part, block: bytearray) -> None:
        """Hand a block to the writer: in memory within the budget, else in the part's file."""
        with self._changed:
            if self.stop.is_set():
                raise ExportCancelled("the export was cancelled")
            # Once a part has unread bytes in its file, its later blocks follow them there.
            if part.read == part.spilled and self._memory + len(block) <= MEMORY_BUDGET:
                part.blocks.append(block)
                self._memory += len(block)
            else:
                if part.spill is None:  # closed by the writer, or at the end (_release)
                    part.spill = tempfile.TemporaryFile(prefix="gleif-export-")  # noqa: SIM115
                os.pwrite(part.spill.fileno(), block, part.spilled)
                part.spilled += len(block)
            self._changed.notify_all()

    def _fail(self, exc: BaseException) -> None:
        with self._changed:
            # After a stop, the other connections' errors are its echo, not news.
            if self._error is None and not self.stop.is_set():
                self._error = exc
            self._changed.notify_all()
        self.stop.cancel()

    def _count_running(self, change: int) -> None:
        with self._changed:
            self._running += change
            self._changed.notify_all()


def _read_only(connection: Connection) -> None:
    """Begin a transaction that reads one snapshot and writes nothing.

    SET TRANSACTION rather than the postgresql_readonly option, which makes the connection
    READ WRITE explicitly when it goes back to the pool: refused on a hot standby, and
    against a read-only role's default (see transactions.read_snapshot).
    """
    connection.execution_options(isolation_level="REPEATABLE READ")
    connection.exec_driver_sql("SET TRANSACTION READ ONLY")
