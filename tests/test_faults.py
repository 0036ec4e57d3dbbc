"""Faults: PostgreSQL stopped under an export, restarted under a running app, too slow to answer.

Every test runs against a PostgreSQL server of its own (tests/throwaway_postgres.py), never
the shared one. Its URL carries a password (ignored by trust authentication) so that every
message, panel and log line can be checked for it.
"""

import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import streamlit as st
import uvicorn
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from streamlit.testing.v1 import AppTest

from gleif_data.config import PROJECT_DIR
from gleif_data.db import make_engine
from gleif_data.errors import QueryTimedOut
from gleif_data.export import ExportFormat, ExportLayout, ExportOptions, export_bytes
from gleif_data.http_export import export_routes
from gleif_data.import_batch import import_batch
from gleif_data.migrate import upgrade
from gleif_data.statement_timeout import statement_timeout_seconds
from gleif_data.transactions import read_snapshot
from tests.conftest import create_database
from tests.support import ACME, app
from tests.throwaway_postgres import ThrowawayPostgres

CANARY = "Canary-Pw-5f3a9"  # the password in the URL; it must never be shown or logged
# The JSON export (~20 MB) outgrows what the route buffers: its queue, one cursor fetch of
# 10,000 rows, and the socket buffers. Long names keep the import short.
DOMAINS = 24_000
FILLER = "x" * 800


@pytest.fixture(scope="module")
def postgres(tmp_path_factory) -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def database_url(postgres, tmp_path_factory) -> str:
    url = postgres.url.set(database="gleif", password=CANARY)
    create_database(url)
    engine = make_engine(url)
    upgrade(engine)
    path = tmp_path_factory.mktemp("faults") / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("domain,lei_code,legal_name,match_score,match_method\n")
        for index in range(DOMAINS):
            handle.write(f"site{index}.example.com,{ACME},ACME {index} {FILLER},0.5,exact\n")
    import_batch(engine, path, "big")
    engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def small_url(postgres, tmp_path_factory) -> str:
    """A second database with a small batch, for the dashboard."""
    url = postgres.url.set(database="dashboard", password=CANARY)
    create_database(url)
    engine = make_engine(url)
    upgrade(engine)
    path = tmp_path_factory.mktemp("faults") / "small.csv"
    path.write_text(
        "domain,lei_code,legal_name\n"
        + "".join(f"site{i}.example.com,{ACME},ACME {i} Ltd\n" for i in range(300)),
        encoding="utf-8",
    )
    import_batch(engine, path, "small")
    engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture
def running(postgres, database_url) -> str:
    """The URL, with the server up again whatever the previous test did to it."""
    with contextlib.suppress(subprocess.CalledProcessError):  # already running
        postgres.start()
    return database_url


def _wait_for(condition, what, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _waiting_on_a_lock(engine: Engine) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'"
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one() > 0


@pytest.mark.parametrize(
    "export_format",
    [
        "csv",
        "json",
    ],
)
def test_the_cli_exits_non_zero_and_removes_its_partial_file_when_postgres_stops(
    postgres, running, tmp_path, export_format
):
    engine = make_engine(running)
    holder = engine.connect()
    # The export's query waits behind this lock: it is under way, its partial file open.
    holder.execute(text("LOCK TABLE gleif_candidates IN ACCESS EXCLUSIVE MODE"))
    folder = tmp_path / "exports"
    target = folder / f"out.{export_format}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gleif_data", "export", "--batch", "big", "--format",
         export_format, "--out", str(target)],
        env={"DATABASE_URL": running, "PYTHONPATH": str(PROJECT_DIR), "PATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for(lambda: _waiting_on_a_lock(engine), "the export to wait on the lock")
        partial = list(folder.glob(f".out.{export_format}.*"))
        assert len(partial) == 1
        postgres.stop()
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        holder.invalidate()
        engine.dispose()
    lines = stderr.decode().splitlines()
    assert process.returncode == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        ("error: cannot reach PostgreSQL database 'gleif'", "error: database error on PostgreSQL")
    )
    assert CANARY not in stderr.decode()
    assert list(folder.iterdir()) == []


