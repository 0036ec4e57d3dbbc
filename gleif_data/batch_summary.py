"""Stored batch summaries: counts kept beside the data, valid while their generations hold.

Counting a million-domain batch takes seconds; reading a stored row takes milliseconds. A
summary is stamped with the batch's generation and the reference generation it was counted
at. Triggers raise the first on every write to the batch's domains or candidates and the
second on every write to the reference data (migration 0004), so a summary whose stamp is
the current one is up to date, whoever wrote the tables since.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from gleif_data.errors import PermissionDenied, ReadOnlyDatabase
from gleif_data.models import BatchGeneration, BatchSummary, DataGeneration
from gleif_data.sql_dialects import upsert
from gleif_data.transactions import savepoint

Counts = dict[str, Any]


class Stamp(NamedTuple):
    """The generations that a batch's counts depend on."""

    batch: int
    reference: int


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
    """The batch's stored counts if they were counted at `stamp`, else None."""
    query = select(BatchSummary.counts).where(
        BatchSummary.batch_id == batch,
        BatchSummary.batch_generation == stamp.batch,
        BatchSummary.reference_generation == stamp.reference,
    )
    return connection.execute(query).scalar_one_or_none()


def store_counts(connection: Connection, batch: str, stamp: Stamp, counts: Counts) -> bool:
    """Store counts made at `stamp` unless newer ones are there; False when not allowed.

    A read-only database (or role) cannot store: the counts are then only shown, not kept.
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
    try:
        with savepoint(connection):
            connection.execute(statement)
    except (PermissionDenied, ReadOnlyDatabase):
        return False
    return True
