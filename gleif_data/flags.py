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

Each flag has a per-domain form (`domain_condition`, a correlated EXISTS: filters a page of
domains) and a set-based form for a whole batch (`domain_flags`, `flag_counts`: the batch's
candidates read in passes, for the Overview's counts); both are built from the same conditions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.types import Text

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
    conditions = {
        Flag.INVALID_LEI: invalid_check_digits(c.c.lei_code),
        **reference_conditions(r, d.c.domain),
        Flag.SHARED_LEI: shared_lei_exists(c, d),
    }
    return {flag: conditions[flag] for flag in CANDIDATE_FLAGS}


def invalid_check_digits(lei_code: ColumnElement[str | None]) -> ColumnElement[bool]:
    """invalid_lei: the code fails its ISO 7064 MOD 97-10 check digits (so does NULL)."""
    return func.lei_check_digits_valid(lei_code) == 0


def reference_conditions(
    r: Any, domain: ColumnElement[str | None]
) -> dict[Flag, ColumnElement[bool]]:
    """The flags that reference record `r` decides (left-joined: NULL when the LEI is missing).

    country_mismatch also needs the candidate's domain name.
    """
    entity_countries = (
        func.coalesce(r.c.legal_address_country, ""),
        func.coalesce(r.c.headquarters_country, ""),
        func.coalesce(func.substr(r.c.legal_jurisdiction, 1, 2), ""),
    )
    # "The domain's country is none of the entity's", with the country computed once (NOT IN
    # would repeat it per value); no country (a generic TLD) reads "" and is no mismatch.
    mismatch = case(
        *((value, false()) for value in (literal(""), *entity_countries)),
        value=func.coalesce(domain_country(domain), ""),
        else_=true(),
    )
    return {
        Flag.NOT_ISSUED: and_(
            r.c.lei.is_not(None), func.coalesce(r.c.registration_status, "") != "ISSUED"
        ),
        Flag.INACTIVE_ENTITY: r.c.entity_status.in_(("INACTIVE", "NULL")),
        Flag.UNKNOWN_LEI: r.c.lei.is_(None),
        # The cheap test first: the domain's country costs a few string functions.
        Flag.COUNTRY_MISMATCH: and_(r.c.lei.is_not(None), mismatch),
    }


def shared_lei_exists(c: Any, d: Any) -> ColumnElement[bool]:
    """shared_lei per candidate: another domain of `d`'s batch has candidate `c`'s LEI.

    The set-based twin, for a whole batch, is the `shared` column of `_lei_facts`.
    """
    other = GleifCandidate.__table__.alias("shared_c")
    other_domain = Domain.__table__.alias("shared_d")
    return exists(
        select(1)
        .select_from(other.join(other_domain, other_domain.c.id == other.c.domain_id))
        .where(
            other.c.lei_code == c.c.lei_code,
            other.c.domain_id != c.c.domain_id,
            other_domain.c.batch_id == d.c.batch_id,
        )
        # `d` may sit two queries out; SQLAlchemy correlates only one level by itself.
        .correlate_except(other, other_domain)
    )


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


def domain_flags(batch: str) -> Subquery:
    """Per domain of the batch with candidates: `candidates`, and 1 or 0 per candidate flag.

    The set-based form of `domain_condition`, for a whole batch: the batch's candidates are
    read once, grouped by LEI (`_lei_facts`), joined back and grouped by domain. A domain
    without candidates has no row.
    """
    candidates = _batch_candidates(batch)
    facts = _lei_facts(candidates)
    conditions = {
        # A NULL code has no lei_facts row: it is checked here (on NULL that costs nothing).
        Flag.INVALID_LEI: func.coalesce(
            facts.c.invalid, invalid_check_digits(candidates.c.lei_code)
        ),
        **reference_conditions(facts, candidates.c.domain),
        Flag.SHARED_LEI: facts.c.shared,
    }
    return (
        select(
            candidates.c.domain_id,
            func.count().label("candidates"),
            *(
                func.max(case((conditions[flag], 1), else_=0)).label(flag.value)
                for flag in CANDIDATE_FLAGS
            ),
        )
        .select_from(candidates.outerjoin(facts, facts.c.lei_code == candidates.c.lei_code))
        .group_by(candidates.c.domain_id)
        .subquery("domain_flags")
    )


def _batch_candidates(batch: str) -> CTE:
    """The batch's candidates with their domain names, joined once and read twice."""
    c = GleifCandidate.__table__.alias("bc_c")
    d = Domain.__table__.alias("bc_d")
    return (
        select(c.c.domain_id, c.c.lei_code, d.c.domain)
        .join_from(c, d, d.c.id == c.c.domain_id)
        .where(d.c.batch_id == batch)
        .cte("batch_candidates")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )


def _lei_facts(candidates: CTE) -> CTE:
    """Per LEI of the candidates: `shared`, `invalid`, and its reference record's columns.

    shared_lei as a grouped count (more than one domain has the LEI) instead of an EXISTS per
    candidate; the check digits computed once per LEI, not once per candidate. The record's
    columns keep their names, so `reference_conditions` reads this as its `r`.
    """
    r = LeiRecord.__table__.alias("lf_r")
    per_lei = (
        select(
            candidates.c.lei_code,
            (func.min(candidates.c.domain_id) != func.max(candidates.c.domain_id)).label("shared"),
        )
        .where(candidates.c.lei_code.is_not(None))
        .group_by(candidates.c.lei_code)
        .subquery("per_lei")
    )
    return (
        select(
            per_lei.c.lei_code,
            per_lei.c.shared,
            invalid_check_digits(per_lei.c.lei_code).label("invalid"),
            r.c.lei,
            r.c.registration_status,
            r.c.entity_status,
            r.c.legal_address_country,
            r.c.headquarters_country,
            r.c.legal_jurisdiction,
        )
        .select_from(per_lei.outerjoin(r, r.c.lei == per_lei.c.lei_code))
        # Materialised (on PostgreSQL), so each LEI is checked once however the rest is planned.
        .cte("lei_facts")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )


# A flag that at most this many domains of a batch have is "rare": the batch's stored counts
# keep those domains' ids, so that a page filtered on it need not read the whole batch.
RARE_FLAG_LIMIT = 1_000


def flag_counts(batch: str) -> Select[Any]:
    """One row: the batch's number of `domains`; per flag, how many of them have it and, when
    at most RARE_FLAG_LIMIT do, which (`<flag>_ids`, comma-separated ids, else NULL)."""
    per_domain = (
        select(*domain_flags(batch).c)
        .cte("per_domain")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    has = {flag: per_domain.c[flag.value] == 1 for flag in CANDIDATE_FLAGS}
    has[Flag.AMBIGUOUS] = per_domain.c.candidates > 1
    totals = (
        select(
            func.count().label("with_candidates"),
            *(
                func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(flag.value)
                for flag, condition in has.items()
            ),
        )
        .select_from(per_domain)
        .subquery("totals")
    )
    size = select(func.count().label("domains")).where(Domain.batch_id == batch).subquery("size")
    counts = {flag: totals.c[flag.value] for flag in has}
    counts[Flag.NO_CANDIDATE] = size.c.domains - totals.c.with_candidates
    # The limit is a condition on the outer row alone: PostgreSQL tests it once and skips
    # the scan of a common flag.
    ids = {
        flag: _id_list(per_domain.c.domain_id, condition, counts[flag] <= RARE_FLAG_LIMIT)
        for flag, condition in has.items()
    }
    d = Domain.__table__.alias("fc_d")
    ids[Flag.NO_CANDIDATE] = _id_list(
        d.c.id,
        d.c.batch_id == batch,
        d.c.id.not_in(select(per_domain.c.domain_id)),
        counts[Flag.NO_CANDIDATE] <= RARE_FLAG_LIMIT,
    )
    return select(
        size.c.domains,
        *(counts[flag].label(flag.value) for flag in Flag),
        *(ids[flag].label(f"{flag.value}_ids") for flag in Flag),
    ).select_from(size.join(totals, true()))


def _id_list(column: ColumnElement[int], *conditions: ColumnElement[bool]) -> Any:
    """The ids that meet the conditions, comma-separated (NULL when none does)."""
    return (
        select(func.aggregate_strings(cast(column, Text), ",")).where(*conditions).scalar_subquery()
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
