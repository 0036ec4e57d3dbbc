"""Analysts' QA decisions about candidates: an append-only log, replayed into a domain's state.

`domain_state` is the rule in plain Python; `qa_state` holds the same rule in SQL.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, FunctionElement, Integer, case, func, insert, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles

from gleif_data.csv_input import open_csv
from gleif_data.domain_detail import stored_domain
from gleif_data.errors import GleifDataError, InputError
from gleif_data.filters import DomainFilter
from gleif_data.flags import any_flag
from gleif_data.models import Domain, GleifCandidate, LeiRecord, QaDecision
from gleif_data.qa_state import Action, CandidateState, QaStatus, status_expression, still_accepted
from gleif_data.transactions import write_transaction

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
# Written after DECISION_COLUMNS; optional on import (older exports have no such column).
BULK_COLUMN = "bulk_id"
BULK_NOTE = "bulk accept: single candidate, no flag"


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
    bulk_id: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> Decision:
        """The decision a row of qa_decisions holds."""
        return cls(
            id=row.id,
            batch=row.batch_id,
            domain=row.domain,
            action=Action(row.action),
            lei_code=row.lei_code,
            legal_name=row.legal_name,
            note=row.note,
            decided_by=row.decided_by,
            decided_at=_utc(row.decided_at),
            bulk_id=row.bulk_id,
        )


@dataclass(frozen=True)
class DomainState:
    """What a domain's log says now: its QA state, accepted LEI and each candidate's state."""

    status: QaStatus
    accepted_lei: str | None
    accepted_legal_name: str | None
    candidates: dict[str, CandidateState]  # by LEI, for the domain's current candidates
    latest: Decision | None  # the newest entry since the last reset


def domain_state(history: Sequence[Decision], candidate_leis: Sequence[str | None]) -> DomainState:
    """Replay a domain's log (any order; replayed by id) against its current candidates."""
    accepted: Decision | None = None
    no_match = False
    rejected: set[str] = set()
    latest: Decision | None = None
    for entry in sorted(history, key=lambda h: h.id):
        latest = entry
        lei = entry.lei_code
        if entry.action is Action.RESET:
            accepted, no_match, latest = None, False, None
            rejected.clear()
        elif entry.action is Action.ACCEPT:
            accepted, no_match = entry, False
            rejected.discard(lei or "")  # an accept without an LEI (legacy) clears none
        elif entry.action is Action.NO_MATCH:
            accepted, no_match = None, True
        elif lei is not None:  # a reject or withdraw without an LEI names no candidate
            if entry.action is Action.REJECT:
                rejected.add(lei)
            if accepted is not None and accepted.lei_code == lei:
                accepted = None
    accepted_lei = accepted.lei_code if accepted else None

    def state_of(lei: str) -> CandidateState:
        if accepted_lei is not None and lei == accepted_lei:
            return CandidateState.ACCEPTED
        return CandidateState.REJECTED if lei in rejected else CandidateState.UNDECIDED

    judged = [lei is not None and lei in rejected for lei in candidate_leis]
    if accepted is not None:
        status = QaStatus.ACCEPTED
    elif no_match:
        status = QaStatus.NO_MATCH
    elif any(judged):
        status = QaStatus.REJECTED if all(judged) else QaStatus.IN_REVIEW
    else:
        status = QaStatus.UNDECIDED
    return DomainState(
        status=status,
        accepted_lei=accepted_lei,
        accepted_legal_name=accepted.legal_name if accepted else None,
        candidates={lei: state_of(lei) for lei in candidate_leis if lei is not None},
        latest=latest,
    )


