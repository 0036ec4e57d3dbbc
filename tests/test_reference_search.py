"""The reference search: names and LEIs of lei_records, fuzzy and ranked, on both databases."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, text

from gleif_data import reference_search
from gleif_data.db import make_engine
from gleif_data.errors import GleifDataError
from gleif_data.import_gleif import import_gleif
from gleif_data.migrate import alembic_config, upgrade
from gleif_data.reference_search import (
    ReferenceMatch,
    common_name_query,
    lei_prefix_query,
    looks_like_lei,
    name_words,
    postgresql_name_query,
    search_reference,
)
from gleif_data.text_fold import fold_text
from tests.support import sample_records, write_csv
from tests.test_query_plans import nodes, plan
from tests.transactions import read

DEUTSCHE_BANK = "7LTWFZYICNSX8D621K86"
POSTBANK = "529900TYH44YY8WYW281"
IST_VEST = "21380021F76TU62T3740"  # ЗАКРЫТОЕ АКЦИОНЕРНОЕ ОБЩЕСТВО "ИСТ ВЕСТ ФИНАНС"
KOKOTAS = "213800LTUMXMHBHVQU10"  # ΚΟΚΟΤΑΣ ΚΛΙΜΑΤΙΣΜΟΣ ΑΝΩΝΥΜΗ ΕΤΑΙΡΕΙΑ
BANK_OF_CHINA_CJK = "54930053HGCFWVHYZX42"  # 中国银行股份有限公司
BANK_OF_CHINA = "254900DOHD6ZQSF7GZ43"  # BANK OF CHINA LIMITED
# Two records with the same legal name, "Bank Alfalah Limited".
ALFALAH = ["25490030MB3LJ3S8TQ65", "2549007VBBNOQL2IVZ08"]
SCRIPT_EXAMPLES = {IST_VEST, KOKOTAS, BANK_OF_CHINA_CJK}
GOLDEN_HEADER = ["LEI", "Entity.LegalName", "Registration.RegistrationStatus"]


def chosen_records() -> list[dict[str, str]]:
    """The sample's banks, every name with "deutsch", and names in other scripts (~80)."""
    return [
        r
        for r in sample_records()
        if "bank" in r["Entity.LegalName"].lower()
        or "deutsch" in r["Entity.LegalName"].lower()
        or r["LEI"] in SCRIPT_EXAMPLES
        or r["LEI"].startswith("5493")
    ]


def import_records(engine: Engine, folder: Path, records: list[dict[str, str]]) -> None:
    path = write_csv(folder / "golden.csv", [list(r.values()) for r in records], list(records[0]))
    import_gleif(engine, path)


@pytest.fixture
def reference(engine: Engine, tmp_path: Path) -> Engine:
    """The test database with the chosen real GLEIF records imported."""
    import_records(engine, tmp_path, chosen_records())
    return engine


def leis(matches: list[ReferenceMatch]) -> list[str]:
    return [m.lei for m in matches]


def test_the_exact_legal_name_comes_first_with_score_100(reference):
    found = read(reference, search_reference, "DEUTSCHE BANK AKTIENGESELLSCHAFT")
    assert found[0] == ReferenceMatch(
        lei=DEUTSCHE_BANK,
        legal_name="DEUTSCHE BANK AKTIENGESELLSCHAFT",
        registration_status="ISSUED",
        entity_status="ACTIVE",
        legal_address_country="DE",
        headquarters_country="DE",
        legal_jurisdiction="DE",
        score=100,
    )
    assert all(m.score < 100 for m in found[1:])


@pytest.mark.parametrize(
    "query",
    [
        "deutsche bank",
        "bank deutsche",
        "deutshe bank",
        "deutsche bnak",
        "  Deutsche   BANK ",
        "deutsche bank ag",
        "deutsche-bank",
    ],
)
def test_typos_case_spacing_and_word_order_still_find_deutsche_bank_first(reference, query):
    found = read(reference, search_reference, query)
    assert found[0].lei == DEUTSCHE_BANK
    assert found[0].score >= 80


@pytest.mark.parametrize(
    ("query", "lei"),
    [
        ("ист вест финанс", IST_VEST),
        ("ИСТ ВЕСТ", IST_VEST),
        # A final sigma in the query, capital sigmas in the name: folded alike (text_fold).
        ("κλιματισμος κοκοτας", KOKOTAS),
        ("中国银行", BANK_OF_CHINA_CJK),
    ],
)
def test_names_in_other_scripts_are_found(reference, query, lei):
    assert read(reference, search_reference, query)[0].lei == lei


