"""Analysts' QA decisions: an append-only log; a domain's state is its latest decision."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, func, insert, literal, select

from gleif_data.csv_input import open_csv
from gleif_data.db import write_transaction
from gleif_data.errors import GleifDataError, InputError
from gleif_data.filters import DomainFilter
from gleif_data.flags import any_flag
from gleif_data.models import Domain, GleifCandidate, QaDecision
from gleif_data.qa_state import STATUS_OF, Action, QaStatus, status_expression

# The log's columns after the id; the CSV export names batch_id "batch".
LOG_COLUMNS = (
    "batch_id",
    "domain",
    "action",
    "lei_code",
    "legal_name",
    "note",
    "decided_by",
    "decided_at",
)
DECISION_COLUMNS = ("batch", *LOG_COLUMNS[1:])


@dataclass(frozen=True)
class Decision:
    """One entry of the log."""

    id: int
    batch: str
    domain: str
    action: Action
    lei_code: str | None
    legal_name: str | None
    note: str | None
    decided_by: str
    decided_at: datetime


def record_decision(
    engine: Engine,
    *,
    batch: str,
    domain: str,
    action: Action,
    decided_by: str,
    lei_code: str | None = None,
    note: str | None = None,
) -> Decision:
    """Append a decision; accept and reject name one of the domain's candidates."""
    who = decided_by.strip()
    if not who:
        raise GleifDataError("a decision needs the name of who made it")
    if action in (Action.ACCEPT, Action.REJECT) and not lei_code:
        raise GleifDataError(f"to {action.value} a candidate, name its LEI")
    with write_transaction(engine) as connection:
        found = connection.execute(
            select(Domain.id).where(Domain.batch_id == batch, Domain.domain == domain).limit(1)
        ).first()
        if found is None:
            raise GleifDataError(f"the batch {batch!r} has no domain {domain!r}")
        legal_name = None
        if lei_code:
            candidate = connection.execute(
                select(GleifCandidate.legal_name)
                .where(GleifCandidate.domain_id == found.id, GleifCandidate.lei_code == lei_code)
                .limit(1)
            ).first()
            if candidate is None:
                raise GleifDataError(f"{lei_code} is not a candidate of {domain}")
            legal_name = candidate.legal_name
        row = connection.execute(
            insert(QaDecision)
            .values(
                batch_id=batch,
                domain=domain,
                action=action.value,
                lei_code=lei_code if action in (Action.ACCEPT, Action.REJECT) else None,
                legal_name=legal_name if action in (Action.ACCEPT, Action.REJECT) else None,
                note=(note or "").strip() or None,
                decided_by=who,
                decided_at=datetime.now(UTC),
            )
            .returning(*QaDecision.__table__.c)
        ).one()
    return _decision(row)


def domain_history(engine: Engine, batch: str, domain: str) -> list[Decision]:
    """Every decision on a domain, oldest first."""
    query = (
        select(*QaDecision.__table__.c)
        .where(QaDecision.batch_id == batch, QaDecision.domain == domain)
        .order_by(QaDecision.id)
    )
    with engine.connect() as connection:
        return [_decision(row) for row in connection.execute(query)]


def current_status(history: list[Decision]) -> tuple[QaStatus, Decision | None]:
    """The state a history leaves a domain in, and the decision that set it."""
    if not history or history[-1].action is Action.RESET:
        return QaStatus.UNDECIDED, None
    return STATUS_OF[history[-1].action], history[-1]


def bulk_accept_query(batch: str, filters: DomainFilter) -> Any:
    """Domains of the filtered batch with exactly one candidate and no flag, undecided or not."""
    d = Domain.__table__.alias("bd")
    c = GleifCandidate.__table__.alias("bc")
    count = select(func.count()).where(c.c.domain_id == d.c.id).scalar_subquery()
    only = GleifCandidate.__table__.alias("only")
    return (
        select(d.c.domain, only.c.lei_code, only.c.legal_name)
        .join_from(d, only, only.c.domain_id == d.c.id)
        .where(
            d.c.batch_id == batch,
            *filters.conditions(d, count),
            count == 1,
            ~any_flag(d),
            status_expression(d) == QaStatus.UNDECIDED.value,
        )
    )


