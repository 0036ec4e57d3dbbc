"""One domain of a batch with every GLEIF fact the database has about its candidates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gleif_data.lei import has_valid_check_digits
from gleif_data.models import Domain, GleifCandidate, LeiRecord


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


@dataclass(frozen=True)
class DomainDetail:
    """A domain and its candidates in candidate id order."""

    domain_id: int
    domain: str
    batch: str
    candidates: list[CandidateDetail]


def find_domain(engine: Engine, batch: str, domain: str) -> DomainDetail | None:
    """The domain of the batch with that name (trimmed, any case), or None."""
    wanted = domain.strip().lower()
    query = (
        select(Domain.id, Domain.domain)
        .where(Domain.batch_id == batch, Domain.domain == wanted)
        .order_by(Domain.id)
        .limit(1)
    )
    candidates_query = (
        select(GleifCandidate, LeiRecord)
        .outerjoin(LeiRecord, LeiRecord.lei == GleifCandidate.lei_code)
        .order_by(GleifCandidate.id)
    )
    with Session(engine) as session:
        found = session.execute(query).first()
        if found is None:
            return None
        rows = session.execute(candidates_query.where(GleifCandidate.domain_id == found.id)).all()
    return DomainDetail(
        domain_id=found.id,
        domain=found.domain,
        batch=batch,
        candidates=[_detail(candidate, record) for candidate, record in rows],
    )


def _detail(candidate: GleifCandidate, record: LeiRecord | None) -> CandidateDetail:
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
    )
