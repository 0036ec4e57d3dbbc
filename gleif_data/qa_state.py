"""A domain's QA state in SQL: its latest decision, so filters and exports can use it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Subquery, case, func, literal, select

from gleif_data.models import QaDecision


class Action(StrEnum):
    """What an analyst can decide."""

    ACCEPT = "accept"
    REJECT = "reject"
    NO_MATCH = "no_match"
    RESET = "reset"


class QaStatus(StrEnum):
    """A domain's QA state: its latest decision."""

    UNDECIDED = "undecided"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_MATCH = "no match"


STATUS_OF = {
    Action.ACCEPT: QaStatus.ACCEPTED,
    Action.REJECT: QaStatus.REJECTED,
    Action.NO_MATCH: QaStatus.NO_MATCH,
}


def latest_decision(d: Any) -> Any:
    """A correlated query for domain `d`'s latest decision (limit 1, newest first)."""
    return (
        select(QaDecision.action, QaDecision.lei_code, QaDecision.legal_name)
        .where(QaDecision.batch_id == d.c.batch_id, QaDecision.domain == d.c.domain)
        .order_by(QaDecision.id.desc())
        .limit(1)
    )


def latest_actions(batch: str) -> Subquery:
    """Each domain name with decisions in the batch, and its latest action.

    The set-based form of `latest_decision`: the batch's decisions are read once, newest
    first per domain, instead of one lookup per domain.
    """
    newest_first = (
        func.row_number()
        .over(partition_by=QaDecision.domain, order_by=QaDecision.id.desc())
        .label("newest_first")
    )
    ranked = (
        select(QaDecision.domain, QaDecision.action, newest_first)
        .where(QaDecision.batch_id == batch)
        .subquery("ranked_decisions")
    )
    return (
        select(ranked.c.domain, ranked.c.action)
        .where(ranked.c.newest_first == 1)
        .subquery("latest_actions")
    )


def status_of(action: ColumnElement[str | None]) -> ColumnElement[str]:
    """The QA state a latest action puts a domain in (none, or a reset: undecided)."""
    return case(
        {act.value: literal(status.value) for act, status in STATUS_OF.items()},
        value=action,
        else_=literal(QaStatus.UNDECIDED.value),
    )


def status_expression(d: Any) -> ColumnElement[str]:
    """Domain `d`'s QA state as text, in SQL."""
    return status_of(latest_decision(d).with_only_columns(QaDecision.action).scalar_subquery())


def accepted_expression(d: Any, column: Any) -> ColumnElement[str | None]:
    """The accepted candidate's LEI or legal name for domain `d`, or NULL."""
    latest = latest_decision(d)
    action = latest.with_only_columns(QaDecision.action).scalar_subquery()
    value = latest.with_only_columns(column).scalar_subquery()
    return case((action == Action.ACCEPT.value, value), else_=None)


def candidate_decision_expression(d: Any, c: Any) -> ColumnElement[str]:
    """'accepted', 'rejected' or '' for candidate `c` of domain `d`.

    Accepted: the domain's current decision accepts it. Rejected: it was rejected since the
    domain's last reset (and is not the accepted one).
    """
    accepted_lei = accepted_expression(d, QaDecision.lei_code)
    reset = QaDecision.__table__.alias("last_reset")
    reject = QaDecision.__table__.alias("reject")
    last_reset = (
        select(func.coalesce(func.max(reset.c.id), 0))
        .where(
            reset.c.batch_id == d.c.batch_id,
            reset.c.domain == d.c.domain,
            reset.c.action == Action.RESET.value,
        )
        .correlate_except(reset)
        .scalar_subquery()
    )
    rejected = (
        select(func.count())
        .where(
            reject.c.batch_id == d.c.batch_id,
            reject.c.domain == d.c.domain,
            reject.c.action == Action.REJECT.value,
            reject.c.lei_code == c.c.lei_code,
            reject.c.id > last_reset,
        )
        .correlate_except(reject)
        .scalar_subquery()
    )
    return case(
        (accepted_lei == c.c.lei_code, literal("accepted")),
        (rejected > 0, literal("rejected")),
        else_=literal(""),
    )
