"""The review queue: the filtered domains of a batch, one at a time, in import order.

By default the queue holds the domains that still need a human: not decided yet (or only
partly) and flagged; `ambiguous` (more than one candidate) is a flag, so is `no_candidate`.
The order is the domain id (import order), so "next" and "previous" are keyset steps and a
deep position costs what the first one does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, exists, false, func, or_, select

from gleif_data.filters import DomainFilter
from gleif_data.flags import candidate_conditions
from gleif_data.models import Domain, GleifCandidate, LeiRecord
from gleif_data.overview import domains_with_flags
from gleif_data.qa_state import QaStatus, status_expression

# The QA states of a domain that is still to review: nothing decided, or some candidates only.
PENDING_STATUSES = (QaStatus.UNDECIDED.value, QaStatus.IN_REVIEW.value)


@dataclass(frozen=True)
class ReviewQueue:
    """Which domains an analyst walks: the filtered batch, by default only those to review."""

    batch: str
    filters: DomainFilter = field(default_factory=DomainFilter)
    pending_only: bool = True


@dataclass(frozen=True)
class QueueDomain:
    """A domain of the queue."""

    domain_id: int
    domain: str


@dataclass(frozen=True)
class QueuePosition:
    """Where a domain stands: `position` counts the queue's domains up to it, itself included."""

    position: int
    total: int
    in_queue: bool


def needs_review(d: Any) -> ColumnElement[bool]:
    """Whether domain `d` is still to review: undecided or in review, and flagged."""
    return status_expression(d).in_(PENDING_STATUSES) & has_any_flag(d)


def has_any_flag(d: Any) -> ColumnElement[bool]:
    """flags.any_flag as one lookup of the domain's own candidates.

    any_flag is one EXISTS per flag, which PostgreSQL runs as "hashed subplans" that read
    every candidate of every batch once per query; walking the queue needs one domain's
    candidates at a time, through the index on domain_id.
    """
    c = GleifCandidate.__table__.alias("rq_c")
    r = LeiRecord.__table__.alias("rq_r")
    flagged = or_(*candidate_conditions(c, d, r).values())
    count = select(func.count()).where(c.c.domain_id == d.c.id).scalar_subquery()
    flagged_candidate = exists(
        select(1)
        .select_from(c.outerjoin(r, r.c.lei == c.c.lei_code))
        .where(c.c.domain_id == d.c.id, flagged)
        .correlate_except(c, r)
    )
    return (count != 1) | flagged_candidate


def next_domain(
    connection: Connection, queue: ReviewQueue, *, after: int | None = None
) -> QueueDomain | None:
    """The queue's first domain after domain id `after` (the very first without it), or None."""
    d = Domain.__table__.alias("d")
    conditions = _conditions(connection, queue, d)
    if after is not None:
        conditions.append(d.c.id > after)
    return _first(connection, select(d.c.id, d.c.domain).where(*conditions).order_by(d.c.id.asc()))


def previous_domain(
    connection: Connection, queue: ReviewQueue, *, before: int
) -> QueueDomain | None:
    """The queue's last domain before domain id `before`, or None."""
    d = Domain.__table__.alias("d")
    conditions = [*_conditions(connection, queue, d), d.c.id < before]
    return _first(connection, select(d.c.id, d.c.domain).where(*conditions).order_by(d.c.id.desc()))


def queue_position(connection: Connection, queue: ReviewQueue, domain_id: int) -> QueuePosition:
    """How many domains the queue holds, how many of them come up to `domain_id`, and whether
    it is one of them. Reads the whole filtered batch: run it within a time limit."""
    d = Domain.__table__.alias("d")
    query = select(
        func.count(),
        func.coalesce(func.sum(case((d.c.id <= domain_id, 1), else_=0)), 0),
        func.coalesce(func.sum(case((d.c.id == domain_id, 1), else_=0)), 0),
    ).where(*_conditions(connection, queue, d))
    total, position, here = connection.execute(query).one()
    return QueuePosition(position=int(position), total=int(total), in_queue=bool(here))


def _conditions(connection: Connection, queue: ReviewQueue, d: Any) -> list[ColumnElement[bool]]:
    """The SQL conditions on domain `d` of being in the queue."""
    filters = queue.filters
    where: list[ColumnElement[bool]] = [d.c.batch_id == queue.batch]
    # A rare flag's domains are stored with the batch's counts: read those alone.
    flagged = domains_with_flags(connection, queue.batch, filters.flags)
    if flagged is not None:
        where.append(d.c.id.in_(sorted(flagged)) if flagged else false())
    count = None
    if filters.uses_counts:
        count = select(func.count()).where(GleifCandidate.domain_id == d.c.id).scalar_subquery()
    where.extend(filters.conditions(d, count))
    if queue.pending_only:
        where.append(needs_review(d))
    return where


def _first(connection: Connection, query: Any) -> QueueDomain | None:
    row = connection.execute(query.limit(1)).first()
    return None if row is None else QueueDomain(domain_id=row.id, domain=row.domain)
