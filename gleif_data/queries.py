"""Read-only questions the CLI and the dashboard ask: batches, counts, previews."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, func, select

from gleif_data.errors import GleifDataError
from gleif_data.models import BatchGeneration, DataGeneration, Domain, GleifCandidate, QaDecision


class UnknownBatchError(GleifDataError):
    """No domain carries the batch name asked for."""


@dataclass(frozen=True)
class BatchSize:
    """A batch with its domain count: what the batch picker shows."""

    batch: str
    domains: int


@dataclass(frozen=True)
class BatchSummary(BatchSize):
    """A batch with its domain and candidate counts."""

    candidates: int


def list_batch_sizes(connection: Connection) -> list[BatchSize]:
    """Every batch with its domain count, by name; reads no candidates, so it stays quick."""
    sizes = _batch_sizes().subquery("sizes")
    rows = connection.execute(select(sizes).order_by(sizes.c.batch_id))
    return [BatchSize(b, int(n)) for b, n in rows]


def list_batches(connection: Connection) -> list[BatchSummary]:
    """Every batch with its domain and candidate counts, by name."""
    c = GleifCandidate.__table__.alias("c")
    d = Domain.__table__.alias("d")
    sizes = _batch_sizes().subquery("sizes")
    # Counted per batch straight from the join: no per-domain grouping of every candidate.
    candidates = (
        select(d.c.batch_id, func.count().label("candidates"))
        .select_from(c.join(d, d.c.id == c.c.domain_id))
        .group_by(d.c.batch_id)
        .subquery("candidates")
    )
    query = (
        select(sizes.c.batch_id, sizes.c.domains, func.coalesce(candidates.c.candidates, 0))
        .outerjoin(candidates, candidates.c.batch_id == sizes.c.batch_id)
        .order_by(sizes.c.batch_id)
    )
    rows = connection.execute(query)
    return [BatchSummary(b, int(n), int(k)) for b, n, k in rows]


def _batch_sizes() -> Select[Any]:
    return (
        select(Domain.batch_id, func.count().label("domains"))
        .where(Domain.batch_id.is_not(None))
        .group_by(Domain.batch_id)
    )


def batch_exists(connection: Connection, batch: str) -> bool:
    """Whether any domain belongs to the batch."""
    query = select(Domain.id).where(Domain.batch_id == batch).limit(1)
    return connection.execute(query).first() is not None


def require_batch(connection: Connection, batch: str) -> None:
    """Raise UnknownBatchError, naming the batches there are, unless the batch exists."""
    if batch_exists(connection, batch):
        return
    names = [size.batch for size in list_batch_sizes(connection)]
    known = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "") if names else "none yet"
    raise UnknownBatchError(f"no batch named {batch!r} (batches: {known})")


class DataVersion(NamedTuple):
    """A cheap key for cached summaries: it changes whenever what they count changes."""

    generation: int  # the reference generation plus every batch's: raised by every write
    decisions: int | None  # the newest decision's id


def data_version(connection: Connection) -> DataVersion:
    """The generations (one small row per batch) and the newest decision, in one query."""
    query = select(
        select(DataGeneration.generation).where(DataGeneration.id == 1).scalar_subquery()
        + select(func.coalesce(func.sum(BatchGeneration.generation), 0)).scalar_subquery(),
        select(func.max(QaDecision.id)).scalar_subquery(),
    )
    generation, decisions = connection.execute(query).one()
    return DataVersion(int(generation), decisions)


def ping(connection: Connection) -> None:
    """Raise unless the database answers."""
    connection.execute(select(1))
