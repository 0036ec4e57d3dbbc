"""One domain of a batch with every GLEIF fact the database has about its candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select
from sqlalchemy.orm import Session, aliased

from gleif_data.db import contains_text
from gleif_data.domains import decode_ace_labels, lookup_domain, normalise_domain
from gleif_data.flags import candidate_conditions, domain_country, flag_list
from gleif_data.lei import has_valid_check_digits
from gleif_data.models import Domain, GleifCandidate, LeiRecord
from gleif_data.names import name_score
from gleif_data.sql_dialects import strpos
from gleif_data.text_fold import fold_text


@dataclass(frozen=True)
class CandidateDetail:
    """A candidate and its reference record (None where the LEI is not in the reference data)."""

    candidate_id: int
    domain_id: int
    lei_code: str
    legal_name: str
    match_score: float | None
    match_method: str | None
    check_digits_valid: bool
    in_reference_data: bool
    reference_legal_name: str | None
    registration_status: str | None
    entity_status: str | None
    legal_address_country: str | None
    headquarters_country: str | None
    legal_jurisdiction: str | None
    last_update: datetime | None
    next_renewal: datetime | None
    name_score: int
    flags: list[str]


@dataclass(frozen=True)
class DomainDetail:
    """A domain as the export lists it: every row stored under its name, with their candidates.

    A legacy batch can hold the same domain on several rows (the export has one line per
    row); `candidates` are those of every row, in domain id then candidate id order.
    """

    domain: str
    batch: str
    domain_ids: list[int]
    country: str | None
    candidates: list[CandidateDetail]
    other_spellings: list[str] = field(default_factory=list)

    @property
    def domain_id(self) -> int:
        """The first row's id."""
        return self.domain_ids[0]

    @property
    def stored_times(self) -> int:
        """On how many rows of the batch the domain is stored."""
        return len(self.domain_ids)


def find_domain(connection: Connection, batch: str, domain: str) -> DomainDetail | None:
    """The domain of the batch that a typed name, a stored spelling or a pasted URL names.

    First the text as typed (Explore links with the stored spelling) and its normal form
    (trimmed, lower-cased, a URL reduced to its host), through the index; failing both,
    the stored names equal to it under the text filters' case fold, as the export's
    filters would find it (a legacy `Acme.COM` for `acme.com`). None when nothing matches.
    """
    # A session on the caller's connection joins its transaction and leaves it open.
    with Session(bind=connection) as session:
        found = _named_rows(session, batch, domain)
        if found is None:
            return None
        chosen, rows = found
        ids = [row.id for row in rows if row.domain == chosen]
        candidates = session.execute(_candidates_query(ids)).all()
        country = next(row.country for row in rows if row.domain == chosen)
        spellings = list(dict.fromkeys(row.domain for row in rows))
    return DomainDetail(
        domain=chosen,
        batch=batch,
        domain_ids=ids,
        country=country,
        candidates=[_detail(chosen, *row) for row in candidates],
        other_spellings=[s for s in spellings if s != chosen],
    )


def stored_domain(connection: Connection | Session, batch: str, domain: str) -> str | None:
    """The batch's stored spelling of the domain that `find_domain` would open, or None."""
    found = _named_rows(connection, batch, domain)
    return None if found is None else found[0]


def _named_rows(
    connection: Connection | Session, batch: str, domain: str
) -> tuple[str, list[Any]] | None:
    """The chosen stored spelling and every row named by the text, or None (find_domain's rule)."""
    typed = domain.strip()
    if not typed or "\x00" in typed:
        return None
    wanted = lookup_domain(typed)
    exact = [typed] if wanted == typed else [typed, wanted]
    rows = connection.execute(_rows_named(batch, Domain.domain.in_(exact))).all()
    if not rows:
        folded = func.gleif_fold(Domain.domain) == fold_text(wanted)
        rows = connection.execute(_rows_named(batch, folded)).all()
    if not rows:
        return None
    spellings = list(dict.fromkeys(row.domain for row in rows))
    return next((s for s in (typed, wanted) if s in spellings), spellings[0]), list(rows)


def suggest_domains(connection: Connection, batch: str, text: str, *, limit: int = 10) -> list[str]:
    """Up to `limit` domains of the batch containing the text (or a pasted URL's host).

    Those where the text comes earliest, then the shortest, then A-Z; each name once.
    """
    needle = _normal_form(text.strip())
    needle = needle.removeprefix("www.") if "." in needle[4:] else needle
    if not needle or "\x00" in needle:
        return []
    position = func.min(strpos(func.gleif_fold(Domain.domain), fold_text(needle)))
    query = (
        select(Domain.domain)
        .where(Domain.batch_id == batch, contains_text(Domain.domain, needle))
        .group_by(Domain.domain)
        .order_by(position, func.length(Domain.domain), Domain.domain)
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


def _normal_form(text: str) -> str:
    """A domain or URL as the import stores it; part of a name with its xn-- labels decoded."""
    try:
        return normalise_domain(text)
    except ValueError:
        return decode_ace_labels(text)


def _rows_named(batch: str, condition: ColumnElement[bool]) -> Select[Any]:
    return (
        select(Domain.id, Domain.domain, domain_country(Domain.domain).label("country"))
        .where(Domain.batch_id == batch, condition)
        .order_by(Domain.id)
    )


def _candidates_query(domain_ids: list[int]) -> Select[Any]:
    """The rows' candidates, their reference records and their flags, in id order."""
    d = Domain.__table__.alias("d")
    c = GleifCandidate.__table__.alias("c")
    r = LeiRecord.__table__.alias("r")
    flags = flag_list(candidate_conditions(c, d, r))
    candidate = aliased(GleifCandidate, c)
    record = aliased(LeiRecord, r)
    return (
        select(candidate, record, flags)
        .select_from(c.join(d, d.c.id == c.c.domain_id).outerjoin(r, r.c.lei == c.c.lei_code))
        .where(c.c.domain_id.in_(domain_ids))
        .order_by(c.c.domain_id, c.c.id)
    )


def _detail(
    domain: str, candidate: GleifCandidate, record: LeiRecord | None, flags: str
) -> CandidateDetail:
    code = candidate.lei_code or ""
    return CandidateDetail(
        candidate_id=candidate.id,
        domain_id=candidate.domain_id,
        lei_code=code,
        legal_name=candidate.legal_name or "",
        match_score=candidate.match_score,
        match_method=candidate.match_method,
        check_digits_valid=has_valid_check_digits(code),
        in_reference_data=record is not None,
        reference_legal_name=record.legal_name if record else None,
        registration_status=record.registration_status if record else None,
        entity_status=record.entity_status if record else None,
        legal_address_country=record.legal_address_country if record else None,
        headquarters_country=record.headquarters_country if record else None,
        legal_jurisdiction=record.legal_jurisdiction if record else None,
        last_update=record.last_update if record else None,
        next_renewal=record.next_renewal if record else None,
        # Legacy rows have no stored score; the same function computes it here.
        name_score=(
            candidate.name_score
            if candidate.name_score is not None
            else name_score(domain, candidate.legal_name or "")
        ),
        flags=[flag for flag in flags.split("; ") if flag],
    )
