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
    return exists(
        select(1)
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
    rejected = func.sum(case((candidate_rejected(d, c), 1), else_=0))
    return (
        select(
            case(
                (func.coalesce(rejected, 0) == 0, literal(QaStatus.UNDECIDED.value)),
                (rejected == func.count(), literal(QaStatus.REJECTED.value)),
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
    decided = exists(select(1).where(_log_of(entry, d)).correlate_except(entry))
    return case(
        (~decided, literal(QaStatus.UNDECIDED.value)),
        (exists(accepted_entry(d)), literal(QaStatus.ACCEPTED.value)),
        (_settling_action(d) == Action.NO_MATCH.value, literal(QaStatus.NO_MATCH.value)),
        else_=_verdict_status(d),
    )


def status_counts(batch: str) -> Select[Any]:
    """Domains of the batch with decisions, by QA state: (status, count) rows.

    The set-based form of `status_expression`: the batch's decisions are read once, their
    newest entries found with window functions, and joined to the batch's domains and those
    domains' candidates. Domains without any decision are not among the rows (undecided).
    """
    q = QaDecision.__table__
    by_domain = {"partition_by": q.c.domain}
    by_lei = {"partition_by": (q.c.domain, q.c.lei_code)}
    named = q.c.lei_code.is_not(None)
    log = (
        select(
            q.c.id,
            q.c.domain,
            q.c.action,
            q.c.lei_code,
            func.max(case((q.c.action == Action.RESET.value, q.c.id)))
            .over(**by_domain)
            .label("last_reset"),
            func.max(case((q.c.action.in_(SETTLING), q.c.id)))
            .over(**by_domain)
            .label("settling_id"),
            func.max(case((and_(q.c.action.in_(TAKING_BACK), named), q.c.id)))
            .over(**by_lei)
            .label("taken_back_id"),
            func.max(
                case(
                    (
                        and_(q.c.action.in_((Action.ACCEPT.value, Action.REJECT.value)), named),
                        q.c.id,
                    )
                )
            )
            .over(**by_lei)
            .label("verdict_id"),
        )
        .where(q.c.batch_id == batch)
        .cte("batch_log")
    )
    settles = log.c.id == log.c.settling_id
    accepted = and_(
        settles,
        log.c.action == Action.ACCEPT.value,
        func.coalesce(log.c.taken_back_id, 0) < log.c.id,
    )
    domains = (
        select(
            log.c.domain,
            func.max(case((accepted, 1), else_=0)).label("accepted"),
            func.max(
                case((and_(settles, log.c.action == Action.NO_MATCH.value), 1), else_=0)
            ).label("no_match"),
        )
        .group_by(log.c.domain)
        .subquery("decided_domains")
    )
    rejections = (
        select(log.c.domain, log.c.lei_code)
        .where(
            log.c.action == Action.REJECT.value,
            log.c.id == log.c.verdict_id,
            log.c.id > func.coalesce(log.c.last_reset, 0),
        )
        .subquery("rejections")
    )
    d = Domain.__table__.alias("d")
    c = GleifCandidate.__table__.alias("c")
    per_domain = (
        select(
            d.c.id,
            func.max(domains.c.accepted).label("accepted"),
            func.max(domains.c.no_match).label("no_match"),
            func.count(c.c.id).label("candidates"),
            func.count(rejections.c.lei_code).label("rejected"),
        )
        .select_from(
            d.join(domains, domains.c.domain == d.c.domain)
            .outerjoin(c, c.c.domain_id == d.c.id)
            .outerjoin(
                rejections,
                and_(rejections.c.domain == d.c.domain, rejections.c.lei_code == c.c.lei_code),
            )
        )
        .where(d.c.batch_id == batch)
        .group_by(d.c.id)
        .subquery("decided_rows")
    )
    status = case(
        (per_domain.c.accepted == 1, literal(QaStatus.ACCEPTED.value)),
        (per_domain.c.no_match == 1, literal(QaStatus.NO_MATCH.value)),
        (per_domain.c.rejected == 0, literal(QaStatus.UNDECIDED.value)),
        (per_domain.c.rejected == per_domain.c.candidates, literal(QaStatus.REJECTED.value)),
        else_=literal(QaStatus.IN_REVIEW.value),
    )
    return select(status, func.count()).group_by(status)
