"""The one filter object that the CLI, the dashboard and the HTTP route share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, func, or_, select
from sqlalchemy.sql import FromClause

from gleif_data.db import contains_text
from gleif_data.domains import decode_ace_labels
from gleif_data.fields import Field, check_range
from gleif_data.flags import Flag, domain_condition
from gleif_data.models import GleifCandidate
from gleif_data.qa_state import QaStatus, status_expression

# Candidate counts are SQL integers (PostgreSQL's 4-byte range; SQLite binds no larger than
# 8 bytes); name scores are 0-100.
MAX_COUNT = 2_147_483_647
MAX_SCORE = 100

# Every filter, once: its label, kind and help. The CLI options, the URL parameters, the
# dashboard's inputs and the README's table all come from here (see view.py); a new filter
# is a field here, an attribute below and its SQL condition in `conditions`.
FILTER_FIELDS: tuple[Field, ...] = (
    Field("domain_contains", "Domain contains", "text", "Part of the domain name."),
    Field("lei_contains", "LEI contains", "text", "Part of any candidate's LEI code."),
    Field("name_contains", "Legal name contains", "text", "Part of any candidate's legal name."),
    Field(
        "min_candidates",
        "Candidates at least",
        "number",
        "Domains with at least this many candidates.",
        maximum=MAX_COUNT,
    ),
    Field(
        "max_candidates",
        "Candidates at most",
        "number",
        "Domains with at most this many candidates.",
        maximum=MAX_COUNT,
    ),
    Field(
        "flags",
        "Flags (all of)",
        "flags",
        "Domains with every one of these QA flags.",
        choices=Flag,
        default=frozenset(),
        cli="--flag",
        cli_help="Domains with this QA flag (repeat: all of them).",
    ),
    Field("qa_status", "QA status", "choice", "Domains in this QA state.", choices=QaStatus),
    Field(
        "min_name_score",
        "Name score at least",
        "number",
        "Domains whose best candidate's name score is at least this (0-100).",
        maximum=MAX_SCORE,
    ),
    Field(
        "max_name_score",
        "Name score at most",
        "number",
        "Domains whose best candidate's name score is at most this (0-100).",
        maximum=MAX_SCORE,
    ),
)
# Pairs of (lower bound, upper bound) that must not cross.
FILTER_RANGES = (("min_candidates", "max_candidates"), ("min_name_score", "max_name_score"))


@dataclass(frozen=True)
class DomainFilter:
    """Which domains of a batch to show or export; a selected domain keeps all its candidates.

    Text filters are case-insensitive substrings in which %, _ and quotes are literal;
    see trimmed_needle for the spaces around them. A bad value raises ViewError naming the
    field by its label.
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
        values = {f.name: f.check(getattr(self, f.name)) for f in FILTER_FIELDS}
        for low, high in FILTER_RANGES:
            check_range(FILTER_FIELDS, values, low, high)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def active(self) -> dict[str, str | int]:
        """The filters that are set, by name; flags as one comma-separated text."""
        values: dict[str, str | int] = {}
        for f in FILTER_FIELDS:
            value = getattr(self, f.name)
            if f.to_text(value) is not None:
                values[f.name] = value if isinstance(value, int) else str(f.to_text(value))
        return values

    def to_query(self) -> dict[str, str]:
        """The URL query parameters of the filters that are set."""
        texts = {f.parameter: f.to_text(getattr(self, f.name)) for f in FILTER_FIELDS}
        return {name: text for name, text in texts.items() if text is not None}

    def describe(self) -> str:
        """`Domain contains "bank", Candidates at least 2`: the filters set, in words."""
        return ", ".join(
            f.describe(getattr(self, f.name))
            for f in FILTER_FIELDS
            if f.to_text(getattr(self, f.name)) is not None
        )

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


def _any_candidate(
    domains: FromClause, column: ColumnElement[str | None], needle: str
) -> ColumnElement[bool]:
    return exists(
        select(1).where(GleifCandidate.domain_id == domains.c.id, contains_text(column, needle))
    )
