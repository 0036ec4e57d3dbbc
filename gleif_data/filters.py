"""The one filter object that the CLI, the dashboard and the HTTP route share."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import ColumnElement, exists, false, func, or_, select
from sqlalchemy.sql import FromClause

from gleif_data.db import contains_text
from gleif_data.domains import decode_ace_labels
from gleif_data.flags import Flag, domain_condition
from gleif_data.models import GleifCandidate
from gleif_data.qa_state import QaStatus, status_expression

# The largest value each number filter can be compared with: candidate counts are SQL
# integers (PostgreSQL's 4-byte range; SQLite binds no larger than 8 bytes), scores are 0-100.
MAX_VALUES = {
    "min_candidates": 2_147_483_647,
    "max_candidates": 2_147_483_647,
    "min_name_score": 100,
    "max_name_score": 100,
}


@dataclass(frozen=True)
class DomainFilter:
    """Which domains of a batch to show or export; a selected domain keeps all its candidates.

    Text filters are case-insensitive substrings in which %, _ and quotes are literal;
    see trimmed_needle for the spaces around them.
    """

    domain_contains: str | None = None
    lei_contains: str | None = None
    name_contains: str | None = None
    min_candidates: int | None = None
    max_candidates: int | None = None
    flags: frozenset[Flag] = frozenset()
    qa_status: QaStatus | None = None
    min_name_score: int | None = None
    max_name_score: int | None = None

    def __post_init__(self) -> None:
        for name in ("domain_contains", "lei_contains", "name_contains"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be text")
            if value is not None:
                value = trimmed_needle(value)
                object.__setattr__(self, name, value)
        for name, top in MAX_VALUES.items():
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number")
            if value is not None and value < 0:
                raise ValueError(f"{name} must be 0 or more")
            if value is not None and value > top:
                raise ValueError(f"{name} must be {top:,} or less")
        for low_name, high_name in (
            ("min_candidates", "max_candidates"),
            ("min_name_score", "max_name_score"),
        ):
            low, high = getattr(self, low_name), getattr(self, high_name)
            if low is not None and high is not None and low > high:
                raise ValueError(f"{low_name} ({low}) is greater than {high_name} ({high})")
        try:
            object.__setattr__(self, "flags", frozenset(Flag(flag) for flag in self.flags))
            if self.qa_status is not None:
                object.__setattr__(self, "qa_status", QaStatus(self.qa_status))
        except ValueError as exc:
            raise ValueError(f"unknown {exc}".replace("is not a valid", "is not a")) from None

    def active(self) -> dict[str, str | int]:
        """The filters that are set, by name; flags as one comma-separated text."""
        values: dict[str, str | int] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "flags":
                if value:
                    values["flags"] = ",".join(flag.value for flag in Flag if flag in value)
            elif isinstance(value, QaStatus):
                values[f.name] = value.value
            elif value is not None:
                values[f.name] = value
        return values

    @property
    def uses_counts(self) -> bool:
        """Whether the filter needs each domain's candidate count."""
        return self.min_candidates is not None or self.max_candidates is not None

    def conditions(
        self, domains: FromClause, candidate_count: ColumnElement[int] | None = None
    ) -> list[ColumnElement[bool]]:
        """SQL conditions on a `domains` row; count filters need the domain's candidate count."""
        where: list[ColumnElement[bool]] = []
        texts = (self.domain_contains, self.lei_contains, self.name_contains)
        if any(text is not None and "\x00" in text for text in texts):
            return [false()]  # no stored text holds NUL (PostgreSQL refuses it outright)
        if self.domain_contains is not None:
            # Imports store domains in Unicode form; a legacy database may hold the ACE
            # (xn--) spelling the filter was typed in: either one matches.
            unicode = decode_ace_labels(self.domain_contains)
            where.append(
                contains_text(domains.c.domain, self.domain_contains)
                if unicode == self.domain_contains
                else or_(
                    contains_text(domains.c.domain, unicode),
                    contains_text(domains.c.domain, self.domain_contains),
                )
            )
        if self.lei_contains is not None:
            where.append(_any_candidate(domains, GleifCandidate.lei_code, self.lei_contains))
        if self.name_contains is not None:
            where.append(_any_candidate(domains, GleifCandidate.legal_name, self.name_contains))
        if self.uses_counts:
            if candidate_count is None:
                raise ValueError("count filters need the candidate count")
            if self.min_candidates is not None:
                where.append(candidate_count >= self.min_candidates)
            if self.max_candidates is not None:
                where.append(candidate_count <= self.max_candidates)
        where.extend(domain_condition(flag, domains) for flag in Flag if flag in self.flags)
        if self.qa_status is not None:
            where.append(status_expression(domains) == self.qa_status.value)
        if self.min_name_score is not None or self.max_name_score is not None:
            # A domain's name score is its best candidate's; unscored domains never match.
            scored = GleifCandidate.__table__.alias("scored")
            best = (
                select(func.max(scored.c.name_score))
                .where(scored.c.domain_id == domains.c.id)
                .scalar_subquery()
            )
            if self.min_name_score is not None:
                where.append(best >= self.min_name_score)
            if self.max_name_score is not None:
                where.append(best <= self.max_name_score)
        return where


def trimmed_needle(value: str) -> str | None:
    """A text filter as typed, without surrounding blanks; only spaces mean one space."""
    # '  bank ' is meant as 'bank' (pasted text brings spaces along). A box of nothing but
    # spaces has no other meaning than "holds a space"; an empty box filters nothing.
    trimmed = value.strip()
    if trimmed:
        return trimmed
    return " " if " " in value else None


def _any_candidate(
    domains: FromClause, column: ColumnElement[str | None], needle: str
) -> ColumnElement[bool]:
    return exists(
        select(1).where(GleifCandidate.domain_id == domains.c.id, contains_text(column, needle))
    )
