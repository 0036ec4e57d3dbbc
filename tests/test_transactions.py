"""The request boundary: one read snapshot per page, one time limit, database errors translated once."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import select, text
from streamlit.testing.v1 import AppTest

from gleif_data.config import PROJECT_DIR
from gleif_data.db import make_engine
from gleif_data.errors import (
    DatabaseUnavailable,
    QueryRefused,
    QueryTimedOut,
    ReadOnlyDatabase,
)
from gleif_data.explore import count_domains, explore_page
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from gleif_data.models import BatchSummary
from gleif_data.overview import batch_overview
from gleif_data.transactions import read_snapshot, write_transaction
from tests.support import write_csv

ACME = "5493001KJTIIGC8Y1R12"
CANARY = "Pw-never-shown-7c1"  # a password in the URL; no message may show it
JOIN_SECONDS = 120


def _rows(prefix: str, count: int) -> list[list[str]]:
    return [[f"{prefix}{i}.com", ACME, f"{prefix.upper()} {i} Ltd", "", ""] for i in range(count)]


def _postgres_only(engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL matter")


def _replace_in_a_thread(engine, path: Path) -> None:
    """import-batch --replace from another connection, committed before this returns."""
    done: list[object] = []
    worker = threading.Thread(
        target=lambda: done.append(import_batch(engine, path, "b", replace=True))
    )
    worker.start()
    worker.join(timeout=JOIN_SECONDS)
    assert done, "the replacement did not commit in time"


def test_reads_in_one_snapshot_see_one_version_while_a_replacement_commits(engine, tmp_path):
    import_batch(engine, write_csv(tmp_path / "v1.csv", _rows("old", 7)), "b")
    replacement = write_csv(tmp_path / "v2.csv", _rows("new", 12))
    with read_snapshot(engine) as connection:
        before = explore_page(connection, "b", DomainFilter())
        _replace_in_a_thread(engine, replacement)
        after = explore_page(connection, "b", DomainFilter())
        counted = count_domains(connection, "b", DomainFilter(name_contains="ltd"))
        overview = batch_overview(connection, "b")
    assert [row.domain for row in after.rows] == [row.domain for row in before.rows]
    assert [row.domain for row in before.rows] == [f"old{i}.com" for i in range(7)]
    assert counted == overview.domains == 7
    with read_snapshot(engine) as connection:  # the next request sees the replacement
        assert count_domains(connection, "b", DomainFilter()) == 12


def test_an_explore_page_rendered_while_a_replacement_commits_shows_one_version(
    engine, tmp_path, monkeypatch
):
    import_batch(engine, write_csv(tmp_path / "v1.csv", _rows("old", 7)), "b")
    replacement = write_csv(tmp_path / "v2.csv", _rows("new", 12))

    def count_after_a_replacement(connection, batch, filters):
        # The page has shown its rows; the replacement commits before the count is read.
        _replace_in_a_thread(engine, replacement)
        return count_domains(connection, batch, filters)

    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=JOIN_SECONDS)
    at.run()
    monkeypatch.setattr("dashboard.data.count_domains", count_after_a_replacement)
    at.switch_page("pages/explore.py").run()
    assert not at.exception
    assert list(at.dataframe[0].value["domain"]) == [f"old{i}.com" for i in range(7)]
    captions = [caption.value for caption in at.caption]
    assert "7 domains" in captions
    assert any(c.startswith("7 of 7 domains match") for c in captions), captions

    monkeypatch.undo()  # the next render is a request of its own: it sees the new batch
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    st.cache_data.clear()
    at.run()
    assert list(at.dataframe[0].value["domain"]) == [f"new{i}.com" for i in range(12)]
    assert any(c.value.startswith("12 of 12 domains match") for c in at.caption)


def test_a_read_snapshot_is_repeatable_read_and_read_only_on_postgresql(engine):
    _postgres_only(engine)
    with read_snapshot(engine) as connection:
        isolation = connection.execute(text("SHOW transaction_isolation")).scalar_one()
        read_only = connection.execute(text("SHOW transaction_read_only")).scalar_one()
    assert (isolation, read_only) == ("repeatable read", "on")
    with write_transaction(engine) as connection:
        assert connection.execute(text("SHOW transaction_read_only")).scalar_one() == "off"
    with engine.connect() as connection:  # the pool's connection is reset afterwards
        assert connection.execute(text("SHOW transaction_read_only")).scalar_one() == "off"


@pytest.mark.parametrize("opening", [read_snapshot, write_transaction])
def test_every_transaction_gets_the_one_statement_time_limit(engine, monkeypatch, opening):
    _postgres_only(engine)
    monkeypatch.setenv("GLEIF_STATEMENT_TIMEOUT", "1.5")
    with opening(engine) as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "1500ms"
    with opening(engine, bulk=True) as connection:  # bulk work: the server's own setting
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() != "1500ms"


def test_a_statement_past_the_time_limit_is_query_timed_out(engine, monkeypatch):
    _postgres_only(engine)
    monkeypatch.setenv("GLEIF_STATEMENT_TIMEOUT", "1")
    with pytest.raises(QueryTimedOut, match="took too long") as info, read_snapshot(engine) as c:
        c.execute(text("SELECT pg_sleep(3)"))
    assert "statement timeout" in info.value.reason
    with read_snapshot(engine, bulk=True) as connection:  # bulk work is not limited
        connection.execute(text("SELECT pg_sleep(1.2)"))


def test_a_closed_port_is_database_unavailable_without_the_password():
    engine = make_engine(f"postgresql://analyst:{CANARY}@127.0.0.1:1/gleif")
    with pytest.raises(DatabaseUnavailable) as info, read_snapshot(engine):
        pass
    message = str(info.value)
    assert message.startswith("cannot reach PostgreSQL database 'gleif' on 127.0.0.1:1")
    assert CANARY not in message
    assert CANARY not in info.value.reason
    engine.dispose()


def test_a_sqlite_file_that_cannot_be_opened_is_database_unavailable(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'gleif.db'}")
    with pytest.raises(DatabaseUnavailable), read_snapshot(engine):
        pass
    engine.dispose()


def test_a_missing_table_is_query_refused_with_the_databases_reason(engine):
    with pytest.raises(QueryRefused) as info, read_snapshot(engine) as connection:
        connection.execute(text("SELECT * FROM no_such_table"))
    assert "no_such_table" in str(info.value)
    assert str(info.value).startswith("database error on ")


def test_a_write_to_a_read_only_database_is_read_only_database(engine, tmp_path):
    if engine.dialect.name == "postgresql":
        url = engine.url.set(query={"options": "-c default_transaction_read_only=on"})
    else:
        url = engine.url.set(database=f"file:{engine.url.database}?mode=ro", query={"uri": "true"})
    read_only = make_engine(url)
    with pytest.raises(ReadOnlyDatabase), write_transaction(read_only) as connection:
        connection.execute(text("DELETE FROM domains"))
    read_only.dispose()


def test_a_read_only_default_still_holds_on_a_connection_back_from_a_read_snapshot(engine):
    # As on a hot standby, where a transaction that asks for READ WRITE is refused.
    _postgres_only(engine)
    url = engine.url.set(query={"options": "-c default_transaction_read_only=on"})
    read_only = make_engine(url, pool_size=1, max_overflow=0)  # one connection, reused
    with read_snapshot(read_only) as connection:
        connection.execute(text("SELECT 1"))
    with pytest.raises(ReadOnlyDatabase), write_transaction(read_only) as connection:
        connection.execute(text("DELETE FROM domains"))
    read_only.dispose()


def test_a_write_inside_a_read_snapshot_is_read_only_database(engine):
    _postgres_only(engine)
    with pytest.raises(ReadOnlyDatabase), read_snapshot(engine) as connection:
        connection.execute(text("DELETE FROM domains"))


def test_counts_counted_in_a_read_snapshot_are_stored_when_it_ends(engine, tmp_path):
    import_batch(engine, write_csv(tmp_path / "v1.csv", _rows("old", 3)), "b")
    with engine.begin() as connection:  # another program's write makes the counts stale
        connection.execute(text("DELETE FROM gleif_candidates WHERE legal_name = 'OLD 0 Ltd'"))
    with read_snapshot(engine) as connection:
        assert batch_overview(connection, "b").candidates == 2
    with engine.connect() as connection:
        stored = connection.execute(select(BatchSummary.counts)).scalar_one()
    assert stored["candidates"] == 2


FRONT_ENDS = [
    *sorted((PROJECT_DIR / "dashboard").glob("*.py")),
    *sorted((PROJECT_DIR / "pages").glob("*.py")),
    PROJECT_DIR / "app.py",
    PROJECT_DIR / "gleif_data" / "cli.py",
    PROJECT_DIR / "gleif_data" / "http_export.py",
]


@pytest.mark.parametrize("path", FRONT_ENDS, ids=lambda path: path.name)
def test_no_front_end_imports_a_driver_or_reads_a_driver_error(path):
    source = path.read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"psycopg", "psycopg2", "sqlite3"}
    assert "DBAPIError" not in source  # gleif_data.errors says what went wrong
    assert ".orig" not in source
