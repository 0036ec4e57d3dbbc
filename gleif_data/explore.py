"""Explore a batch page by page: keyset paging, so a deep page costs what the first one does."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, or_, select

from gleif_data.db import LIST_SEPARATOR
from gleif_data.filters import DomainFilter
from gleif_data.flags import domain_flag_list
from gleif_data.models import Domain, GleifCandidate
from gleif_data.overview import count_from_summary, domains_with_flags
from gleif_data.qa_state import status_expression

DEFAULT_PAGE_SIZE = 50


class SortOrder(StrEnum):
    """How the domains of a page are ordered."""

    FILE = "file"
    DOMAIN = "domain"
    MOST_CANDIDATES = "most"
    FEWEST_CANDIDATES = "fewest"

    @property
    def label(self) -> str:
        """The analyst's words for the order."""
        return {
            SortOrder.FILE: "Import order",
            SortOrder.DOMAIN: "Domain A-Z",
            SortOrder.MOST_CANDIDATES: "Most candidates first",
            SortOrder.FEWEST_CANDIDATES: "Fewest candidates first",
        }[self]

    @property
    def uses_counts(self) -> bool:
        """Whether ordering needs every domain's candidate count."""
        return self in (SortOrder.MOST_CANDIDATES, SortOrder.FEWEST_CANDIDATES)


