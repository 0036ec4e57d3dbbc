import pytest
from sqlalchemy import inspect, text

from gleif_data.db import make_engine
from gleif_data.migrate import is_up_to_date, upgrade
from tests.support import table_rows
from tests.transactions import read

LEGACY_SCHEMA = [
    # As the legacy app created them: varchar types, an extra column, ids without defaults.
    "CREATE TABLE domains (id integer PRIMARY KEY, domain varchar(255), batch_id varchar(64),"
    " created_by varchar(40))",
    "CREATE TABLE gleif_candidates (id integer PRIMARY KEY,"
    " domain_id integer REFERENCES domains(id), lei_code varchar(20), legal_name text)",
    "INSERT INTO domains VALUES (7, 'acme.com', 'legacy', 'etl'), (9, 'zeta.de', 'legacy', NULL)",
    "INSERT INTO gleif_candidates VALUES (3, 7, '5493001KJTIIGC8Y1R12', 'ACME INC')",
]


@pytest.fixture
def legacy(blank_url):
    """A database with the legacy app's two tables and a few rows, not migrated."""
    engine = make_engine(blank_url)
    with engine.begin() as connection:
        for statement in LEGACY_SCHEMA:
            connection.execute(text(statement))
    yield engine
    engine.dispose()


def schema_of(engine):
    inspector = inspect(engine)
    return {
        table: (
            [
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ],
            sorted(i["name"] for i in inspector.get_indexes(table)),
        )
        for table in inspector.get_table_names()
    }


def test_an_empty_database_gets_the_whole_schema(blank_url):
    engine = make_engine(blank_url)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"domains", "gleif_candidates", "lei_records", "alembic_version"} <= tables
    assert read(engine, is_up_to_date)
    engine.dispose()


def test_a_legacy_database_is_upgraded_in_place_with_its_rows_untouched(legacy):
    domains_before, candidates_before = (
        table_rows(legacy, "domains"),
        table_rows(legacy, "gleif_candidates"),
    )

    upgrade(legacy)

    assert table_rows(legacy, "domains") == domains_before
    assert [row[:4] for row in table_rows(legacy, "gleif_candidates")] == candidates_before
    columns = {c["name"]: c for c in inspect(legacy).get_columns("gleif_candidates")}
    assert {"match_score", "match_method"} <= set(columns)
    assert "created_by" in {c["name"] for c in inspect(legacy).get_columns("domains")}
    indexes = {i["name"] for i in inspect(legacy).get_indexes("gleif_candidates")}
    assert "ix_gleif_candidates_domain_id_id" in indexes


def test_migrating_twice_changes_nothing(legacy):
    upgrade(legacy)
    schema = schema_of(legacy)
    upgrade(legacy)
    assert schema_of(legacy) == schema
    assert len(table_rows(legacy, "domains")) == 2


def test_new_rows_in_a_legacy_table_get_ids_after_the_existing_ones(legacy):
    upgrade(legacy)
    with legacy.begin() as connection:
        connection.execute(text("INSERT INTO domains (domain, batch_id) VALUES ('new.com', 'b')"))
    assert [row[0] for row in table_rows(legacy, "domains")] == [7, 9, 10]
