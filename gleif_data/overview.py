"""A batch at a glance: how the matching went, in a few numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.engine import Connection

from gleif_data.batch_summary import Counts, Stamp, current_stamp, keep_counts, stored_counts
from gleif_data.filters import DomainFilter
from gleif_data.flags import Flag, flag_counts
from gleif_data.models import Domain, GleifCandidate, LeiRecord
from gleif_data.qa_state import QaStatus, status_counts
from gleif_data.transactions import after_snapshot

NOT_IN_REFERENCE = "not in reference data"
# Buckets of the candidates-per-domain chart, by their lower bound.
BUCKETS = ("0", "1", "2", "3", "4", "5-9", "10+")


@dataclass(frozen=True)
class BatchOverview:
    """The numbers of the Overview page."""

    domains: int
    with_candidates: int
    without_candidates: int
    ambiguous: int
    candidates: int
    max_candidates: int
    histogram: dict[str, int]
    registration_statuses: dict[str, int]

    @property
    def mean_candidates(self) -> float:
        """Candidates per domain."""
        return self.candidates / self.domains if self.domains else 0.0


@dataclass(frozen=True)
class _Current:
    """A batch's counts, the generations they are valid at, and whether they are new."""

    counts: Counts
    stamp: Stamp
    counted_now: bool


def batch_overview(connection: Connection, batch: str) -> BatchOverview:
    """Domains by their number of candidates, and candidates by registration status."""
    return overview_of(_counts(connection, batch).counts)


def overview_of(counts: Counts) -> BatchOverview:
    """The Overview numbers from a batch's counts (`count_batch`)."""
    histogram = {bucket: int(counts["histogram"].get(bucket, 0)) for bucket in BUCKETS}
    with_candidates = counts["domains"] - histogram["0"]
    statuses = counts["registration_statuses"]
    return BatchOverview(
        domains=counts["domains"],
        with_candidates=with_candidates,
        without_candidates=histogram["0"],
        ambiguous=with_candidates - histogram["1"],
        candidates=counts["candidates"],
        max_candidates=counts["max_candidates"],
        histogram=histogram,
        registration_statuses=dict(sorted(statuses.items(), key=lambda item: -item[1])),
    )


def count_batch(connection: Connection, batch: str) -> Counts:
    """Count everything the Overview shows but QA decisions: seconds at a million domains."""
    domains = connection.execute(domain_count_query(batch)).scalar_one()
    histogram = dict.fromkeys(BUCKETS, 0)
    candidates = largest = 0
    for name, count, total, most in connection.execute(histogram_query(batch)):
        histogram[str(name)] = int(count)
        candidates += int(total)
        largest = max(largest, int(most))
    histogram["0"] = domains - sum(histogram.values())
    statuses = connection.execute(registration_status_query(batch)).all()
    flags = connection.execute(flag_counts(batch)).one()._mapping
    return {
        "domains": domains,
        "candidates": candidates,
        "max_candidates": largest,
        "histogram": histogram,
        "registration_statuses": {status: int(count) for status, count in statuses},
        "flags": {flag.value: int(flags[flag.value]) for flag in Flag},
        # Ids of the domains with a rare flag (flags.RARE_FLAG_LIMIT), for the pages.
        "rare_flag_ids": {
            flag.value: sorted(int(i) for i in ids.split(","))
            for flag in Flag
            if (ids := flags[f"{flag.value}_ids"])
        },
    }


def refresh_counts(connection: Connection, batches: Iterable[str]) -> list[str]:
    """Count and store the batches whose stored counts are not current; return those counted.

    So that the Overview opens at once for them. In a read snapshot, they are stored when
    it ends (see transactions.after_snapshot).
    """
    return [batch for batch in batches if _counts(connection, batch).counted_now]


def _counts(connection: Connection, batch: str) -> _Current:
    """The batch's counts: stored when current, else counted now and stored."""
    current = _current_counts(connection, batch)
    _keep(connection, batch, current)
    return current


def _stored_current(connection: Connection, batch: str) -> Counts | None:
    """The batch's stored counts if they are current, without counting anything."""
    return stored_counts(connection, batch, current_stamp(connection, batch))


def _current_counts(connection: Connection, batch: str) -> _Current:
    """The batch's counts as of the connection's snapshot: stored when current, else counted."""
    stamp = current_stamp(connection, batch)
    stored = stored_counts(connection, batch, stamp)
    if stored is not None:
        return _Current(stored, stamp, counted_now=False)
    return _Current(count_batch(connection, batch), stamp, counted_now=True)


def _keep(connection: Connection, batch: str, current: _Current) -> None:
    """Keep counts just counted, for the next reader (after a read snapshot: it cannot write).

    They are stored on the primary; this process keeps them too when reads through the
    connection's engine cannot find them stored (a read-only database, a read replica).

    A batch with no domains is not kept, so that a mistyped name leaves no row behind.
    """
    if current.counted_now and current.counts["domains"]:
        reader = connection.engine
        after_snapshot(
            connection,
            lambda writer: keep_counts(writer, reader, batch, current.stamp, current.counts),
        )


