"""One domain of a batch with every GLEIF fact the database has about its candidates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session, aliased

from gleif_data.domains import lookup_domain
from gleif_data.flags import candidate_conditions, flag_list
from gleif_data.lei import has_valid_check_digits
from gleif_data.models import Domain, GleifCandidate, LeiRecord
from gleif_data.names import name_score


@dataclass(frozen=True)
class CandidateDetail:
    """A candidate and its reference record (None where the LEI is not in the reference data)."""

    candidate_id: int
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
    """A domain and its candidates in candidate id order."""

    domain_id: int
    domain: str
    batch: str
    candidates: list[CandidateDetail]


def find_domain(engine: Engine, batch: str, domain: str) -> DomainDetail | None:
    """The domain of the batch with that name (trimmed, any case), or None."""
    wanted = lookup_domain(domain)
    query = (
        select(Domain.id, Domain.domain)
        .where(Domain.batch_id == batch, Domain.domain == wanted)
        .order_by(Domain.id)
        .limit(1)
    )
    with Session(engine) as session:
        found = session.execute(query).first()
        if found is None:
            return None
        rows = session.execute(_candidates_query(found.id)).all()
    return DomainDetail(
        domain_id=found.id,
        domain=found.domain,
        batch=batch,
        candidates=[_detail(found.domain, *row) for row in rows],
    )


def _candidates_query(domain_id: int) -> Select[Any]:
    """The domain's candidates, their reference records and their flags, in id order."""
    d = Domain.__table__.alias("d")
    c = GleifCandidate.__table__.alias("c")
    r = LeiRecord.__table__.alias("r")
    flags = flag_list(candidate_conditions(c, d, r))
    candidate = aliased(GleifCandidate, c)
    record = aliased(LeiRecord, r)
    return (
        select(candidate, record, flags)
        .select_from(c.join(d, d.c.id == c.c.domain_id).outerjoin(r, r.c.lei == c.c.lei_code))
        .where(c.c.domain_id == domain_id)
        .order_by(c.c.id)
    )


def _detail(
    domain: str, candidate: GleifCandidate, record: LeiRecord | None, flags: str
) -> CandidateDetail:
    code = candidate.lei_code or ""
    return CandidateDetail(
        candidate_id=candidate.id,
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
