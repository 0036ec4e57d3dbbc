"""A domain's QA state in SQL, replayed from its decisions about candidates.

The rule (decisions.domain_state is the same rule in plain Python): since the domain's last
`reset`, the newest `accept` or `no_match` settles the domain. An `accept` of LEI L stays in
force until a later `reject` or `withdraw` of L; a `no_match` marks the domain "no match".
A candidate is rejected when its newest `accept` or `reject` is a `reject`. A `reject` or
`withdraw` without an LEI names no candidate and changes nothing.

Per domain the expressions are correlated subqueries that the (batch_id, domain, id) index
answers, so a page of domains costs a few index probes per domain; `status_counts` is the
set-based form that reads a batch's decisions once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)

from gleif_data.models import Domain, GleifCandidate, QaDecision


class Action(StrEnum):
    """What an analyst can decide."""

    ACCEPT = "accept"
    REJECT = "reject"
    NO_MATCH = "no_match"
    RESET = "reset"
    WITHDRAW = "withdraw"

    @property
    def names_lei(self) -> bool:
        """Whether the action is about one LEI (accept, reject, withdraw)."""
        return self in (Action.ACCEPT, Action.REJECT, Action.WITHDRAW)


class QaStatus(StrEnum):
    """A domain's QA state."""

    UNDECIDED = "undecided"
    IN_REVIEW = "in review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_MATCH = "no match"


class CandidateState(StrEnum):
    """A candidate's own QA state; undecided is the empty text, as exports show it."""

    UNDECIDED = ""
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# The entries that settle a domain: the newest of them decides acceptance and "no match".
SETTLING = (Action.ACCEPT.value, Action.NO_MATCH.value, Action.RESET.value)
# The entries that take an acceptance of their LEI back.
TAKING_BACK = (Action.REJECT.value, Action.WITHDRAW.value)


def _found(query: Select[Any]) -> ColumnElement[bool]:
    """Whether a correlated query finds a row, probed row by row through the index.

    Not EXISTS: PostgreSQL may run an EXISTS once over every decision of every batch
    (a hashed subplan), which costs a page of 50 domains seconds; a LIMIT 1 scalar
    subquery it runs per row, as an index probe.
    """
    return query.limit(1).scalar_subquery().is_not(None)


def _log_of(entry: Any, d: Any) -> ColumnElement[bool]:
    """`entry` is a decision on domain row `d` (same batch, same name: the index's prefix)."""
    return and_(entry.c.batch_id == d.c.batch_id, entry.c.domain == d.c.domain)


def still_accepted(entry: Any) -> ColumnElement[bool]:
    """Accept entry `entry` is in force: no later entry settles the domain or takes it back."""
    later = QaDecision.__table__.alias("later")
    return ~exists(
        select(1)
        .where(
            _log_of(later, entry),
            later.c.id > entry.c.id,
            or_(
                later.c.action.in_(SETTLING),
                and_(later.c.action.in_(TAKING_BACK), later.c.lei_code == entry.c.lei_code),
            ),
        )
        .correlate_except(later)
    )


def accepted_entry(d: Any, column: str = "id") -> Select[Any]:
    """The `column` of domain row `d`'s acceptance in force, as a query of at most one row."""
    entry = QaDecision.__table__.alias("accepted_entry")
    return (
        select(entry.c[column])
        .where(_log_of(entry, d), entry.c.action == Action.ACCEPT.value, still_accepted(entry))
        .correlate_except(entry)
        .order_by(entry.c.id.desc())
        .limit(1)
    )


def accepted_lei_expression(d: Any) -> ColumnElement[str | None]:
    """The LEI accepted for domain row `d`, or NULL."""
    return accepted_entry(d, "lei_code").scalar_subquery()


def accepted_name_expression(d: Any) -> ColumnElement[str | None]:
    """The legal name recorded with the accepted LEI of domain row `d`, or NULL."""
    return accepted_entry(d, "legal_name").scalar_subquery()


def candidate_rejected(d: Any, c: Any) -> ColumnElement[bool]:
    """Candidate `c` of domain row `d` is rejected: its newest accept or reject is a reject."""
    rejection = QaDecision.__table__.alias("rejection")
    after = QaDecision.__table__.alias("after_rejection")
    undone = exists(
        select(1)
        .where(
            _log_of(after, d),
            after.c.id > rejection.c.id,
            or_(
                after.c.action == Action.RESET.value,
                and_(
                    after.c.action == Action.ACCEPT.value,
                    after.c.lei_code == rejection.c.lei_code,
                ),
            ),
        )
        .correlate_except(after)
    )
    return _found(
        select(rejection.c.id)
        .where(
            _log_of(rejection, d),
            rejection.c.action == Action.REJECT.value,
            rejection.c.lei_code == c.c.lei_code,
            ~undone,
        )
        .correlate_except(rejection, after)
    )


def candidate_state_expression(d: Any, c: Any) -> ColumnElement[str]:
    """'accepted', 'rejected' or '' for candidate `c` of domain row `d`."""
    return case(
        (accepted_lei_expression(d) == c.c.lei_code, literal(CandidateState.ACCEPTED.value)),
        (candidate_rejected(d, c), literal(CandidateState.REJECTED.value)),
        else_=literal(CandidateState.UNDECIDED.value),
    )


