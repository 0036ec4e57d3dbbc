"""Access: a read-only database role is enough to browse and export; sign-in; XSRF."""

import os
import tomllib
from typing import TYPE_CHECKING

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from gleif_data.access import reader_grants, reviewer_grants
from gleif_data.config import PROJECT_DIR
from gleif_data.db import make_engine
from gleif_data.errors import GleifDataError, PermissionDenied
from gleif_data.explore import count_domains, explore_page
from gleif_data.export import ExportFormat, ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from gleif_data.migrate import alembic_config, is_up_to_date, upgrade
from gleif_data.overview import batch_overview, qa_overview
from gleif_data.queries import list_batches
from tests.fingerprint import database_fingerprint
from tests.support import ACME, app_test, run_cli, url_of, write_csv
from tests.transactions import read

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest


def _role(engine, tmp_path, kind, grant):
    """A login role with only the grants of one kind, on the test database.

    `grant(engine, role)` gives them: the `grants --apply` command for the dashboard's roles.
    """
    if engine.dialect.name != "postgresql":
        pytest.skip("database roles are a PostgreSQL matter")
    rows = [[f"site{i}.com", ACME, f"ACME {i}", "", ""] for i in range(30)]
    import_batch(engine, write_csv(tmp_path / "in.csv", rows), "b1")
    role = f"gleif_{kind}_{os.getpid()}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
    grant(engine, role)
    reader_engine = make_engine(engine.url.set(username=role))
    yield reader_engine
    reader_engine.dispose()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM qa_decisions"))
        connection.execute(text(f"DROP OWNED BY {role}"))
        connection.execute(text(f"DROP ROLE {role}"))


def grants_command(*flags):
    """Grant a role what `python -m gleif_data grants --apply FLAGS` grants."""

    def grant(engine, role):
        result = run_cli(engine, "grants", "--role", role, *flags, "--apply")
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout.decode().splitlines() == [
            f"{statement};"
            for statement in (reviewer_grants if "--reviewer" in flags else reader_grants)(
                role, engine.url.database
            )
        ]

    return grant


@pytest.fixture
def reader(engine, tmp_path):
    yield from _role(engine, tmp_path, "reader", grants_command())


@pytest.fixture
def reviewer(engine, tmp_path):
    yield from _role(engine, tmp_path, "reviewer", grants_command("--reviewer"))


def legacy_writer_grants(engine, role: str) -> None:
    """What the legacy matching process needs to write its two tables, and nothing more."""
    with engine.begin() as connection:
        for statement in (
            f"GRANT CONNECT ON DATABASE {engine.url.database} TO {role}",
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON domains, gleif_candidates TO {role}",
        ):
            connection.execute(text(statement))


def read_only_grants(engine, role: str) -> None:
    """A reader that could store counts, but whose transactions are read-only by default (as
    every transaction on a hot standby is)."""
    with engine.begin() as connection:
        for statement in (
            *reader_grants(role, engine.url.database),
            f"GRANT INSERT, UPDATE ON batch_summaries TO {role}",
            f"ALTER ROLE {role} SET default_transaction_read_only = on",
        ):
            connection.execute(text(statement))


@pytest.fixture
def read_only(engine, tmp_path):
    yield from _role(engine, tmp_path, "read_only", read_only_grants)


@pytest.fixture
def legacy_writer(engine, tmp_path):
    yield from _role(engine, tmp_path, "legacy", legacy_writer_grants)


DECISION = {
    "batch_id": "b1",
    "domain": "site1.com",
    "action": "accept",
    "lei_code": ACME,
    "decided_by": "analyst@example.com",
}