def test_a_whole_lei_finds_its_record_whatever_its_case_and_spaces(reference):
    found = read(reference, search_reference, f"  {DEUTSCHE_BANK.lower()} ")
    assert leis(found) == [DEUTSCHE_BANK]
    assert found[0].score == 100
    assert found[0].legal_name == "DEUTSCHE BANK AKTIENGESELLSCHAFT"


def test_an_lei_prefix_finds_the_leis_starting_with_it_in_lei_order(reference):
    expected = sorted(r["LEI"] for r in chosen_records() if r["LEI"].startswith("5493"))
    assert len(expected) > 5
    found = read(reference, search_reference, "5493", limit=5)
    assert leis(found) == expected[:5]
    assert {m.score for m in found} == {20}
    assert leis(read(reference, search_reference, "7ltw")) == [DEUTSCHE_BANK]


def test_an_lei_like_query_that_is_no_lei_prefix_searches_names(engine, tmp_path):
    records = [["529900AAAAAAAAAAAA00", "GROUP 4 SECURICOR", "ISSUED"]]
    import_records_rows(engine, tmp_path, records)
    assert looks_like_lei("group4")
    assert not looks_like_lei("bank")
    assert leis(read(engine, search_reference, "securicor4")) == ["529900AAAAAAAAAAAA00"]


def import_records_rows(engine: Engine, folder: Path, rows: list[list[str]]) -> None:
    import_gleif(engine, write_csv(folder / "rows.csv", rows, GOLDEN_HEADER))


@pytest.mark.parametrize("query", ["", "   ", "a", "ab", " é ", "%", "%_", "''", "a b", "5 %"])
def test_empty_and_too_short_queries_find_nothing(reference, query):
    assert read(reference, search_reference, query) == []


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_a_limit_out_of_range_is_refused(reference, limit):
    with pytest.raises(ValueError, match="limit must be from 1 to 1,000"):
        read(reference, search_reference, "bank", limit=limit)


def test_percent_underscore_and_quotes_are_plain_characters(engine, tmp_path):
    rows = [
        ["529900AAAAAAAAAAAA01", "100% O'BRIEN_SONS LIMITED", "ISSUED"],
        ["529900AAAAAAAAAAAA02", 'THE "QUOTED" COMPANY', "ISSUED"],
        ["529900AAAAAAAAAAAA03", "OBRIEN HOLDINGS", "ISSUED"],
    ]
    import_records_rows(engine, tmp_path, rows)
    assert read(engine, search_reference, "o'brien_sons")[0].lei == "529900AAAAAAAAAAAA01"
    assert read(engine, search_reference, "100% o'brien")[0].lei == "529900AAAAAAAAAAAA01"
    assert read(engine, search_reference, '"quoted"')[0].lei == "529900AAAAAAAAAAAA02"
    assert read(engine, search_reference, 'quoted" OR "company')[0].lei == "529900AAAAAAAAAAAA02"
    # Wildcards match nothing by themselves, and SQL in a query is text to search for.
    assert read(engine, search_reference, "%%%___") == []
    assert read(engine, search_reference, "o'brien\x00")[0].lei == "529900AAAAAAAAAAAA01"
    assert read(engine, search_reference, "'; DROP TABLE lei_records; --") == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM lei_records")).scalar() == 3


def test_the_limit_caps_the_results_and_a_large_one_returns_every_match(reference):
    assert len(read(reference, search_reference, "bank of china", limit=3)) == 3
    found = read(reference, search_reference, "bank", limit=500)
    banks = {r["LEI"] for r in chosen_records() if "bank" in name_words(r["Entity.LegalName"])}
    assert banks <= set(leis(found))


def test_results_are_ranked_best_first_and_ties_go_by_name_then_lei(reference):
    found = read(reference, search_reference, "bank of china", limit=20)
    assert found[0].lei == BANK_OF_CHINA
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    alfalah = read(reference, search_reference, "bank alfalah limited")
    assert leis(alfalah)[:2] == ALFALAH
    assert alfalah[0].score == alfalah[1].score == 100


def test_a_name_that_matches_no_word_finds_nothing_of_it(reference):
    assert DEUTSCHE_BANK not in leis(read(reference, search_reference, "zzyzx qwerty"))


