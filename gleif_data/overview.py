"""A batch at a glance: how the matching went, in a few numbers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, case, func, literal, select

from gleif_data.flags import Flag, domain_condition
from gleif_data.models import Domain, GleifCandidate, LeiRecord
from gleif_data.qa_state import QaStatus, status_expression

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


def batch_overview(engine: Engine, batch: str) -> BatchOverview:
    """Count domains by their number of candidates, and candidates by registration status."""
    per_domain = (
        select(Domain.id, func.count(GleifCandidate.id).label("n"))
        .outerjoin(GleifCandidate, GleifCandidate.domain_id == Domain.id)
        .where(Domain.batch_id == batch)
        .group_by(Domain.id)
        .subquery()
    )
    n = per_domain.c.n
    bucket = case(
        (n >= 10, literal("10+")),
        (n >= 5, literal("5-9")),
        else_=func.cast(n, GleifCandidate.lei_code.type),
    )
    histogram_query = select(bucket, func.count(), func.sum(n), func.max(n)).group_by(bucket)
    status = func.coalesce(LeiRecord.registration_status, NOT_IN_REFERENCE)
    status_query = (
        select(status, func.count())
        .select_from(GleifCandidate)
        .join(Domain, Domain.id == GleifCandidate.domain_id)
        .outerjoin(LeiRecord, LeiRecord.lei == GleifCandidate.lei_code)
        .where(Domain.batch_id == batch)
        .group_by(status)
    )
    with engine.connect() as connection:
        histogram = {name: 0 for name in BUCKETS}
        candidates = largest = 0
        for name, domains, total, most in connection.execute(histogram_query):
            histogram[str(name)] = domains
            candidates += int(total or 0)
            largest = max(largest, int(most or 0))
        statuses = dict(connection.execute(status_query).all())
    domains = sum(histogram.values())
    return BatchOverview(
        domains=domains,
        with_candidates=domains - histogram["0"],
        without_candidates=histogram["0"],
        ambiguous=domains - histogram["0"] - histogram["1"],
        candidates=candidates,
        max_candidates=largest,
        histogram=histogram,
        registration_statuses=dict(sorted(statuses.items(), key=lambda item: -item[1])),
    )


def has_reference_data(engine: Engine) -> bool:
    """Whether any GLEIF reference record has been imported."""
    with engine.connect() as connection:
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


def qa_overview(engine: Engine, batch: str) -> QaOverview:
    """How far QA has come on a batch, and how many domains carry each flag."""
    d = Domain.__table__.alias("d")
    status = status_expression(d)
    status_query = (
        select(status, func.count()).select_from(d).where(d.c.batch_id == batch).group_by(status)
    )
    with engine.connect() as connection:
        by_status = {str(name): int(count) for name, count in connection.execute(status_query)}
        # One query per flag: PostgreSQL plans each EXISTS well alone, poorly all in one.
        by_flag = {
            flag.value: connection.execute(
                select(func.count())
                .select_from(d)
                .where(d.c.batch_id == batch, domain_condition(flag, d))
            ).scalar_one()
            for flag in Flag
        }
    return QaOverview(
        domains=sum(by_status.values()),
        by_status={s.value: by_status.get(s.value, 0) for s in QaStatus},
        by_flag=by_flag,
    )
