"""Stored batch summaries: counts kept beside the data, valid while the data generation holds.

Counting a million-domain batch takes seconds; reading a stored row takes milliseconds. A
summary is stored with the data generation it was counted at, and triggers raise that
generation on every write to the batch or reference tables (migration 0004), so a summary
whose generation is the current one is up to date, whoever wrote the tables since.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from gleif_data.models import BatchSummary, DataGeneration

Counts = dict[str, Any]


def current_generation(connection: Connection, *, lock: bool = False) -> int:
    """The data generation now; with `lock`, held until the transaction ends."""
    query = select(DataGeneration.generation).where(DataGeneration.id == 1)
    return connection.execute(query.with_for_update() if lock else query).scalar_one()


def stored_counts(connection: Connection, batch: str, generation: int) -> Counts | None:
    """The batch's stored counts if they were counted at `generation`, else None."""
    query = select(BatchSummary.counts).where(
        BatchSummary.batch_id == batch, BatchSummary.generation == generation
    )
    return connection.execute(query).scalar_one_or_none()


def store_counts(engine: Engine, batch: str, generation: int, counts: Counts) -> bool:
    """Store counts made at `generation` unless newer ones are there; False when not allowed.

    A read-only database role cannot store: the counts are then only shown, not kept.
    """
    dialect_insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
    row = {
        "batch_id": batch,
        "generation": generation,
        "counts": counts,
        "counted_at": datetime.now(UTC),
    }
    statement = dialect_insert(BatchSummary).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=["batch_id"],
        set_={name: statement.excluded[name] for name in row if name != "batch_id"},
        where=BatchSummary.generation <= statement.excluded.generation,
    )
    try:
        with engine.begin() as connection:
            connection.execute(statement)
    except DBAPIError as exc:
        if _denied(exc):
            return False
        raise
    return True


def keep_others_current(connection: Connection, batch: str, generation_before: int) -> None:
    """In a transaction that wrote only `batch`: the other batches' summaries stay valid.

    Their counts read nothing of `batch` (a shared LEI is shared within a batch), so a summary
    current before this transaction is current after it. Needs the generation locked at the
    start (`current_generation(lock=True)`), so that no other writer came in between.
    """
    now = select(DataGeneration.generation).where(DataGeneration.id == 1).scalar_subquery()
    connection.execute(
        update(BatchSummary)
        .where(BatchSummary.batch_id != batch, BatchSummary.generation == generation_before)
        .values(generation=now)
    )


def _denied(exc: DBAPIError) -> bool:
    """Whether the database refused the write for want of rights (or a read-only file)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "42501" or "readonly database" in str(exc.orig)