class _Server:
    """The export route on a real uvicorn server in a thread: a real socket, real streaming."""

    def __init__(self, engine: Engine) -> None:
        app = Starlette(routes=export_routes(lambda: engine, lambda: None))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="info")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        _wait_for(lambda: self.server.started, "uvicorn to start")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def test_the_route_aborts_a_stream_visibly_and_works_again_after_a_restart(
    postgres, running, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    engine = make_engine(running)
    options = ExportOptions(format=ExportFormat.JSON, layout=ExportLayout.CANDIDATE)
    expected = export_bytes(engine, "big", options)
    url_path = "/api/export/big?format=json&layout=candidate"
    received = bytearray()
    with _Server(engine) as base, httpx.Client(timeout=60) as client:
        with client.stream("GET", base + url_path) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            while len(received) < 256 * 1024:
                received += next(chunks)
            postgres.stop()
            with pytest.raises(httpx.HTTPError):
                received.extend(b"".join(chunks))
        assert 0 < len(received) < len(expected)
        with pytest.raises(json.JSONDecodeError):
            json.loads(received)

        postgres.start()
        again = client.get(base + url_path)
        assert again.status_code == 200
        assert again.content == expected
    engine.dispose()
    assert CANARY not in caplog.text
    captured = capfd.readouterr()
    assert CANARY not in captured.out + captured.err


def _app(url: str, page: str, monkeypatch, **env: str) -> AppTest:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return app(monkeypatch, url, page)


def _texts(at: AppTest) -> str:
    elements = [*at.error, *at.warning, *at.info, *at.markdown, *at.caption, *at.exception]
    return "\n".join(str(getattr(e, "value", e)) for e in elements)


@pytest.mark.parametrize("page", ["pages/explore.py", "pages/export.py"])
def test_the_dashboard_shows_its_error_panel_and_recovers_without_a_restart(
    postgres, running, small_url, monkeypatch, page
):
    at = _app(small_url, page, monkeypatch)
    assert not at.exception
    assert not at.error
    postgres.stop()
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith(
        "Cannot reach the PostgreSQL database 'dashboard' on 127.0.0.1:"
    )
    assert CANARY not in _texts(at)
    postgres.start()
    at.run()  # the same server process: the cached engine's pool pre-pings its connections
    assert not at.exception
    assert not at.error
    assert CANARY not in _texts(at)


def test_a_statement_timeout_stops_a_slow_query_with_a_recognisable_error(running, monkeypatch):
    monkeypatch.setenv("GLEIF_STATEMENT_TIMEOUT", "0.2")
    engine = make_engine(running)
    with pytest.raises(QueryTimedOut) as info, read_snapshot(engine) as connection:
        connection.execute(text("SELECT pg_sleep(5)"))
    assert CANARY not in str(info.value)
    with read_snapshot(engine) as connection:  # the pool's connection is fine afterwards
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


@pytest.mark.parametrize(
    ("raw", "seconds"), [("", 30.0), ("5", 5.0), ("0.5", 0.5), ("0", None), (" 12 ", 12.0)]
)
def test_the_statement_timeout_is_configurable(raw, seconds):
    assert statement_timeout_seconds({"GLEIF_STATEMENT_TIMEOUT": raw}) == seconds


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "inf"])
def test_a_bad_statement_timeout_is_refused_by_name(raw):
    with pytest.raises(Exception, match="GLEIF_STATEMENT_TIMEOUT"):
        statement_timeout_seconds({"GLEIF_STATEMENT_TIMEOUT": raw})


def test_a_slow_dashboard_query_ends_with_a_friendly_message(running, small_url, monkeypatch):
    # The page opens with the default limit (a loaded CI machine can take a second over its
    # first queries); the 1 s limit applies from the next run, on a new engine.
    at = _app(small_url, "pages/explore.py", monkeypatch)
    monkeypatch.setenv("GLEIF_STATEMENT_TIMEOUT", "1")
    st.cache_resource.clear()
    engine = make_engine(small_url)
    holder = engine.connect()
    holder.execute(text("LOCK TABLE gleif_candidates IN ACCESS EXCLUSIVE MODE"))
    # The lock goes after 4 s whatever happens, so that without a limit the page only waits.
    release = threading.Timer(4, holder.rollback)
    release.start()
    try:
        at.text_input(key="name_contains").input("acme 7").run(timeout=30)
    finally:
        release.join(timeout=30)
        holder.close()
        engine.dispose()
    assert not at.exception
    assert any("took longer than 1 s" in w.value for w in at.warning)
    assert not at.error  # not the "cannot reach" panel: the database is there, only slow


def _slow_count(connection, *_args):
    """A real statement that outlasts a 1 s limit, as a count over a huge batch does."""
    return connection.execute(text("SELECT 1 FROM pg_sleep(3)")).scalar_one()


def _app_whose_count_runs_out_of_time(url, page, count, monkeypatch) -> AppTest:
    """The page opened, then a 1 s statement limit and a count (dashboard.data.`count`) beyond it."""
    at = _app(url, page, monkeypatch)
    monkeypatch.setenv("GLEIF_STATEMENT_TIMEOUT", "1")
    st.cache_resource.clear()
    st.cache_data.clear()
    monkeypatch.setattr(f"dashboard.data.{count}", _slow_count)
    return at


def test_a_count_that_runs_out_of_time_leaves_the_explore_page_whole(
    running, small_url, monkeypatch
):
    at = _app_whose_count_runs_out_of_time(
        small_url, "pages/explore.py", "count_domains", monkeypatch
    )
    at.text_input(key="name_contains").input("acme 7").run(timeout=30)
    assert not at.exception
    assert not at.warning
    assert not at.error
    assert any("took longer than 1 s" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 11  # the page's rows are there
    assert at.toggle(key="bulk_qa")  # and so is what comes after the count


def test_an_export_count_that_runs_out_of_time_still_offers_the_download(
    running, small_url, monkeypatch
):
    at = _app_whose_count_runs_out_of_time(
        small_url, "pages/export.py", "count_export_rows", monkeypatch
    )
    at.run(timeout=30)
    assert not at.exception
    assert not at.warning
    assert not at.error
    assert any("Rows not counted" in m.value for m in at.markdown)
    # Uncounted, the export streams from the route: the link, not the in-memory button.
    [link] = at.get("link_button")
    assert link.proto.url.startswith("/api/export/small?")
    assert at.get("download_button") == []
