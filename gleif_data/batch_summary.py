"""Stored batch summaries: counts kept beside the data, valid while their generations hold.

Counting a million-domain batch takes seconds; reading a stored row takes milliseconds. A
summary is stamped with the batch's generation and the reference generation it was counted
at. Triggers raise the first on every write to the batch's domains or candidates and the
second on every write to the reference data (migration 0004), so a summary whose stamp is
the current one is up to date, whoever wrote the tables since.

Where the database cannot store them (a read-only role, a hot standby) the counts are kept
in this process instead, under the same stamp; so they are when reads go to a read replica
that has not replayed the stored row yet.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection, Engine

from gleif_data.db import reads_replica
from gleif_data.errors import PermissionDenied, ReadOnlyDatabase
from gleif_data.models import BatchGeneration, BatchSummary, DataGeneration
from gleif_data.replica import is_read_only
from gleif_data.sql_dialects import upsert
from gleif_data.transactions import savepoint

Counts = dict[str, Any]


class Stamp(NamedTuple):
    """The generations that a batch's counts depend on."""

    batch: int
    reference: int


# Counts this process keeps (see keep_counts), per connection pool (so per engine, with the
# OptionEngines made from it) and batch; a few KB each, the least recently kept dropped first.
IN_MEMORY_BATCHES = 256
_in_memory: weakref.WeakKeyDictionary[Any, OrderedDict[str, tuple[Stamp, Counts]]] = (
    weakref.WeakKeyDictionary()
)
_in_memory_lock = threading.Lock()


def current_stamp(connection: Connection, batch: str) -> Stamp:
    """The batch's generation (0 before its first write) and the reference generation now."""
    batch_generation = (
        select(BatchGeneration.generation)
        .where(BatchGeneration.batch_id == batch)
        .scalar_subquery()
    )
    reference = select(DataGeneration.generation).where(DataGeneration.id == 1).scalar_subquery()
    row = connection.execute(select(func.coalesce(batch_generation, 0), reference)).one()
    return Stamp(*row)


def stored_counts(connection: Connection, batch: str, stamp: Stamp) -> Counts | None:
    """The batch's counts made at `stamp`, stored or kept in this process; else None."""
    query = select(BatchSummary.counts).where(
        BatchSummary.batch_id == batch,
        BatchSummary.batch_generation == stamp.batch,
        BatchSummary.reference_generation == stamp.reference,
    )
    stored = connection.execute(query).scalar_one_or_none()
    if stored is not None:
        return stored
    with _in_memory_lock:
        kept = _in_memory.get(connection.engine.pool, {}).get(batch)
    return kept[1] if kept is not None and kept[0] == stamp else None


def keep_counts(
    connection: Connection, reader: Engine, batch: str, stamp: Stamp, counts: Counts
) -> None:
    """Store counts made at `stamp` through `connection`; keep them here if `reader` misses them.

    `connection` writes to the primary (transactions.write_transaction). Reads through
    `reader` do not find the counts stored when the database refused them (read-only) or when
    `reader` reads a replica, which replays the stored row a moment later.
    """
    stored = store_counts(connection, batch, stamp, counts)
    if stored and not reads_replica(reader):
        return
    with _in_memory_lock:
        kept = _in_memory.setdefault(reader.pool, OrderedDict())
        kept[batch] = (stamp, counts)
        kept.move_to_end(batch)
        while len(kept) > IN_MEMORY_BATCHES:
            kept.popitem(last=False)


def store_counts(connection: Connection, batch: str, stamp: Stamp, counts: Counts) -> bool:
    """Store counts made at `stamp` unless newer ones are there; False when not allowed.

    A read-only role or a read-only database (a hot standby, default_transaction_read_only)
    cannot store: the counts are then only kept in this process (keep_counts), not stored.
    The write is a savepoint of the caller's transaction, which a refusal leaves usable.
    """
    row = {
        "batch_id": batch,
        "batch_generation": stamp.batch,
        "reference_generation": stamp.reference,
        "counts": counts,
        "counted_at": datetime.now(UTC),
    }
    statement = upsert(
        connection.dialect,
        BatchSummary.__table__,
        row,
        key="batch_id",
        only_if=lambda excluded: and_(
            BatchSummary.batch_generation <= excluded.batch_generation,
            BatchSummary.reference_generation <= excluded.reference_generation,
        ),
    )
    # Asked first, so that a read-only database logs no refused INSERT.
    if is_read_only(connection):
        return False
    try:
        with savepoint(connection):
            connection.execute(statement)
    except (PermissionDenied, ReadOnlyDatabase):
        return False
    return True