def record_decision(
    connection: Connection,
    *,
    batch: str,
    domain: str,
    action: Action,
    decided_by: str,
    lei_code: str | None = None,
    note: str | None = None,
) -> Decision:
    """Append a decision; accept, reject and withdraw name a candidate or a reference LEI."""
    who = decided_by.strip()
    if not who:
        raise GleifDataError("a decision needs the name of who made it")
    action = Action(action)
    code = (lei_code or "").strip() or None
    if action.names_lei and not code:
        raise GleifDataError(f"to {action.value} a candidate, name its LEI")
    if not domain.strip():
        raise GleifDataError("name the domain the decision is about")
    stored = _stored_domain(connection, batch, domain)
    legal_name = None
    if action.names_lei:
        assert code is not None
        code, legal_name = _named_lei(connection, batch, stored, code)
    row = connection.execute(
        insert(QaDecision)
        .values(
            batch_id=batch,
            domain=stored,
            action=action.value,
            lei_code=code if action.names_lei else None,
            legal_name=legal_name,
            note=(note or "").strip() or None,
            decided_by=who,
            decided_at=datetime.now(UTC),
        )
        .returning(*QaDecision.__table__.c)
    ).one()
    return Decision.from_row(row)


def _stored_domain(connection: Connection, batch: str, domain: str) -> str:
    """The domain's name as the batch stores it, found as the Domain page finds it.

    Decisions join domains by their stored name, so they must carry that spelling.
    """
    found = stored_domain(connection, batch, domain)
    if found is None:
        raise GleifDataError(f"the batch {batch!r} has no domain {domain.strip()!r}")
    return found


def _named_lei(
    connection: Connection, batch: str, domain: str, code: str
) -> tuple[str, str | None]:
    """The LEI and its legal name: from the domain's candidates, else the reference data."""
    candidate = connection.execute(
        select(GleifCandidate.legal_name)
        .join(Domain, Domain.id == GleifCandidate.domain_id)
        .where(Domain.batch_id == batch, Domain.domain == domain, GleifCandidate.lei_code == code)
        .order_by(GleifCandidate.id)
        .limit(1)
    ).first()
    if candidate is not None:
        return code, candidate.legal_name
    for spelling in dict.fromkeys((code, code.upper())):
        record = connection.execute(
            select(LeiRecord.legal_name).where(LeiRecord.lei == spelling)
        ).first()
        if record is not None:
            return spelling, record.legal_name
    raise GleifDataError(
        f"{code} is neither a candidate of {domain} nor an LEI of the GLEIF reference data"
    )


def domain_history(connection: Connection, batch: str, domain: str) -> list[Decision]:
    """Every decision on a domain, oldest first."""
    query = (
        select(*QaDecision.__table__.c)
        .where(QaDecision.batch_id == batch, QaDecision.domain == domain)
        .order_by(QaDecision.id)
    )
    return [Decision.from_row(row) for row in connection.execute(query)]


@dataclass(frozen=True)
class BulkAccept:
    """One bulk accept: its id and what it accepted, as (domain, LEI, legal name)."""

    bulk_id: int
    accepted: list[tuple[str, str, str | None]]


@dataclass(frozen=True)
class BulkAcceptSummary:
    """A past bulk accept of a batch: who, when, how many it accepted, how many still stand."""

    bulk_id: int
    decided_by: str
    decided_at: datetime
    accepted: int
    in_force: int


def bulk_accept_query(batch: str, filters: DomainFilter, min_name_score: int | None = None) -> Any:
    """Undecided domains of the filtered batch with exactly one candidate and no flag.

    With `min_name_score`, only those whose candidate's stored name score reaches it.
    """
    d = Domain.__table__.alias("bd")
    c = GleifCandidate.__table__.alias("bc")
    count = select(func.count()).where(c.c.domain_id == d.c.id).scalar_subquery()
    only = GleifCandidate.__table__.alias("only")
    scored = [] if min_name_score is None else [only.c.name_score >= min_name_score]
    return (
        select(d.c.domain, only.c.lei_code, only.c.legal_name)
        .join_from(d, only, only.c.domain_id == d.c.id)
        .where(
            d.c.batch_id == batch,
            *filters.conditions(d, count),
            count == 1,
            *scored,
            ~any_flag(d),
            status_expression(d) == QaStatus.UNDECIDED.value,
        )
    )