def test_both_databases_rank_the_best_matches_alike(postgres_engine, tmp_path):
    # The candidates come from different indexes, so looser matches further down may differ.
    sqlite = make_engine(f"sqlite:///{tmp_path / 'alike.db'}")
    upgrade(sqlite)
    with postgres_engine.begin() as connection:
        connection.execute(text("TRUNCATE lei_records"))
    try:
        for engine in (sqlite, postgres_engine):
            import_records(engine, tmp_path, sample_records())
        queries = ["deutsche bank", "bank of china", "ανωνυμη εταιρεια", "gmbh", "holdings"]
        for query in [*queries, "banco", "limited", "deutshe bank", "ист вест финанс"]:
            best = [read(e, search_reference, query, limit=3) for e in (sqlite, postgres_engine)]
            depth = 2 if query in queries else 1
            assert best[0][:depth] == best[1][:depth], query
    finally:
        sqlite.dispose()
        with postgres_engine.begin() as connection:
            connection.execute(text("TRUNCATE lei_records"))


def test_renamed_deleted_and_added_records_are_searched_as_they_are_now(engine, tmp_path):
    import_records_rows(engine, tmp_path, [["529900AAAAAAAAAAAA04", "ZANZIBAR TRADING", ""]])
    assert leis(read(engine, search_reference, "zanzibar")) == ["529900AAAAAAAAAAAA04"]
    import_records_rows(engine, tmp_path, [["529900AAAAAAAAAAAA04", "KILIMANJARO TRADING", ""]])
    assert read(engine, search_reference, "zanzibar") == []
    assert leis(read(engine, search_reference, "kilimanjaro")) == ["529900AAAAAAAAAAAA04"]
    with engine.begin() as connection:
        connection.execute(text("UPDATE lei_records SET legal_name = NULL"))
        connection.execute(
            text(
                "INSERT INTO lei_records (lei, legal_name)"
                " VALUES ('X1234567890123456789', 'ZZ ZANZIBAR')"
            )
        )
    assert read(engine, search_reference, "kilimanjaro") == []
    assert leis(read(engine, search_reference, "zanzibar")) == ["X1234567890123456789"]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM lei_records"))
    assert read(engine, search_reference, "zanzibar") == []


def test_sqlite_search_survives_a_vacuum(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'vacuum.db'}")
    upgrade(engine)
    import_records(engine, tmp_path, chosen_records())
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM lei_records WHERE lei < '5'"))
    with contextlib.closing(sqlite3.connect(tmp_path / "vacuum.db")) as connection:
        connection.execute("VACUUM")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO lei_records (lei, legal_name) VALUES ('1', 'Bank x')"))
    assert read(engine, search_reference, "deutsche bank")[0].lei == DEUTSCHE_BANK
    assert read(engine, search_reference, "bank x")[0].lei == "1"
    engine.dispose()


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_the_migration_indexes_existing_records_runs_twice_and_downgrades(blank_url, tmp_path):
    engine = make_engine(blank_url)
    upgrade(engine)
    downgrade(engine, "0005")
    import_records(engine, tmp_path, chosen_records())
    upgrade(engine)
    assert read(engine, search_reference, "deutshe bank")[0].lei == DEUTSCHE_BANK
    upgrade(engine)
    downgrade(engine, "0005")
    with engine.connect() as connection:
        names = set(connection.execute(text(INDEX_AND_TABLE_NAMES[engine.dialect.name])).scalars())
    assert not names & {
        "ix_lei_records_legal_name_trgm",
        "ix_lei_records_lei_prefix",
        "lei_records_search",
    }
    upgrade(engine)
    assert read(engine, search_reference, "deutshe bank")[0].lei == DEUTSCHE_BANK
    engine.dispose()


INDEX_AND_TABLE_NAMES = {
    "sqlite": "SELECT name FROM sqlite_master",
    "postgresql": "SELECT relname FROM pg_class",
}


