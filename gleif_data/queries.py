"""Read-only questions the CLI and the dashboard ask: batches, counts, previews."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from gleif_data.errors import GleifDataError
from gleif_data.models import Domain, GleifCandidate, LeiRecord, QaDecision


class UnknownBatchError(GleifDataError):
    """No domain carries the batch name asked for."""


@dataclass(frozen=True)
class BatchSummary:
    """A batch with its domain and candidate counts."""

    batch: str
    domains: int
    candidates: int


def list_batches(engine: Engine) -> list[BatchSummary]:
    """Every batch with its domain and candidate counts, by name."""
    candidates = (
        select(GleifCandidate.domain_id, func.count().label("n"))
        .group_by(GleifCandidate.domain_id)
        .subquery()
    )
    query = (
        select(
            Domain.batch_id,
            func.count(Domain.id),
            func.coalesce(func.sum(candidates.c.n), 0),
        )
        .outerjoin(candidates, candidates.c.domain_id == Domain.id)
        .where(Domain.batch_id.is_not(None))
        .group_by(Domain.batch_id)
        .order_by(Domain.batch_id)
    )
    with engine.connect() as connection:
        return [BatchSummary(b, int(d), int(c)) for b, d, c in connection.execute(query)]


def batch_exists(engine: Engine, batch: str) -> bool:
    """Whether any domain belongs to the batch."""
    query = select(Domain.id).where(Domain.batch_id == batch).limit(1)
    with engine.connect() as connection:
        return connection.execute(query).first() is not None


def require_batch(engine: Engine, batch: str) -> None:
    """Raise UnknownBatchError, naming the batches there are, unless the batch exists."""
    if batch_exists(engine, batch):
        return
    names = [summary.batch for summary in list_batches(engine)]
    known = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "") if names else "none yet"
    raise UnknownBatchError(f"no batch named {batch!r} (batches: {known})")


def data_version(engine: Engine) -> tuple[object, ...]:
    """Changes when an import adds or replaces rows, or a decision is made.

    A cheap key for cached summaries: each part is the maximum of an indexed column. (An
    upsert that only updates reference records leaves it alone; the cache's time limit
    catches those.)
    """
    query = select(
        select(func.max(Domain.id)).scalar_subquery(),
        select(func.max(GleifCandidate.id)).scalar_subquery(),
        select(func.max(LeiRecord.lei)).scalar_subquery(),
        select(func.max(QaDecision.id)).scalar_subquery(),
    )
    with engine.connect() as connection:
        return tuple(connection.execute(query).one())


def ping(engine: Engine) -> None:
    """Raise the driver's error unless the database answers."""
    with engine.connect() as connection:
        connection.execute(select(1))
