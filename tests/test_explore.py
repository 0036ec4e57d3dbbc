"""Keyset paging: walking the pages forward and back gives every domain once, in order."""

import itertools

import pytest

from gleif_data.explore import Cursor, SortOrder, count_before, count_domains, explore_page
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from tests.support import ACME, ZETA, write_csv
from tests.transactions import read


@pytest.fixture
def batch(engine, tmp_path):
    rows = []
    for i in range(37):
        domain = f"d{(i * 7) % 37:02}.com"  # file order differs from name order
        for lei in (ACME, ZETA)[: i % 3]:
            rows.append([domain, lei, f"Name {i}", "", ""])
        if i % 3 == 0:
            rows.append([domain, "", "", "", ""])
    import_batch(engine, write_csv(tmp_path / "b.csv", rows), "b1")
    return engine


def walk(engine, sort, filters=None, size=5):
    filters = filters or DomainFilter()
    pages, after = [], None
    while True:
        page = read(engine, explore_page, "b1", filters, sort=sort, after=after, size=size)
        pages.append(page)
        if page.next_after is None:
            return pages
        after = page.next_after


@pytest.mark.parametrize("sort", list(SortOrder))
def test_every_domain_appears_once_in_the_sort_order(batch, sort):
    pages = walk(batch, sort)
    domains = [row for page in pages for row in page.rows]
    assert len(domains) == 37 == len({row.domain_id for row in domains})
    keys = {
        SortOrder.FILE: lambda r: r.domain_id,
        SortOrder.DOMAIN: lambda r: (r.domain, r.domain_id),
        SortOrder.MOST_CANDIDATES: lambda r: (-r.candidate_count, r.domain_id),
        SortOrder.FEWEST_CANDIDATES: lambda r: (r.candidate_count, r.domain_id),
    }
    assert domains == sorted(domains, key=keys[sort])


@pytest.mark.parametrize("sort", list(SortOrder))
def test_previous_pages_are_the_pages_walked_forward(batch, sort):
    pages = walk(batch, sort)
    for earlier, later in itertools.pairwise(pages):
        back = read(
            batch,
            explore_page,
            "b1",
            DomainFilter(),
            sort=sort,
            before=later.previous_before,
            size=5,
        )
        assert back.rows == earlier.rows


@pytest.mark.parametrize("sort", list(SortOrder))
def test_the_last_page_holds_the_final_rows_and_pages_back_to_the_first(batch, sort):
    forward = [row for page in walk(batch, sort) for row in page.rows]
    last = read(batch, explore_page, "b1", DomainFilter(), sort=sort, last=True, size=5)
    assert last.rows == forward[-5:]
    assert last.next_after is None
    backward, page = [], last
    while True:
        backward[:0] = page.rows
        if page.previous_before is None:
            break
        page = read(
            batch,
            explore_page,
            "b1",
            DomainFilter(),
            sort=sort,
            before=page.previous_before,
            size=5,
        )
    assert backward == forward


@pytest.mark.parametrize("sort", list(SortOrder))
@pytest.mark.parametrize(
    "filters",
    [DomainFilter(), DomainFilter(min_candidates=1), DomainFilter(flags=frozenset({"ambiguous"}))],
)
def test_count_before_is_the_row_offset_of_each_page(batch, sort, filters):
    offset = 0
    for page in walk(batch, sort, filters):
        assert page.first is not None
        assert read(batch, count_before, "b1", filters, sort=sort, position=page.first) == offset
        offset += len(page.rows)
    last = read(batch, explore_page, "b1", filters, sort=sort, last=True, size=5)
    assert last.first is not None
    position = read(batch, count_before, "b1", filters, sort=sort, position=last.first)
    assert position == read(batch, count_domains, "b1", filters) - 5


def test_rows_list_their_candidates_in_the_matching_order(batch):
    rows = [row for page in walk(batch, SortOrder.FILE) for row in page.rows]
    two = next(row for row in rows if row.candidate_count == 2)
    assert two.candidates == (
        (ACME, two.legal_names.split("; ")[0]),
        (ZETA, two.legal_names.split("; ")[1]),
    )


def test_filters_apply_while_paging(batch):
    filters = DomainFilter(min_candidates=2)
    rows = [row for page in walk(batch, SortOrder.DOMAIN, filters) for row in page.rows]
    assert all(row.candidate_count == 2 for row in rows)
    assert len(rows) == read(batch, count_domains, "b1", filters) == 12


def test_a_cursor_survives_the_url_and_garbage_does_not():
    cursor = Cursor("d'07.com; ü", 12)
    assert Cursor.decode(cursor.encode()) == cursor
    for broken in ("", "!!", "bm90IGpzb24", Cursor("x", 1).encode()[:-2]):
        with pytest.raises(ValueError, match="not a page position"):
            Cursor.decode(broken)
