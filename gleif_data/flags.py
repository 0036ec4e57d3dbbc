"""QA flags: what makes a match worth a human look, computed in SQL so it filters at scale.

Candidate flags (each a condition on one candidate row):
- invalid_lei: the LEI fails its ISO 7064 MOD 97-10 check digits.
- not_issued: the reference data has the LEI with a registration status other than ISSUED.
- unknown_lei: the LEI is not in the reference data at all (we say so rather than guess).
- inactive_entity: the entity status is INACTIVE, or the literal `NULL` GLEIF publishes.
- shared_lei: another domain of the same batch has the same LEI as a candidate.
- country_mismatch: the domain's country-code TLD differs from the entity's legal-address,
  headquarters and jurisdiction countries alike; generic TLDs (.com, .io, ...) give no verdict.
Domain flags: no_candidate, ambiguous (more than one candidate), and every flag of any of its
candidates.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, not_, or_, select

from gleif_data.models import Domain, GleifCandidate, LeiRecord


class Flag(StrEnum):
    """A reason to look at a match, from the most to the least serious."""

    INVALID_LEI = "invalid_lei"
    NOT_ISSUED = "not_issued"
    INACTIVE_ENTITY = "inactive_entity"
    UNKNOWN_LEI = "unknown_lei"
    SHARED_LEI = "shared_lei"
    COUNTRY_MISMATCH = "country_mismatch"
    NO_CANDIDATE = "no_candidate"
    AMBIGUOUS = "ambiguous"

    @property
    def description(self) -> str:
        """What the flag means, for tooltips and the README."""
        return _DESCRIPTIONS[self]


CANDIDATE_FLAGS = (
    Flag.INVALID_LEI,
    Flag.NOT_ISSUED,
    Flag.INACTIVE_ENTITY,
    Flag.UNKNOWN_LEI,
    Flag.SHARED_LEI,
    Flag.COUNTRY_MISMATCH,
)
_DESCRIPTIONS = {
    Flag.INVALID_LEI: "The LEI fails its ISO 7064 check digits.",
    Flag.NOT_ISSUED: "GLEIF lists the LEI as LAPSED, RETIRED, ANNULLED, ... (not ISSUED).",
    Flag.INACTIVE_ENTITY: "GLEIF lists the entity as INACTIVE (or with status NULL).",
    Flag.UNKNOWN_LEI: "The LEI is not in the imported GLEIF reference data.",
    Flag.SHARED_LEI: "Another domain of the batch has the same LEI as a candidate.",
    Flag.COUNTRY_MISMATCH: "The domain's country TLD matches none of the entity's countries.",
    Flag.NO_CANDIDATE: "The matching found no candidate.",
    Flag.AMBIGUOUS: "More than one candidate.",
}
# Country-code TLDs that are mostly used as generic ones: no country verdict from them.
GENERIC_COUNTRY_TLDS = ("ai", "cc", "co", "eu", "fm", "gg", "io", "me", "su", "tv", "ws")
# Country-code TLDs that differ from the ISO 3166 code GLEIF uses.
TLD_COUNTRIES = {"uk": "GB"}


def domain_country(domain: ColumnElement[str]) -> ColumnElement[str | None]:
    """The ISO country of a domain's country-code TLD, or NULL for generic TLDs."""
    length = func.length(domain)
    tld = func.lower(func.substr(domain, length - 1, 2))
    is_country_tld = (func.substr(domain, length - 2, 1) == ".") & tld.regexp_match("^[a-z]{2}$")
    return case(
        (~is_country_tld, None),
        (tld.in_(GENERIC_COUNTRY_TLDS), None),
        *((tld == code, literal(country)) for code, country in TLD_COUNTRIES.items()),
        else_=func.upper(tld),
    )


def candidate_conditions(c: Any, d: Any, r: Any) -> dict[Flag, ColumnElement[bool]]:
    """Each candidate flag as a condition on candidate `c` of domain `d`, `r` left-joined."""
    other = GleifCandidate.__table__.alias("shared_c")
    other_domain = Domain.__table__.alias("shared_d")
    country = domain_country(d.c.domain)
    entity_countries = (
        func.coalesce(r.c.legal_address_country, ""),
        func.coalesce(r.c.headquarters_country, ""),
        func.coalesce(func.substr(r.c.legal_jurisdiction, 1, 2), ""),
    )
    return {
        Flag.INVALID_LEI: func.lei_check_digits_valid(c.c.lei_code) == 0,
        Flag.NOT_ISSUED: and_(
            r.c.lei.is_not(None), func.coalesce(r.c.registration_status, "") != "ISSUED"
        ),
        Flag.INACTIVE_ENTITY: r.c.entity_status.in_(("INACTIVE", "NULL")),
        Flag.UNKNOWN_LEI: r.c.lei.is_(None),
        Flag.SHARED_LEI: exists(
            select(1)
            .select_from(other.join(other_domain, other_domain.c.id == other.c.domain_id))
            .where(
                other.c.lei_code == c.c.lei_code,
                other.c.domain_id != c.c.domain_id,
                other_domain.c.batch_id == d.c.batch_id,
            )
            # `d` may sit two queries out; SQLAlchemy correlates only one level by itself.
            .correlate_except(other, other_domain)
        ),
        Flag.COUNTRY_MISMATCH: and_(
            country.is_not(None), r.c.lei.is_not(None), country.not_in(entity_countries)
        ),
    }


def domain_condition(flag: Flag, d: Any) -> ColumnElement[bool]:
    """Whether domain `d` has the flag."""
    c = GleifCandidate.__table__.alias(f"fc_{flag.value}")
    if flag is Flag.NO_CANDIDATE:
        return not_(exists(select(1).where(c.c.domain_id == d.c.id)))
    if flag is Flag.AMBIGUOUS:
        count = select(func.count()).where(c.c.domain_id == d.c.id).scalar_subquery()
        return count > 1
    r = LeiRecord.__table__.alias(f"fr_{flag.value}")
    condition = candidate_conditions(c, d, r)[flag]
    return exists(
        select(1)
        .select_from(c.outerjoin(r, r.c.lei == c.c.lei_code))
        .where(c.c.domain_id == d.c.id, condition)
        .correlate_except(c, r)
    )


def flag_list(conditions: dict[Flag, ColumnElement[bool]]) -> ColumnElement[str]:
    """The flags that hold, as one "; "-joined text in Flag order ("" when none)."""
    parts = [
        case((condition, literal(f"{flag.value}; ")), else_=literal(""))
        for flag, condition in conditions.items()
    ]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + part
    return func.rtrim(joined, "; ")


def domain_flag_list(d: Any) -> ColumnElement[str]:
    """All flags of domain `d`, "; "-joined."""
    return flag_list({flag: domain_condition(flag, d) for flag in Flag})


def any_flag(d: Any) -> ColumnElement[bool]:
    """Whether domain `d` has any flag at all."""
    return or_(*(domain_condition(flag, d) for flag in Flag))
