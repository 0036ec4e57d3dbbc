"""The constructs that PostgreSQL and SQLite spell differently give the same answers on both."""

import pytest
from sqlalchemy import String, literal, null, select, text, union_all

from gleif_data.db import LIST_SEPARATOR, candidate_lists
from gleif_data.models import LeiRecord
from gleif_data.sql_dialects import byte_order, strpos, upsert
from tests.support import ACME, ZETA, table_rows


@pytest.mark.parametrize(
    ("haystack", "needle", "position"),
    [
        ("acme.com", "acme", 1),
        ("ab%c_d", "%c", 3),  # no LIKE wildcards
        ("ab%c_d", "_", 5),
        ("bücher.de", "cher", 3),  # characters, not bytes
        ("acme.com", "zeta", 0),
        ("acme.com", "", 1),
        (None, "acme", None),
    ],
)
def test_strpos_finds_the_first_position_of_plain_text(engine, haystack, needle, position):
    value = null() if haystack is None else literal(haystack, String)
    with engine.connect() as connection:
        assert connection.execute(select(strpos(value, needle))).scalar_one() == position


def test_byte_order_sorts_and_compares_by_code_point(engine):
    words = union_all(
        *(select(literal(w, String).label("word")) for w in ["a", "_", "B", "Z", "b", "1"])
    ).subquery("words")
    word = byte_order(words.c.word)
    query = select(words.c.word).where(word >= "B").order_by(word)
    with engine.connect() as connection:
        assert connection.execute(query).scalars().all() == ["B", "Z", "_", "a", "b"]


def test_an_upsert_inserts_then_updates_every_column_but_the_key(engine):
    table = LeiRecord.__table__
    first = {"lei": ACME, "legal_name": "ACME", "entity_status": "ACTIVE"}
    second = {"lei": ACME, "legal_name": "ACME Holdings", "entity_status": "INACTIVE"}
    with engine.begin() as connection:
        connection.execute(upsert(engine.dialect, table, first, key="lei"))
        connection.execute(upsert(engine.dialect, table, second, key="lei"))
    stored = [(r.lei, r.legal_name, r.entity_status) for r in table_rows(engine, "lei_records")]
    assert stored == [(ACME, "ACME Holdings", "INACTIVE")]


def test_an_upsert_with_a_condition_leaves_the_row_when_it_does_not_hold(engine):
    table = LeiRecord.__table__
    with engine.begin() as connection:
        connection.execute(
            upsert(engine.dialect, table, {"lei": ACME, "legal_name": "B"}, key="lei")
        )
        for name in ("A", "C"):  # only a name later in the alphabet replaces the stored one
            statement = upsert(
                engine.dialect,
                table,
                {"lei": ACME, "legal_name": name},
                key="lei",
                only_if=lambda excluded: table.c.legal_name < excluded.legal_name,
            )
            connection.execute(statement)
    assert [r.legal_name for r in table_rows(engine, "lei_records")] == ["C"]


def test_candidate_lists_keep_candidate_id_order_whatever_the_rows_physical_order(engine):
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (1, 'a.com', 'b1')")
        )
        connection.execute(
            text(
                "INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name) VALUES "
                "(30, 1, :zeta, 'Third'), (10, 1, :acme, 'First'), (20, 1, :zeta, 'Second')"
            ),
            {"acme": ACME, "zeta": ZETA},
        )
        # An updated row moves to the end of a PostgreSQL table's heap.
        connection.execute(text("UPDATE gleif_candidates SET legal_name = 'First' WHERE id = 10"))
    lists = candidate_lists(engine.dialect.name, "b1")
    with engine.connect() as connection:
        row = connection.execute(select(lists)).one()
    assert row.candidate_count == 3
    assert row.lei_codes == LIST_SEPARATOR.join([ACME, ZETA, ZETA])
    assert row.legal_names == LIST_SEPARATOR.join(["First", "Second", "Third"])
