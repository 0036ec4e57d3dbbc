"""Fixtures: every data-layer test runs on a real PostgreSQL and on SQLite.

PostgreSQL comes from TEST_DATABASE_URL (the Makefile and .ci/run set it). Without it the
PostgreSQL half of the suite is skipped on a developer's machine, and fails under CI=true.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from gleif_data.config import PROJECT_DIR, normalise_url
from gleif_data.db import make_engine
from gleif_data.migrate import upgrade
from gleif_data.models import Base

# The tables a test empties: the whole schema but data_generation, whose one row (written by
# migration 0004) is the counter that the triggers raise.
TABLES = tuple(
    table.name for table in Base.metadata.sorted_tables if table.name != "data_generation"
)
# How long a fixture waits for the server, a lock or a statement before it fails, in seconds.
CONNECT_TIMEOUT = 10
LOCK_TIMEOUT = 30
STATEMENT_TIMEOUT = 120


def _postgres_url() -> URL:
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not raw:
        message = "TEST_DATABASE_URL is not set: PostgreSQL tests cannot run"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return normalise_url(raw)


def create_database(url: URL, *, fresh: bool = False) -> None:
    """Create the database of `url` on its server (dropping it first when `fresh`)."""
    admin = create_engine(
        url.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT,
            # DROP ... WITH (FORCE) and CREATE wait for other sessions (a client of the
            # template database, a test run still connected): fail instead of waiting forever.
            "options": f"-c lock_timeout={LOCK_TIMEOUT}s -c statement_timeout={STATEMENT_TIMEOUT}s",
        },
    )
    name = url.database
    quoted = admin.dialect.identifier_preparer.quote(name)
    step = f"connecting to {url.host}:{url.port or 5432}"
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists and fresh:
                step = f"DROP DATABASE {quoted} WITH (FORCE)"
                connection.execute(text(step))
            if not exists or fresh:
                step = f"CREATE DATABASE {quoted}"
                connection.execute(text(step))
    except OperationalError as exc:
        hint = (
            "is PostgreSQL running there?"
            if step.startswith("connecting")
            else f"another session holds it, e.g. a client of template1 or a run using {name!r}"
        )
        raise RuntimeError(
            f"test database setup gave up on {step} (connect {CONNECT_TIMEOUT} s, lock "
            f"{LOCK_TIMEOUT} s, statement {STATEMENT_TIMEOUT} s): {hint}: {str(exc.orig).strip()}"
        ) from exc
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """The migrated PostgreSQL test database, shared by the whole session."""
    url = _postgres_url()
    create_database(url)
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        sqlite = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        upgrade(sqlite)
        yield sqlite
        sqlite.dispose()
        return
    postgres = request.getfixturevalue("postgres_engine")
    empty_tables(postgres)
    yield postgres
    empty_tables(postgres)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    """The URL of a database of each kind with no tables at all."""
    if request.param == "sqlite":
        return normalise_url(f"sqlite:///{tmp_path / 'blank.db'}")
    url = _postgres_url()
    scratch = url.set(database=f"{url.database}_scratch")
    create_database(scratch, fresh=True)
    return scratch


def database_env(engine: Engine) -> dict[str, str]:
    """The environment for a subprocess that should use `engine`'s database."""
    env = dict(os.environ)
    env["DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["PYTHONPATH"] = str(PROJECT_DIR)
    return env


def empty_tables(engine: Engine) -> None:
    """Truncate every table (PostgreSQL); fail with the tables named if a lock keeps them busy."""
    try:
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}s'"))
            connection.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}s'"))
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    except OperationalError as exc:
        raise RuntimeError(
            f"emptying the test tables {', '.join(TABLES)} of {engine.url.database!r} waited "
            f"more than {LOCK_TIMEOUT} s for a lock: a session of an earlier test (a thread, "
            "a server or a subprocess still running, or an open transaction) still holds one; "
            f"see pg_stat_activity. {str(exc.orig).strip()}"
        ) from exc


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Debian Chromium for every browser test of the session."""
    from tests.support import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright  # only the browser tests need it

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with the demo batches, one per test module (a module may override it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    seeded = make_engine(url)
    upgrade(seeded)
    from gleif_data.demo import load_demo

    load_demo(seeded)
    seeded.dispose()
    return url


@pytest.fixture(scope="module")
def server(seeded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard served (`streamlit run app.py`) on `seeded_url`, for the module's tests."""
    from tests.support import require_browser, running_app

    require_browser()
    with running_app(seeded_url, tmp_path_factory.mktemp("server") / "streamlit.log") as app:
        yield app.base