def count_bulk_accept(
    connection: Connection, batch: str, filters: DomainFilter, *, min_name_score: int | None = None
) -> int:
    """How many domains a bulk accept would decide."""
    chosen = bulk_accept_query(batch, filters, min_name_score).subquery()
    return connection.execute(select(func.count()).select_from(chosen)).scalar_one()


def bulk_accept(
    connection: Connection,
    batch: str,
    filters: DomainFilter,
    *,
    decided_by: str,
    min_name_score: int | None = None,
    note: str | None = None,
) -> BulkAccept:
    """Accept the single, unflagged candidate of every undecided filtered domain, at once.

    Run it in a `write_transaction`: on SQLite that holds the write lock from the start.
    """
    who = _who(decided_by)
    chosen = bulk_accept_query(batch, filters, min_name_score).subquery()
    now = datetime.now(UTC)
    bulk_id = _next_bulk_id(connection)
    rows = select(
        literal(batch),
        chosen.c.domain,
        literal(Action.ACCEPT.value),
        chosen.c.lei_code,
        chosen.c.legal_name,
        literal((note or "").strip() or BULK_NOTE),
        literal(who),
        literal(now, QaDecision.decided_at.type),
        literal(bulk_id, Integer),
    ).order_by(chosen.c.domain)
    added = (
        insert(QaDecision)
        .from_select((*LOG_COLUMNS, BULK_COLUMN), rows)
        .returning(QaDecision.id, QaDecision.domain, QaDecision.lei_code, QaDecision.legal_name)
    )
    accepted = sorted(connection.execute(added).all())
    return BulkAccept(bulk_id, [(row.domain, row.lei_code, row.legal_name) for row in accepted])


def bulk_accepts(connection: Connection, batch: str) -> list[BulkAcceptSummary]:
    """The batch's bulk accepts, newest first."""
    e = QaDecision.__table__.alias("bulk_entry")
    query = (
        select(
            e.c.bulk_id,
            func.min(e.c.decided_by),
            func.min(e.c.decided_at),
            func.count(),
            func.sum(case((still_accepted(e), 1), else_=0)),
        )
        .where(e.c.batch_id == batch, e.c.bulk_id.is_not(None), e.c.action == Action.ACCEPT.value)
        .group_by(e.c.bulk_id)
        .order_by(e.c.bulk_id.desc())
    )
    return [
        BulkAcceptSummary(bulk_id, who, _utc(when), int(count), int(in_force or 0))
        for bulk_id, who, when, count, in_force in connection.execute(query)
    ]


def bulk_accept_result(connection: Connection, batch: str, bulk_id: int) -> BulkAccept:
    """What a past bulk accept accepted, by domain."""
    query = (
        select(QaDecision.domain, QaDecision.lei_code, QaDecision.legal_name)
        .where(
            QaDecision.batch_id == batch,
            QaDecision.bulk_id == bulk_id,
            QaDecision.action == Action.ACCEPT.value,
        )
        .order_by(QaDecision.domain, QaDecision.id)
    )
    rows = connection.execute(query).all()
    if not rows:
        raise GleifDataError(f"the batch {batch!r} has no bulk accept {bulk_id}")
    return BulkAccept(bulk_id, [(row.domain, row.lei_code, row.legal_name) for row in rows])


def undo_bulk_accept(connection: Connection, batch: str, bulk_id: int, *, decided_by: str) -> int:
    """Withdraw the acceptances of a bulk accept that still stand; return how many.

    A domain decided since (by hand or by another bulk accept) is left as it is. The log
    keeps the bulk accept and gains one `withdraw` per domain.
    """
    who = _who(decided_by)
    e = QaDecision.__table__.alias("bulk_entry")
    mine = (e.c.batch_id == batch, e.c.bulk_id == bulk_id, e.c.action == Action.ACCEPT.value)
    standing = select(
        e.c.batch_id,
        e.c.domain,
        literal(Action.WITHDRAW.value),
        e.c.lei_code,
        e.c.legal_name,
        literal(f"undo of bulk accept {bulk_id}"),
        literal(who),
        literal(datetime.now(UTC), QaDecision.decided_at.type),
    ).where(*mine, still_accepted(e))
    if connection.execute(select(e.c.id).where(*mine).limit(1)).first() is None:
        raise GleifDataError(f"the batch {batch!r} has no bulk accept {bulk_id}")
    added = insert(QaDecision).from_select(LOG_COLUMNS, standing.order_by(e.c.domain))
    return len(connection.execute(added.returning(QaDecision.id)).all())