def test_a_reviewer_role_records_decisions_and_can_change_nothing_else(reviewer, engine, tmp_path):
    with reviewer.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO qa_decisions (batch_id, domain, action, lei_code, decided_by,"
                " decided_at) VALUES (:batch_id, :domain, :action, :lei_code, :decided_by, now())"
            ),
            DECISION,
        )
    before = database_fingerprint(engine)
    for statement in (
        "UPDATE qa_decisions SET action = 'reject'",
        "DELETE FROM qa_decisions",
        "DELETE FROM gleif_candidates",
        "UPDATE domains SET domain = 'x.com'",
    ):
        with pytest.raises(ProgrammingError, match="permission denied"), reviewer.begin() as c:
            c.execute(text(statement))
    assert database_fingerprint(engine) == before


def test_a_reader_role_can_browse_and_export_everything(reader, engine):
    assert read(reader, is_up_to_date)
    assert [s.batch for s in read(reader, list_batches)] == ["b1"]
    filters = DomainFilter(name_contains="acme 1")
    assert read(reader, count_domains, "b1", filters) == 11
    assert len(read(reader, explore_page, "b1", filters).rows) == 11
    for export_format in ExportFormat:
        options = ExportOptions(format=export_format)
        assert export_bytes(reader, "b1", options) == export_bytes(engine, "b1", options)


def test_a_reader_role_cannot_import(reader, engine, tmp_path):
    before = database_fingerprint(engine)
    path = write_csv(tmp_path / "new.csv", [["new.com", ACME, "New", "", ""]])
    with pytest.raises(PermissionDenied, match="permission denied"):
        import_batch(reader, path, "b2")
    assert database_fingerprint(engine) == before


def test_the_legacy_writer_still_writes_and_its_writes_make_the_counts_stale(legacy_writer, engine):
    # The generation triggers run with their owner's rights: a writer without any right on
    # the generation tables is not refused, and its writes still count.
    before = read(engine, batch_overview, "b1")
    with legacy_writer.begin() as connection:
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (100000, 'new.com', 'b1')")
        )
        connection.execute(
            text(
                "INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name)"
                " VALUES (100000, 100000, :lei, 'NEW')"
            ),
            {"lei": ACME},
        )
        connection.execute(text("DELETE FROM gleif_candidates WHERE legal_name = 'ACME 1'"))
    after = read(engine, batch_overview, "b1")
    assert (after.domains, after.candidates) == (before.domains + 1, before.candidates)


def test_a_reader_role_counts_a_stale_batch_without_storing_anything(reader, engine):
    # The import stored b1's counts; a write by the owner makes them stale.
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM gleif_candidates WHERE domain_id = (SELECT min(id) FROM domains)")
        )
    before = database_fingerprint(engine)
    overview = read(reader, batch_overview, "b1")
    assert (overview.domains, overview.candidates) == (30, 29)
    assert read(reader, qa_overview, "b1").by_flag["no_candidate"] == 1
    assert database_fingerprint(engine) == before


def test_upgrading_lets_roles_that_read_the_tables_read_the_summaries(blank_url):
    if blank_url.get_backend_name() != "postgresql":
        pytest.skip("database roles are a PostgreSQL matter")
    owner = make_engine(blank_url)
    config = alembic_config()
    with owner.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    role = f"gleif_old_reader_{os.getpid()}"
    old_tables = "domains, gleif_candidates, lei_records, qa_decisions, alembic_version"
    with owner.begin() as connection:
        connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(text(f"GRANT SELECT ON {old_tables} TO {role}"))
    upgrade(owner)
    reader = make_engine(blank_url.set(username=role))
    try:
        assert read(reader, is_up_to_date)
        assert read(reader, batch_overview, "none").domains == 0
    finally:
        reader.dispose()
        with owner.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
        owner.dispose()