def _settling_action(d: Any) -> ColumnElement[str | None]:
    """The domain's newest accept, no_match or reset, or NULL."""
    entry = QaDecision.__table__.alias("settling")
    return (
        select(entry.c.action)
        .where(_log_of(entry, d), entry.c.action.in_(SETTLING))
        .correlate_except(entry)
        .order_by(entry.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _verdict_status(d: Any) -> ColumnElement[str]:
    """Rejected, in review or undecided, from the rejections of domain row `d`'s candidates."""
    c = GleifCandidate.__table__.alias("judged")
    # The share of rejected candidates, named once: the probe then runs once per candidate.
    share = func.coalesce(func.avg(case((candidate_rejected(d, c), 1), else_=0)), 0)
    return (
        select(
            case(
                {0: literal(QaStatus.UNDECIDED.value), 1: literal(QaStatus.REJECTED.value)},
                value=share,
                else_=literal(QaStatus.IN_REVIEW.value),
            )
        )
        .where(c.c.domain_id == d.c.id)
        .correlate_except(c)
        .scalar_subquery()
    )


def status_expression(d: Any) -> ColumnElement[str]:
    """Domain row `d`'s QA state as text, in SQL.

    The arms run in order and only as far as needed: a domain without any decision, as most
    are, costs one index probe.
    """
    entry = QaDecision.__table__.alias("any_decision")
    decided = _found(select(entry.c.id).where(_log_of(entry, d)).correlate_except(entry))
    return case(
        (~decided, literal(QaStatus.UNDECIDED.value)),
        (_found(accepted_entry(d)), literal(QaStatus.ACCEPTED.value)),
        (_settling_action(d) == Action.NO_MATCH.value, literal(QaStatus.NO_MATCH.value)),
        else_=_verdict_status(d),
    )


def status_counts(batch: str) -> Select[Any]:
    """Domains of the batch with decisions, by QA state: (status, count) rows.

    The set-based form of `status_expression`, without any correlated subquery: the batch's
    decisions are read once and grouped by domain and LEI, the newest entries of each kind
    compared, and the result joined to the batch's domains and their candidates. Domains
    without any decision are not among the rows (they are undecided).
    """
    q = QaDecision.__table__
    named = q.c.lei_code.is_not(None)

    def newest(*condition: ColumnElement[bool]) -> ColumnElement[int | None]:
        return func.max(case((and_(*condition), q.c.id)))

    def newest_of_domain(*condition: ColumnElement[bool]) -> ColumnElement[int | None]:
        return func.max(newest(*condition)).over(partition_by=q.c.domain)

    pairs = (
        select(
            q.c.domain,
            q.c.lei_code,
            newest(q.c.action == Action.ACCEPT.value).label("accept_id"),
            newest(q.c.action == Action.REJECT.value, named).label("reject_id"),
            newest(q.c.action.in_(TAKING_BACK), named).label("taken_back_id"),
            newest(q.c.action == Action.NO_MATCH.value).label("no_match_id"),
            newest_of_domain(q.c.action == Action.RESET.value).label("reset_id"),
            newest_of_domain(q.c.action.in_(SETTLING)).label("settling_id"),
        )
        .where(q.c.batch_id == batch)
        .group_by(q.c.domain, q.c.lei_code)
        .subquery("decided_pairs")
    )
    accepted = and_(
        pairs.c.accept_id == pairs.c.settling_id,
        func.coalesce(pairs.c.taken_back_id, 0) < pairs.c.accept_id,
    )
    rejected = and_(
        pairs.c.reject_id > func.coalesce(pairs.c.accept_id, 0),
        pairs.c.reject_id > func.coalesce(pairs.c.reset_id, 0),
    )
    d = Domain.__table__.alias("d")
    c = GleifCandidate.__table__.alias("c")
    # One row per pair and candidate of a domain: few of each, and no second read of the log.
    per_domain = (
        select(
            func.max(case((accepted, 1), else_=0)).label("accepted"),
            func.max(case((pairs.c.no_match_id == pairs.c.settling_id, 1), else_=0)).label(
                "no_match"
            ),
            func.count(c.c.id.distinct()).label("candidates"),
            func.count(
                case((and_(rejected, c.c.lei_code == pairs.c.lei_code), c.c.id)).distinct()
            ).label("rejected"),
        )
        .select_from(
            pairs.join(d, and_(d.c.domain == pairs.c.domain, d.c.batch_id == batch)).outerjoin(
                c, c.c.domain_id == d.c.id
            )
        )
        .group_by(d.c.id)
        .subquery("decided_domains")
    )
    status = case(
        (per_domain.c.accepted == 1, literal(QaStatus.ACCEPTED.value)),
        (per_domain.c.no_match == 1, literal(QaStatus.NO_MATCH.value)),
        (per_domain.c.rejected == 0, literal(QaStatus.UNDECIDED.value)),
        (per_domain.c.rejected == per_domain.c.candidates, literal(QaStatus.REJECTED.value)),
        else_=literal(QaStatus.IN_REVIEW.value),
    )
    return select(status, func.count()).group_by(status)