class _bulk_lock(FunctionElement[Any]):
    """Waits for other bulk accepts' transactions, so that each takes its own bulk id."""

    inherit_cache = True
    type = Integer()


@compiles(_bulk_lock)
def _lock_postgresql(_element: Any, _compiler: Any, **_kw: Any) -> str:
    # A transaction-level advisory lock needs no grant: a reviewer role may only INSERT.
    return "pg_advisory_xact_lock(7305461)"


@compiles(_bulk_lock, "sqlite")
def _lock_sqlite(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "0"  # write_transaction's BEGIN IMMEDIATE holds SQLite's only write lock already


def _next_bulk_id(connection: Connection) -> int:
    """A bulk id no other bulk accept has or will take (call inside the write transaction)."""
    connection.execute(select(_bulk_lock()))
    newest = select(func.coalesce(func.max(QaDecision.bulk_id), 0) + 1)
    return int(connection.execute(newest).scalar_one())


def _who(decided_by: str) -> str:
    who = decided_by.strip()
    if not who:
        raise GleifDataError("a decision needs the name of who made it")
    return who


def export_decisions(connection: Connection, out: TextIO, batch: str | None = None) -> int:
    """Write the decision log (oldest first) as CSV; return the number of decisions."""
    query = select(*QaDecision.__table__.c).order_by(QaDecision.id)
    if batch is not None:
        query = query.where(QaDecision.batch_id == batch)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*DECISION_COLUMNS, BULK_COLUMN))
    count = 0
    for row in connection.execute(query):
        decision = Decision.from_row(row)
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
                "" if decision.bulk_id is None else decision.bulk_id,
            ]
        )
        count += 1
    return count


def import_decisions(engine: Engine, path: Path) -> tuple[int, int]:
    """Append decisions from an export; ones already there are skipped. (added, skipped).

    Bulk ids are numbered anew: the same number may mean another bulk accept here.
    """
    with open_csv(path) as csv_rows:
        missing = [name for name in DECISION_COLUMNS if name not in csv_rows.header]
        if missing:
            raise InputError(path, 1, f"no column {missing[0]!r}: expected a decisions export")
        names = [*DECISION_COLUMNS, *([BULK_COLUMN] if BULK_COLUMN in csv_rows.header else [])]
        position = {name: csv_rows.header.index(name) for name in names}
        parsed = list(_parsed_decisions(path, csv_rows.rows, position))
    batches = {values["batch_id"] for values in parsed}
    # An import owns its transaction: the file is read and checked before it begins.
    with write_transaction(engine, bulk=True) as connection:
        # Decisions are made by hand: even a busy batch has few enough to compare in memory.
        existing = {
            _identity(row._mapping)
            for row in connection.execute(
                select(*QaDecision.__table__.c).where(QaDecision.batch_id.in_(batches))
            )
        }
        new = [values for values in parsed if _identity(values) not in existing]
        bulks = sorted({(v["batch_id"], v[BULK_COLUMN]) for v in new if v[BULK_COLUMN]})
        if bulks:
            first = _next_bulk_id(connection)
            renumbered = {bulk: first + offset for offset, bulk in enumerate(bulks)}
            for values in new:
                values[BULK_COLUMN] = renumbered.get((values["batch_id"], values[BULK_COLUMN]))
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
            bulk = int(value[BULK_COLUMN]) if value.get(BULK_COLUMN) else None
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
            BULK_COLUMN: bulk,
        }


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
