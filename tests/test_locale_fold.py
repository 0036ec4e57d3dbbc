"""Text filters on a PostgreSQL database whose locale is 'C' find what they find elsewhere."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from gleif_data import text_fold
from gleif_data.cli import main
from gleif_data.db import make_engine
from gleif_data.errors import GleifDataError
from gleif_data.explore import count_domains
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from gleif_data.migrate import alembic_config, upgrade
from tests.conftest import _postgres_url
from tests.support import write_csv
from tests.transactions import read

ROWS = [
    ["acme.ee", "5493001KJTIIGC8Y1R12", "ROHE OÜ", "", ""],
    ["acme.gr", "0292001130A2Q5CDA023", "ΑΝΩΝΥΜΟΣ ΕΤΑΙΡΕΙΑ", "", ""],
    ["acme.ru", "579100EKDEGDFEHDC086", "ООО РОМАШКА", "", ""],
    ["acme.com.tr", "5493001KJTIIGC8Y1R12", "İSTANBUL TİCARET A.Ş.", "", ""],
    ["acme.com", "0292001130A2Q5CDA023", "Acme Ltd", "", ""],
]
FINDS = [
    ("oü", ["acme.ee"]),
    ("OÜ", ["acme.ee"]),
    ("ανωνυμος", ["acme.gr"]),  # final sigma
    ("ΑΝΩΝΥΜΟΣ", ["acme.gr"]),
    ("ооо", ["acme.ru"]),
    ("ромашка", ["acme.ru"]),
    ("İstanbul", ["acme.com.tr"]),
    ("ticaret a.ş", ["acme.com.tr"]),
    ("acme", ["acme.com"]),
]
# Every wait on the throwaway database is bounded, and says what it waited for when it fails.
BOUNDED = {"options": "-c lock_timeout=10s -c statement_timeout=60s"}


def _admin(url: URL) -> Engine:
    return create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args=BOUNDED
    )


@contextmanager
def _throwaway_c_locale(suffix: str) -> Iterator[URL]:
    """A PostgreSQL database created with LC_COLLATE and LC_CTYPE 'C', dropped afterwards."""
    url = _postgres_url()
    url = url.set(database=f"{url.database}_{suffix}")
    admin = _admin(url)
    quoted = admin.dialect.identifier_preparer.quote(url.database)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            connection.execute(
                text(
                    f"CREATE DATABASE {quoted} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                    " TEMPLATE template0"
                )
            )
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def c_locale_url() -> Iterator[URL]:
    """An empty C-locale database, for the migration itself."""
    with _throwaway_c_locale("c_locale_fresh") as url:
        yield url


@pytest.fixture(scope="module")
def c_locale_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated C-locale database holding the batch 'locale'."""
    with _throwaway_c_locale("c_locale") as url:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SHOW lc_ctype")).scalar_one() == "C"
            upgrade(engine)
            path = write_csv(tmp_path_factory.mktemp("locale") / "locale.csv", ROWS)
            import_batch(engine, path, "locale")
            yield engine
        finally:
            engine.dispose()


def _domains(csv_bytes: bytes) -> list[str]:
    return [row[0] for row in list(csv.reader(io.StringIO(csv_bytes.decode())))[1:]]


def _found(engine: Engine, needle: str) -> list[str]:
    filters = DomainFilter(name_contains=needle)
    exported = _domains(export_bytes(engine, "locale", ExportOptions(filters=filters)))
    assert read(engine, count_domains, "locale", filters) == len(exported)
    return exported


def test_c_locale_lower_folds_ascii_only_so_the_fold_names_a_collation(c_locale_engine):
    with c_locale_engine.connect() as connection:
        assert connection.execute(text("SELECT lower('OÜ')")).scalar_one() == "oÜ"
        assert connection.execute(text("SELECT gleif_fold('OÜ ΑΝΩΝΥΜΟΣ ООО İ')")).scalar_one() == (
            "oü ανωνυμοσ ооо i"
        )


@pytest.mark.parametrize(("needle", "domains"), FINDS)
def test_text_filters_find_every_script_on_a_c_locale_database_as_elsewhere(
    c_locale_engine, engine, tmp_path, needle, domains
):
    import_batch(engine, write_csv(tmp_path / "locale.csv", ROWS), "locale")
    assert _found(c_locale_engine, needle) == domains
    assert _found(engine, needle) == domains


def test_cli_export_finds_every_script_on_a_c_locale_database(
    c_locale_engine, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", c_locale_engine.url.render_as_string(hide_password=False))
    out = tmp_path / "out.csv"
    for needle, domains in FINDS:
        code = main(["export", "--batch", "locale", "--out", str(out), "--name-contains", needle])
        assert code == 0, capsys.readouterr().err
        assert _domains(out.read_bytes()) == domains


def test_migration_rebuilds_an_expression_index_on_the_fold(c_locale_url, tmp_path):
    from alembic import command

    engine = make_engine(c_locale_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")  # the fold of 0003: ASCII only under 'C'
        import_batch(engine, write_csv(tmp_path / "locale.csv", ROWS), "locale")
        with engine.begin() as connection:
            connection.execute(
                text("CREATE INDEX ix_fold ON gleif_candidates (gleif_fold(legal_name))")
            )
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            connection.execute(text("SET LOCAL enable_bitmapscan = off"))
            query = text("SELECT domain_id FROM gleif_candidates WHERE gleif_fold(legal_name) = :n")
            plan = "\n".join(
                connection.execute(text(f"EXPLAIN {query.text}"), {"n": "rohe oü"}).scalars()
            )
            assert "ix_fold" in plan
            assert len(connection.execute(query, {"n": "rohe oü"}).all()) == 1
    finally:
        engine.dispose()


def test_migrate_refuses_a_database_where_no_collation_folds(c_locale_url, monkeypatch, capsys):
    monkeypatch.setattr(text_fold, "FOLD_COLLATIONS", ("no-such-collation",))
    engine = make_engine(c_locale_url)
    try:
        with pytest.raises(GleifDataError, match=r"LC_CTYPE is 'C'.*UTF-8 locale.*migrate again"):
            upgrade(engine)
        with engine.connect() as connection:  # all or nothing: no table was left behind
            assert connection.execute(text("SELECT to_regclass('domains')")).scalar_one() is None
    finally:
        engine.dispose()
    monkeypatch.setenv("DATABASE_URL", c_locale_url.render_as_string(hide_password=False))
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert "cannot fold non-ASCII letters" in err
    assert len(err.strip().splitlines()) == 1
