"""Query plans on PostgreSQL: a page of the dashboard must not cost a whole batch.

The database is seeded with 20,000 domains in two batches and analysed, so that the planner
chooses as it does at scale. The second batch sits at high ids, as a batch imported later
does: a plan that walks the candidates from the lowest domain id pays for every older batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Select, func, select, text

from gleif_data.export import ExportLayout, ExportOptions, export_query
from gleif_data.filters import DomainFilter
from gleif_data.flags import flag_counts
from gleif_data.models import GleifCandidate
from gleif_data.overview import histogram_query, qa_status_query, registration_status_query
from tests.conftest import empty_tables

OLDER, LATER = "plans-older", "plans-later"
DOMAINS_PER_BATCH = 10_000
PAGE = 50
# A page of 50 domains has at most 500 candidates (the seed gives up to 4 per domain).
PAGE_CANDIDATE_ROWS = 500


@pytest.fixture(scope="module")
def seeded(postgres_engine: Engine) -> Iterator[Engine]:
    """Two analysed batches of 10,000 domains, 0 to 4 candidates each; emptied afterwards."""
    empty_tables(postgres_engine)
    with postgres_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO domains (domain, batch_id) "
                "SELECT 'site' || g || '.example.com', "
                "       CASE WHEN g <= :n THEN :older ELSE :later END "
                "FROM generate_series(1, 2 * :n) AS g"
            ),
            {"n": DOMAINS_PER_BATCH, "older": OLDER, "later": LATER},
        )
        connection.execute(
            text(
                "INSERT INTO gleif_candidates (domain_id, lei_code, legal_name) "
                "SELECT d.id, lpad(d.id::text || k, 20, '0'), 'Entity ' || d.id || ' ' || k "
                "FROM domains AS d CROSS JOIN LATERAL generate_series(1, d.id % 5) AS k "
                "ORDER BY d.id, k"
            )
        )
    with postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE domains, gleif_candidates"))
    yield postgres_engine
    empty_tables(postgres_engine)


def plan(engine: Engine, query: Select[Any]) -> dict[str, Any]:
    """The executed plan of a query (EXPLAIN ANALYZE, FORMAT JSON), as a tree of dicts."""
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    with engine.connect() as connection:
        # Parallel workers would split the row counts; one process keeps the numbers whole.
        connection.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        explained = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", compiled.params
        ).scalar_one()
    return explained[0]["Plan"]


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan tree."""
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def candidate_scans(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes that read gleif_candidates."""
    return [n for n in nodes(tree) if n.get("Relation Name") == "gleif_candidates"]


def rows_read(node: dict[str, Any]) -> int:
    """Rows a node produced over all its loops."""
    return int(node["Actual Rows"] * node["Actual Loops"])


def page_query(filters: DomainFilter | None = None) -> Select[Any]:
    """The query behind preview_rows: the first page of the domain layout."""
    options = ExportOptions(filters=filters or DomainFilter())
    return export_query("postgresql", LATER, options, limit=PAGE)


def assert_reads_one_page_of_candidates(tree: dict[str, Any]) -> None:
    """No sequential scan of gleif_candidates, and no more candidate rows than a page has."""
    scans = candidate_scans(tree)
    assert scans, "the query does not read gleif_candidates at all"
    assert not [n for n in scans if n["Node Type"] == "Seq Scan"], "seq scan of candidates"
    read = sum(rows_read(n) for n in scans)
    assert read <= PAGE_CANDIDATE_ROWS, f"{read:,} candidate rows read for a page of {PAGE}"


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param(None, id="no filter"),
        pytest.param(DomainFilter(domain_contains="99"), id="domain filter"),
    ],
)
def test_a_preview_page_aggregates_the_candidates_of_its_domains_only(seeded, filters):
    assert_reads_one_page_of_candidates(plan(seeded, page_query(filters)))


def test_a_preview_page_with_a_count_filter_counts_by_index_not_by_scanning(seeded):
    tree = plan(seeded, page_query(DomainFilter(min_candidates=3)))
    scans = candidate_scans(tree)
    assert not [n for n in scans if n["Node Type"] == "Seq Scan"]
    # Counting walks the batch in id order until the page is full: a few hundred domains.
    assert sum(rows_read(n) for n in scans) < 5 * PAGE_CANDIDATE_ROWS


def test_a_single_domains_candidates_are_read_through_the_domain_index(seeded):
    with seeded.connect() as connection:
        domain_id = connection.execute(
            text("SELECT max(id) FROM domains WHERE batch_id = :b"), {"b": LATER}
        ).scalar_one()
    query = (
        select(GleifCandidate)
        .where(GleifCandidate.domain_id == domain_id)
        .order_by(GleifCandidate.id)
    )
    scans = candidate_scans(plan(seeded, query))
    assert [n["Node Type"] for n in scans] in (["Index Scan"], ["Bitmap Heap Scan"])
    assert sum(rows_read(n) for n in scans) <= 10


def test_counting_the_domains_of_a_batch_does_not_read_the_candidates(seeded):
    query = export_query("postgresql", LATER, ExportOptions()).order_by(None).subquery()
    tree = plan(seeded, select(func.count()).select_from(query))
    assert candidate_scans(tree) == []


def test_the_full_export_reads_each_candidate_once(seeded):
    tree = plan(seeded, export_query("postgresql", LATER, ExportOptions()))
    scans = candidate_scans(tree)
    assert sum(rows_read(n) for n in scans) <= 2 * DOMAINS_PER_BATCH * 4


def test_the_candidate_layout_page_reads_one_page_of_candidates(seeded):
    options = ExportOptions(layout=ExportLayout.CANDIDATE)
    tree = plan(seeded, export_query("postgresql", LATER, options, limit=PAGE))
    assert_reads_one_page_of_candidates(tree)


def subplans(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """The correlated subqueries of a plan: run once per row of the node above them."""
    return [n for n in nodes(tree) if n.get("Parent Relationship") == "SubPlan"]


def scans_of(tree: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The nodes that read a table."""
    return [n for n in nodes(tree) if n.get("Relation Name") == table]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(flag_counts(LATER), id="flag counts"),
        pytest.param(histogram_query(LATER), id="histogram"),
        pytest.param(registration_status_query(LATER), id="registration statuses"),
    ],
)
def test_overview_counts_read_the_candidates_in_passes_not_per_domain(seeded, query):
    tree = plan(seeded, query)
    # A subquery runs at most once (the flag counts' lists of rare flags), never per domain.
    assert [n for n in subplans(tree) if n["Actual Loops"] > 1] == []
    # One scan, run once: the flag counts group what it read by LEI and then by domain.
    assert [n["Actual Loops"] for n in candidate_scans(tree)] == [1]


def test_qa_status_counts_read_the_decisions_of_the_batch_once(seeded):
    with seeded.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO qa_decisions (batch_id, domain, action, decided_by, decided_at) "
                "SELECT batch_id, domain, CASE WHEN id % 2 = 0 THEN 'accept' ELSE 'reject' END, "
                "       'ana', now() "
                "FROM domains WHERE id % 7 = 0"
            )
        )
    try:
        tree = plan(seeded, qa_status_query(LATER))
    finally:
        with seeded.begin() as connection:
            connection.execute(text("DELETE FROM qa_decisions"))
    assert subplans(tree) == []
    decision_scans = scans_of(tree, "qa_decisions")
    assert [n["Actual Loops"] for n in decision_scans] == [1] * len(decision_scans)