@dataclass(frozen=True)
class Cursor:
    """A position in a sorted batch: the sort value and the id of a domain."""

    value: str | int | None
    domain_id: int

    def encode(self) -> str:
        """A short, URL-safe text for the query string."""
        raw = json.dumps([self.value, self.domain_id], ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse `encode`'s output; ValueError on anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            value, domain_id = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise ValueError("not a page position") from None
        if not isinstance(domain_id, int) or not isinstance(value, str | int | None):
            raise ValueError("not a page position")
        return cls(value, domain_id)


@dataclass(frozen=True)
class DomainRow:
    """One domain as the Explore table shows it."""

    domain_id: int
    domain: str
    candidate_count: int
    lei_codes: str
    legal_names: str
    flags: str = ""
    qa_status: str = ""
    candidates: tuple[tuple[str, str], ...] = ()  # (LEI, legal name), in the matching's order


@dataclass(frozen=True)
class ExplorePage:
    """A page of domains and where the neighbouring pages start."""

    rows: list[DomainRow]
    next_after: Cursor | None
    previous_before: Cursor | None
    first: Cursor | None = None  # where the page's first row sits, for count_before


def explore_page(
    connection: Connection,
    batch: str,
    filters: DomainFilter,
    *,
    sort: SortOrder = SortOrder.FILE,
    after: Cursor | None = None,
    before: Cursor | None = None,
    last: bool = False,
    size: int = DEFAULT_PAGE_SIZE,
) -> ExplorePage:
    """The page after `after` (or before `before`, the `last` page, or the first page)."""
    flagged = domains_with_flags(connection, batch, filters.flags)
    if flagged is not None and not flagged:
        return ExplorePage(rows=[], next_after=None, previous_before=None)
    d = Domain.__table__.alias("d")
    query, keys = _filtered(batch, filters, sort, d, flagged)
    query = query.with_only_columns(d.c.id, *(key for key, _ in keys[:-1]))
    # The last page is the first page read backwards from the end.
    backwards = before is not None or last
    cursor = before if backwards else after
    if cursor is not None:
        query = query.where(_beyond(keys, cursor, backwards))
    query = query.order_by(*(_direction(key, desc != backwards) for key, desc in keys))
    found = connection.execute(query.limit(size + 1)).all()
    more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    ids = [row[0] for row in found]
    rows = _page_rows(connection, ids)

    def position(row: Sequence[Any]) -> Cursor:
        return Cursor(row[1] if len(row) > 1 else None, row[0])

    has_next = more if not backwards else not last
    has_previous = more if backwards else after is not None
    return ExplorePage(
        rows=rows,
        next_after=position(found[-1]) if found and has_next else None,
        previous_before=position(found[0]) if found and has_previous else None,
        first=position(found[0]) if found else None,
    )


def count_before(
    connection: Connection,
    batch: str,
    filters: DomainFilter,
    *,
    sort: SortOrder,
    position: Cursor,
) -> int:
    """How many filtered domains come before `position` in the order: a page's row offset."""
    flagged = domains_with_flags(connection, batch, filters.flags)
    if flagged is not None and not flagged:
        return 0
    d = Domain.__table__.alias("d")
    query, keys = _filtered(batch, filters, sort, d, flagged)
    query = query.with_only_columns(func.count()).where(_beyond(keys, position, True))
    return connection.execute(query).scalar_one()


def _filtered(
    batch: str, filters: DomainFilter, sort: SortOrder, d: Any, flagged: set[int] | None
) -> tuple[Select[Any], list[tuple[ColumnElement[Any], bool]]]:
    """The batch's domains that pass the filters (no columns yet), and the order's keys."""
    count = _candidate_count(batch, d) if sort.uses_counts or filters.uses_counts else None
    query = (
        select(d.c.id)
        .select_from(d)
        .where(d.c.batch_id == batch, *filters.conditions(d, count), *_among(d, flagged))
    )
    return query, _sort_keys(sort, d, count)


def count_domains(connection: Connection, batch: str, filters: DomainFilter) -> int:
    """How many domains of the batch pass the filters (from the batch's counts when they can)."""
    known = count_from_summary(connection, batch, filters)
    if known is not None:
        return known
    flagged = domains_with_flags(connection, batch, filters.flags)
    if flagged is not None and not flagged:
        return 0
    d = Domain.__table__.alias("d")
    count = _candidate_count(batch, d) if filters.uses_counts else None
    query = (
        select(func.count())
        .select_from(d)
        .where(d.c.batch_id == batch, *filters.conditions(d, count), *_among(d, flagged))
    )
    return connection.execute(query).scalar_one()


def _among(d: Any, ids: set[int] | None) -> list[ColumnElement[bool]]:
    """No condition, or: the domain is one of `ids` (the filters still apply to them)."""
    return [] if ids is None else [d.c.id.in_(sorted(ids))]


def _candidate_count(batch: str, d: Any) -> ColumnElement[int]:
    """A domain's candidate count, as a correlated subquery that the index answers."""
    return (
        select(func.count())
        .where(GleifCandidate.domain_id == d.c.id)
        .correlate(d)
        .scalar_subquery()
    )


def _sort_keys(
    sort: SortOrder, d: Any, count: ColumnElement[int] | None
) -> list[tuple[ColumnElement[Any], bool]]:
    """(expression, descending) pairs; the domain id comes last and breaks ties."""
    tie = (d.c.id, False)
    if sort is SortOrder.DOMAIN:
        return [(d.c.domain, False), tie]
    if sort.uses_counts:
        assert count is not None
        return [(count, sort is SortOrder.MOST_CANDIDATES), tie]
    return [tie]


def _direction(key: ColumnElement[Any], descending: bool) -> ColumnElement[Any]:
    return key.desc() if descending else key.asc()


def _beyond(
    keys: list[tuple[ColumnElement[Any], bool]], cursor: Cursor, backwards: bool
) -> ColumnElement[bool]:
    """Rows strictly after (or before) the cursor in the sort order."""
    values = [cursor.value] * (len(keys) - 1) + [cursor.domain_id]
    conditions = []
    for depth, ((key, descending), value) in enumerate(zip(keys, values, strict=True)):
        later = (key < value) if descending != backwards else (key > value)
        equal_before = [k == v for (k, _), v in zip(keys[:depth], values[:depth], strict=True)]
        conditions.append(and_(*equal_before, later))
    return or_(*conditions)


def _page_rows(connection: Connection, ids: list[int]) -> list[DomainRow]:
    """The page's domains with their candidates, joined here: a page is small."""
    if not ids:
        return []
    c = GleifCandidate.__table__
    d = Domain.__table__.alias("page_d")
    domains_query = select(d.c.id, d.c.domain, domain_flag_list(d), status_expression(d)).where(
        d.c.id.in_(ids)
    )
    candidates_query = (
        select(c.c.domain_id, c.c.lei_code, c.c.legal_name)
        .where(c.c.domain_id.in_(ids))
        .order_by(c.c.domain_id, c.c.id)
    )
    domains = {row[0]: row[1:] for row in connection.execute(domains_query)}
    lists: dict[int, list[tuple[str, str]]] = {domain_id: [] for domain_id in ids}
    for domain_id, code, name in connection.execute(candidates_query):
        lists[domain_id].append((code or "", name or ""))
    return [
        DomainRow(
            domain_id=domain_id,
            domain=domains[domain_id][0] or "",
            candidate_count=len(lists[domain_id]),
            lei_codes=LIST_SEPARATOR.join(code for code, _ in lists[domain_id]),
            legal_names=LIST_SEPARATOR.join(name for _, name in lists[domain_id]),
            flags=domains[domain_id][1],
            qa_status=domains[domain_id][2],
            candidates=tuple(lists[domain_id]),
        )
        for domain_id in ids
    ]