def count_from_summary(connection: Connection, batch: str, filters: DomainFilter) -> int | None:
    """How many domains pass the filters, when the batch's counts answer that; else None.

    They answer no filter at all (from current stored counts only: a plain count is cheap)
    and one flag alone. Counting one flag reads the whole batch, as counting every flag
    does, so stale counts are counted again and stored: later flags are then instant.
    """
    if filters == DomainFilter():
        counts = _stored_current(connection, batch)
        return None if counts is None else int(counts["domains"])
    if len(filters.flags) != 1 or filters != DomainFilter(flags=filters.flags):
        return None
    [flag] = filters.flags
    return int(_counts(connection, batch).counts["flags"][flag.value])


def domains_with_flags(
    connection: Connection, batch: str, flags: Iterable[Flag]
) -> set[int] | None:
    """Ids of the batch's domains with all these flags, when current stored counts know them.

    They know when one of the flags is rare (flags.RARE_FLAG_LIMIT) or absent: then a page
    or count filtered on it reads those domains only instead of the whole batch. None when
    they do not know (no flag, a common flag, or counts that are not current).
    """
    flags = list(flags)
    if not flags:
        return None
    counts = _stored_current(connection, batch)
    if counts is None:
        return None
    rare = counts.get("rare_flag_ids", {})
    known = [
        set(rare.get(flag.value, []))
        for flag in flags
        if counts["flags"][flag.value] == 0 or flag.value in rare
    ]
    return set.intersection(*known) if known else None


def domain_count_query(batch: str) -> Select[tuple[int]]:
    """How many domains the batch has."""
    return select(func.count()).where(Domain.batch_id == batch)


def histogram_query(batch: str) -> Select[Any]:
    """Domains with candidates by bucket of BUCKETS: bucket, domains, candidates, most on one.

    One pass over the batch's candidates grouped by domain; the "0" bucket is not among the
    rows (it is the domain count minus the domains counted here).
    """
    c = GleifCandidate.__table__.alias("c")
    d = Domain.__table__.alias("d")
    per_domain = (
        select(func.count().label("n"))
        .join_from(c, d, d.c.id == c.c.domain_id)
        .where(d.c.batch_id == batch)
        .group_by(c.c.domain_id)
        .subquery("per_domain")
    )
    n = per_domain.c.n
    bucket = case(
        (n >= 10, literal("10+")),
        (n >= 5, literal("5-9")),
        else_=func.cast(n, GleifCandidate.lei_code.type),
    )
    return select(bucket, func.count(), func.sum(n), func.max(n)).group_by(bucket)


def registration_status_query(batch: str) -> Select[Any]:
    """The batch's candidates by their LEI's registration status (or NOT_IN_REFERENCE)."""
    c = GleifCandidate.__table__.alias("c")
    d = Domain.__table__.alias("d")
    r = LeiRecord.__table__.alias("r")
    status = func.coalesce(r.c.registration_status, NOT_IN_REFERENCE)
    return (
        select(status, func.count())
        .select_from(c.join(d, d.c.id == c.c.domain_id).outerjoin(r, r.c.lei == c.c.lei_code))
        .where(d.c.batch_id == batch)
        .group_by(status)
    )


def has_reference_data(connection: Connection) -> bool:
    """Whether any GLEIF reference record has been imported."""
    return connection.execute(select(LeiRecord.lei).limit(1)).first() is not None


@dataclass(frozen=True)
class QaOverview:
    """QA progress of a batch: domains by QA state and by flag."""

    domains: int
    by_status: dict[str, int]
    by_flag: dict[str, int]

    @property
    def decided(self) -> int:
        """Domains with a decision in force."""
        return self.domains - self.by_status.get(QaStatus.UNDECIDED.value, 0)


def qa_overview(connection: Connection, batch: str) -> QaOverview:
    """How far QA has come on a batch, and how many domains carry each flag."""
    current = _current_counts(connection, batch)
    decided = connection.execute(qa_status_query(batch)).all()
    _keep(connection, batch, current)
    counts = current.counts
    domains = int(counts["domains"])
    by_status = dict.fromkeys((s.value for s in QaStatus), 0)
    for status, count in decided:
        by_status[status] += int(count)
    by_status[QaStatus.UNDECIDED.value] += domains - sum(by_status.values())
    return QaOverview(
        domains=domains,
        by_status=by_status,
        by_flag={flag.value: int(counts["flags"][flag.value]) for flag in Flag},
    )


def qa_status_query(batch: str) -> Select[Any]:
    """Domains of the batch with decisions, by QA state (see qa_state.status_counts).

    Domains without any decision are not among the rows (they are undecided).
    """
    return status_counts(batch)