def test_the_dashboard_runs_under_a_reader_role(reader, monkeypatch):
    at = app_test(monkeypatch, url_of(reader))
    at.run()
    for page in ("pages/explore.py", "pages/export.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert not at.error
    assert at.markdown[0].value.startswith("**30 rows**")


def calm(at: "AppTest") -> bool:
    """Whether a page ran without an exception, an error panel or a warning."""
    return not (at.exception or at.error or at.warning)


def test_the_dashboard_runs_on_read_only_transactions_with_stale_counts(
    read_only, engine, monkeypatch
):
    # The import stored b1's counts; a write by the owner makes them stale, and the read-only
    # dashboard counts them itself: every page and count as usual, nothing alarming shown.
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM gleif_candidates WHERE domain_id = (SELECT min(id) FROM domains)")
        )
    before = database_fingerprint(engine)
    at = app_test(monkeypatch, url_of(read_only))
    at.run()
    assert calm(at)
    assert {m.label: m.value for m in at.metric}["Without candidates"] == "1"
    at.switch_page("pages/explore.py")
    at.query_params["flags"] = "no_candidate"
    at.run()
    assert calm(at)
    assert any("1 of 30 domains match" in c.value for c in at.caption)
    at.switch_page("pages/domain.py")
    at.query_params["domain"] = "site1.com"
    at.run()
    assert calm(at)
    at.switch_page("pages/export.py").run()
    assert calm(at)
    assert database_fingerprint(engine) == before


def test_reader_grants_refuse_names_that_are_not_plain_identifiers():
    with pytest.raises(GleifDataError, match="plain SQL identifier"):
        reader_grants("x; DROP TABLE domains", "gleif")


def test_the_grants_command_prints_a_reviewers_statements_for_psql(engine):
    result = run_cli(
        engine, "grants", "--role", "gleif_reviewer", "--reviewer", "--database", "gleif"
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == (
        "GRANT CONNECT ON DATABASE gleif TO gleif_reviewer;\n"
        "GRANT USAGE ON SCHEMA public TO gleif_reviewer;\n"
        "GRANT SELECT ON domains, gleif_candidates, lei_records, qa_decisions, alembic_version, "
        "batch_summaries, batch_generations, data_generation TO gleif_reviewer;\n"
        "GRANT INSERT ON qa_decisions TO gleif_reviewer;\n"
        "GRANT USAGE ON SEQUENCE qa_decisions_id_seq TO gleif_reviewer;\n"
    )


def test_the_grants_command_refuses_a_name_that_is_not_a_plain_identifier(engine):
    result = run_cli(engine, "grants", "--role", "x; DROP TABLE domains", "--database", "gleif")
    assert (result.returncode, result.stdout) == (1, b"")
    assert "is not a plain SQL identifier" in result.stderr.decode()


def test_the_grants_command_applies_nothing_to_sqlite(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's refusal")
    result = run_cli(engine, "grants", "--role", "gleif_reader", "--apply")
    assert (result.returncode, result.stdout) == (1, b"")
    assert "SQLite has no roles" in result.stderr.decode()


def test_xsrf_protection_stays_on():
    config = tomllib.loads((PROJECT_DIR / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True


AUTH = """
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "test-cookie-secret"
client_id = "gleif-dashboard"
client_secret = "test-client-secret"
server_metadata_url = "https://login.example.com/.well-known/openid-configuration"
"""


@pytest.fixture
def signed_in_app(engine, tmp_path, monkeypatch):
    import_batch(engine, write_csv(tmp_path / "in.csv", [["a.com", ACME, "A", "", ""]]), "b1")

    def make(logged_in):
        at = app_test(monkeypatch, url_of(engine))
        at.secrets["auth"] = tomllib.loads(AUTH)["auth"]
        at.user = {"is_logged_in": logged_in, "email": "analyst@example.com"}
        return at

    return make


def test_a_signed_in_analyst_sees_the_pages(signed_in_app):
    at = signed_in_app(True)
    at.run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Domains"] == "1"


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/explore.py", "pages/export.py"])
def test_with_sign_in_configured_no_page_shows_data_to_a_visitor(signed_in_app, page):
    at = signed_in_app(False)
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    assert not at.exception
    assert not at.metric
    assert not at.dataframe
    assert not at.selectbox
    assert any("Sign in" in b.label for b in at.button)