def count_bulk_accept(engine: Engine, batch: str, filters: DomainFilter) -> int:
    """How many domains a bulk accept would decide."""
    query = select(func.count()).select_from(bulk_accept_query(batch, filters).subquery())
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def bulk_accept(
    engine: Engine, batch: str, filters: DomainFilter, *, decided_by: str, note: str | None = None
) -> int:
    """Accept the single, unflagged candidate of every undecided filtered domain, at once."""
    who = decided_by.strip()
    if not who:
        raise GleifDataError("a decision needs the name of who made it")
    chosen = bulk_accept_query(batch, filters).subquery()
    now = datetime.now(UTC)
    rows = select(
        literal(batch),
        chosen.c.domain,
        literal(Action.ACCEPT.value),
        chosen.c.lei_code,
        chosen.c.legal_name,
        literal((note or "").strip() or "bulk accept: single candidate, no flag"),
        literal(who),
        literal(now, QaDecision.decided_at.type),
    ).order_by(chosen.c.domain)
    with write_transaction(engine) as connection:
        added = insert(QaDecision).from_select(LOG_COLUMNS, rows).returning(QaDecision.id)
        return len(connection.execute(added).all())


def export_decisions(engine: Engine, out: TextIO, batch: str | None = None) -> int:
    """Write the decision log (oldest first) as CSV; return the number of decisions."""
    query = select(*QaDecision.__table__.c).order_by(QaDecision.id)
    if batch is not None:
        query = query.where(QaDecision.batch_id == batch)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DECISION_COLUMNS)
    count = 0
    with engine.connect() as connection:
        for row in connection.execute(query):
            decision = _decision(row)
            writer.writerow(
                [
                    decision.batch,
                    decision.domain,
                    decision.action.value,
                    decision.lei_code or "",
                    decision.legal_name or "",
                    decision.note or "",
                    decision.decided_by,
                    _utc(decision.decided_at).isoformat(),
                ]
            )
            count += 1
    return count


def import_decisions(engine: Engine, path: Path) -> tuple[int, int]:
    """Append decisions from an export; ones already there are skipped. (added, skipped)."""
    with open_csv(path) as csv_rows:
        missing = [name for name in DECISION_COLUMNS if name not in csv_rows.header]
        if missing:
            raise InputError(path, 1, f"no column {missing[0]!r}: expected a decisions export")
        position = {name: csv_rows.header.index(name) for name in DECISION_COLUMNS}
        parsed = list(_parsed_decisions(path, csv_rows.rows, position))
    batches = {values["batch_id"] for values in parsed}
    with write_transaction(engine) as connection:
        # Decisions are made by hand: even a busy batch has few enough to compare in memory.
        existing = {
            _identity(row._mapping)
            for row in connection.execute(
                select(*QaDecision.__table__.c).where(QaDecision.batch_id.in_(batches))
            )
        }
        new = [values for values in parsed if _identity(values) not in existing]
        if new:
            connection.execute(insert(QaDecision), new)
    return len(new), len(parsed) - len(new)


def _identity(values: Any) -> tuple[Any, ...]:
    """What makes two log entries the same decision."""
    return (
        values["batch_id"],
        values["domain"],
        values["action"],
        values["lei_code"],
        values["decided_by"],
        _utc(values["decided_at"]).isoformat(timespec="microseconds"),
    )


def _parsed_decisions(
    path: Path, rows: Iterable[tuple[int, list[str]]], position: dict[str, int]
) -> Iterable[dict[str, Any]]:
    for line, fields in rows:
        value = {name: fields[index] for name, index in position.items()}
        try:
            action = Action(value["action"])
            decided_at = _utc(datetime.fromisoformat(value["decided_at"]))
        except ValueError as exc:
            raise InputError(path, line, str(exc)) from None
        if not value["batch"] or not value["domain"] or not value["decided_by"]:
            raise InputError(path, line, "batch, domain and decided_by must not be empty")
        yield {
            "batch_id": value["batch"],
            "domain": value["domain"],
            "action": action.value,
            "lei_code": value["lei_code"] or None,
            "legal_name": value["legal_name"] or None,
            "note": value["note"] or None,
            "decided_by": value["decided_by"],
            "decided_at": decided_at,
        }


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decision(row: Any) -> Decision:
    return Decision(
        id=row.id,
        batch=row.batch_id,
        domain=row.domain,
        action=Action(row.action),
        lei_code=row.lei_code,
        legal_name=row.legal_name,
        note=row.note,
        decided_by=row.decided_by,
        decided_at=_utc(row.decided_at),
    )