@pytest.fixture
def no_extension_role(blank_url) -> Iterator[Any]:
    """A fresh PostgreSQL database without pg_trgm, and a role that may create tables only."""
    if blank_url.get_backend_name() != "postgresql":
        pytest.skip("extensions are a PostgreSQL matter")
    role = f"gleif_noext_{os.getpid()}"
    admin = make_engine(blank_url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(text(f"GRANT ALL ON SCHEMA public TO {role}"))
    role_engine = make_engine(blank_url.set(username=role))
    yield role_engine
    role_engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP OWNED BY {role}"))
        connection.execute(text(f"DROP ROLE {role}"))
    admin.dispose()


def test_a_role_that_may_not_create_pg_trgm_is_told_what_the_dba_must_run(no_extension_role):
    with pytest.raises(GleifDataError) as raised:
        upgrade(no_extension_role)
    message = str(raised.value)
    assert "CREATE EXTENSION IF NOT EXISTS pg_trgm;" in message
    assert no_extension_role.url.database in message


def test_a_reader_role_can_search(engine, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("database roles are a PostgreSQL matter")
    import_records(engine, tmp_path, chosen_records())
    role = f"gleif_search_reader_{os.getpid()}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(text(f"GRANT SELECT ON lei_records TO {role}"))
    reader = make_engine(engine.url.set(username=role))
    try:
        assert read(reader, search_reference, "deutshe bank")[0].lei == DEUTSCHE_BANK
        assert leis(read(reader, search_reference, "7LTW")) == [DEUTSCHE_BANK]
    finally:
        reader.dispose()
        with engine.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))


@pytest.fixture(scope="module")
def many_names(postgres_engine: Engine) -> Iterator[Engine]:
    """50,000 analysed reference records on PostgreSQL, so that the planner chooses as at scale."""
    with postgres_engine.begin() as connection:
        connection.execute(text("TRUNCATE lei_records"))
        connection.execute(
            text(
                "INSERT INTO lei_records (lei, legal_name)"
                " SELECT lpad(g::text, 20, '0'), 'ENTITY ' || md5(g::text) || ' LIMITED'"
                " FROM generate_series(1, 50000) AS g"
            )
        )
    with postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE lei_records"))
    yield postgres_engine
    with postgres_engine.begin() as connection:
        connection.execute(text("TRUNCATE lei_records"))


def test_the_name_search_reads_the_trigram_index(many_names):
    tree = plan(many_names, postgresql_name_query(name_words("entity 3f2a9"), 200))
    used = {n.get("Index Name") for n in nodes(tree)}
    assert "ix_lei_records_legal_name_trgm" in used
    assert not [n for n in nodes(tree) if n["Node Type"] == "Seq Scan"]


def test_the_lei_prefix_search_reads_an_index(many_names):
    tree = plan(many_names, lei_prefix_query("000000000000000123", 10))
    assert {n.get("Index Name") for n in nodes(tree)} & {
        "ix_lei_records_lei_prefix",
        "lei_records_pkey",
    }
    assert not [n for n in nodes(tree) if n["Node Type"] == "Seq Scan"]


def test_a_query_most_names_match_walks_the_name_length_index(many_names):
    tree = plan(many_names, common_name_query("postgresql", name_words("entity"), 50, 20_000))
    assert "ix_lei_records_name_length" in {n.get("Index Name") for n in nodes(tree)}
    assert not [n for n in nodes(tree) if n["Node Type"] in ("Seq Scan", "Bitmap Heap Scan")]


def test_a_query_most_names_match_finds_the_names_nearest_its_length(many_names, monkeypatch):
    with many_names.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO lei_records (lei, legal_name) VALUES"
                " ('A0000000000000000001', 'ENTITY'), ('A0000000000000000002', 'ENTITY AG')"
            )
        )
    found = read(many_names, search_reference, "entity", limit=3)
    assert leis(found)[:2] == ["A0000000000000000001", "A0000000000000000002"]
    assert found[2].legal_name.startswith("ENTITY ")
    # A rare name is found alike, though the walks are tried first for it here.
    monkeypatch.setattr(reference_search, "COMMON_MATCHES", 0)
    rare = read(many_names, search_reference, "entity c4ca4238a0b923820dcc509a6f75849b")
    assert rare[0].legal_name == "ENTITY c4ca4238a0b923820dcc509a6f75849b LIMITED"


def test_the_walks_of_a_common_query_find_matches_on_both_databases(reference, monkeypatch):
    monkeypatch.setattr(reference_search, "COMMON_MATCHES", 1)
    monkeypatch.setattr(reference_search, "WALK_POOL", 5)
    found = read(reference, search_reference, "bank", limit=5)
    assert len(found) == 5
    assert all("bank" in fold_text(m.legal_name) for m in found)
    assert len(set(leis(found))) == 5
