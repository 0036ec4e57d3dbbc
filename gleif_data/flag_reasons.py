"""Why a candidate or a domain has a flag, in the analyst's words.

The flags themselves are computed in SQL (gleif_data/flags.py); these sentences explain a flag
that SQL has already set, from the facts the Domain view reads, and for shared_lei from the
other domains that have the LEI (`domains_sharing_lei`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from gleif_data.domain_detail import CandidateDetail
from gleif_data.flags import Flag
from gleif_data.models import Domain, GleifCandidate


@dataclass(frozen=True)
class SharedLei:
    """The batch's other domains with an LEI among their candidates: the first few, how many."""

    domains: list[str]
    count: int


def domains_sharing_lei(
    connection: Connection, batch: str, lei_code: str, *, besides: int, limit: int = 3
) -> SharedLei:
    """The batch's other domains (not domain id `besides`) that have this LEI as a candidate."""
    c = GleifCandidate.__table__.alias("c")
    d = Domain.__table__.alias("d")
    others = (
        select(d.c.id, d.c.domain)
        .join_from(c, d, d.c.id == c.c.domain_id)
        .where(c.c.lei_code == lei_code, d.c.batch_id == batch, d.c.id != besides)
        .distinct()
    )
    first = others.order_by(d.c.id).limit(limit)
    count = select(func.count()).select_from(others.subquery())
    names = [row.domain for row in connection.execute(first)]
    total = connection.execute(count).scalar_one()
    return SharedLei(domains=names, count=total)


def candidate_reason(
    flag: str, domain: str, candidate: CandidateDetail, shared_with: SharedLei | None = None
) -> str:
    """Why the candidate has the flag: `country_mismatch: .de domain, candidate registered in
    US (legal address US, HQ US, jurisdiction US-DE)`; shared_lei names the other domains
    when `shared_with` says which."""
    reason = flag_reason(flag, domain, candidate, shared_with)
    return f"{flag}: {reason}" if reason else flag


def flag_reason(
    flag: str, domain: str, candidate: CandidateDetail, shared_with: SharedLei | None = None
) -> str:
    """candidate_reason without the flag's name in front; empty for a flag it does not know."""
    tld = domain.lower().rsplit(".", 1)[-1]
    reasons = {
        Flag.INVALID_LEI: (
            f"the check digits of {candidate.lei_code} fail ISO 7064 MOD 97-10, "
            "so it cannot be a real LEI"
        ),
        Flag.NOT_ISSUED: (
            f"GLEIF registration status is {candidate.registration_status or 'empty'}, not ISSUED"
        ),
        Flag.INACTIVE_ENTITY: (
            "GLEIF publishes no entity status (NULL)"
            if candidate.entity_status == "NULL"
            else f"GLEIF entity status is {candidate.entity_status}"
        ),
        Flag.UNKNOWN_LEI: "the LEI is not in the imported GLEIF reference data",
        Flag.SHARED_LEI: _shared(shared_with),
        Flag.COUNTRY_MISMATCH: (
            f".{tld} domain, candidate registered in {_registered_in(candidate)} "
            f"({_countries(candidate)})"
        ),
    }
    try:
        return reasons[Flag(flag)]
    except (KeyError, ValueError):
        return ""


def domain_reasons(candidate_count: int) -> list[str]:
    """The domain-level flags (no candidate, several), with their reasons."""
    if candidate_count == 0:
        return [f"{Flag.NO_CANDIDATE}: the matching found no GLEIF candidate for this domain"]
    if candidate_count > 1:
        return [f"{Flag.AMBIGUOUS}: {candidate_count} candidates, and at most one can be the match"]
    return []


def _shared(shared_with: SharedLei | None) -> str:
    if shared_with is None or not shared_with.domains:
        return "another domain of this batch has the same LEI as a candidate"
    named = ", ".join(shared_with.domains)
    more = shared_with.count - len(shared_with.domains)
    rest = f" and {more:,} more domain{'s' if more != 1 else ''}" if more > 0 else ""
    return f"the LEI is also a candidate of {named}{rest} in this batch"


def _registered_in(candidate: CandidateDetail) -> str:
    return candidate.legal_address_country or candidate.legal_jurisdiction or "an unknown country"


def _countries(candidate: CandidateDetail) -> str:
    return ", ".join(
        f"{label} {value or 'unknown'}"
        for label, value in (
            ("legal address", candidate.legal_address_country),
            ("HQ", candidate.headquarters_country),
            ("jurisdiction", candidate.legal_jurisdiction),
        )
    )
