"""The export route when clients go away: their exports stop, their backends are freed.

The dashboard runs as `streamlit run app.py` (its own pool and the default bound of ten
exports at once) against PostgreSQL holding a 200,000-domain batch, whose export takes
seconds and outgrows every buffer between the database and the client. The export stream is
also closed half-way on both databases, and the bound is checked on a route with a bound of
two, served by uvicorn in a thread.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from gleif_data.export import ExportFormat, ExportLayout, ExportOptions
from gleif_data.export_stream import ExportStream
from gleif_data.http_export import RETRY_AFTER_SECONDS, export_routes
from tests.big_batch import seed_big_batch, seed_wide_batch
from tests.conftest import database_env, empty_tables
from tests.support import RunningApp, free_port, running_app

BATCH = "aborts-200k"
DOMAINS = 200_000
EXPORT_PATH = f"/api/export/{BATCH}"
RELEASE_SECONDS = 3.0  # how soon after a client goes away its backend must be free
DEFAULT_MAX_EXPORTS = 10


@pytest.fixture(scope="module")
def big(postgres_engine: Engine) -> Iterator[Engine]:
    """The test database holding the 200,000-domain batch; emptied afterwards."""
    empty_tables(postgres_engine)
    seed_big_batch(postgres_engine, BATCH, DOMAINS)
    yield postgres_engine
    empty_tables(postgres_engine)


@pytest.fixture(scope="module")
def app(big: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The dashboard served for real against that database."""
    log = tmp_path_factory.mktemp("aborts") / "streamlit.log"
    with running_app(big.url.render_as_string(hide_password=False), log) as running:
        yield running


def _copying_backends(engine: Engine) -> int:
    """Backends of the test database running a COPY for an export, other than our own."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state <> 'idle' AND query LIKE 'COPY (%' AND pid <> pg_backend_pid()"
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def _wait_until_no_copy(engine: Engine, seconds: float) -> float:
    """Seconds until no export COPY runs; fails after `seconds`."""
    start = time.monotonic()
    while _copying_backends(engine):
        waited = time.monotonic() - start
        assert waited < seconds, f"an export COPY still runs {waited:.1f} s after its client left"
        time.sleep(0.1)
    return time.monotonic() - start


def _abort_after_first_block(base: str, params: dict[str, str]) -> int:
    """Start a download, read its first block, and hang up."""
    with (
        httpx.Client(timeout=60) as client,
        client.stream("GET", base + EXPORT_PATH, params=params) as response,
    ):
        next(response.iter_raw())
        return response.status_code


def _abort_after(base: str, seconds: float) -> None:
    """Ask for the export and hang up after `seconds` without reading (curl --max-time)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(f"GET {EXPORT_PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        time.sleep(seconds)


def _cli_export(engine: Engine, out: Path, *options: str) -> bytes:
    command = [sys.executable, "-m", "gleif_data", "export", "--batch", BATCH, "--out", str(out)]
    subprocess.run(
        [*command, *options], env=database_env(engine), check=True, timeout=300, capture_output=True
    )
    return out.read_bytes()


def test_twenty_aborted_downloads_free_their_backends_and_a_full_download_follows(
    app, big, tmp_path
):
    workers = [
        *(threading.Thread(target=_abort_after, args=(app.base, 0.3)) for _ in range(10)),
        *(
            threading.Thread(target=_abort_after_first_block, args=(app.base, params))
            for params in [{"format": "csv"}] * 5
            + [{"format": "parquet", "layout": "candidate"}] * 5
        ),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert not worker.is_alive(), "an aborted download did not return"

    _wait_until_no_copy(big, RELEASE_SECONDS)

    # Twenty aborts are more than the route's pool of fifteen connections holds.
    with httpx.Client(timeout=300) as client:
        response = client.get(app.base + EXPORT_PATH)
    assert response.status_code == 200
    assert response.content == _cli_export(big, tmp_path / "cli.csv")


def test_head_requests_answer_the_headers_and_start_no_export(app, big):
    with httpx.Client(timeout=60) as client:
        answers = [client.head(app.base + EXPORT_PATH) for _ in range(20)]
    assert {answer.status_code for answer in answers} == {200}
    assert all(answer.content == b"" for answer in answers)
    assert all(
        answer.headers["content-disposition"].startswith('attachment; filename="gleif-export_')
        for answer in answers
    )
    assert _copying_backends(big) == 0


def test_one_download_more_than_the_bound_is_refused_with_503_and_retry_after(app, big):
    with ExitStack() as downloads:
        client = downloads.enter_context(httpx.Client(timeout=60))
        statuses = []
        # Opened one after the other and all kept open, unread: slow clients.
        for _ in range(DEFAULT_MAX_EXPORTS + 1):
            response = downloads.enter_context(client.stream("GET", app.base + EXPORT_PATH))
            statuses.append(response.status_code)
            if response.status_code == 503:
                refused = response.read()
                retry_after = response.headers["retry-after"]
        assert statuses == [200] * DEFAULT_MAX_EXPORTS + [503]
        assert retry_after == str(RETRY_AFTER_SECONDS)
        assert refused.decode().startswith("this server runs 10 exports at once already")
        assert client.head(app.base + EXPORT_PATH).status_code == 200  # HEAD takes no slot
    _wait_until_no_copy(big, RELEASE_SECONDS)
    with httpx.Client(timeout=300) as client, client.stream("GET", app.base + EXPORT_PATH) as again:
        assert again.status_code == 200


@contextmanager
def _served_route(engine: Engine, max_exports: int) -> Iterator[str]:
    """The export route alone on a real uvicorn server in a thread."""
    app = Starlette(routes=export_routes(lambda: engine, lambda: None, max_exports=max_exports))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_route_with_a_bound_of_two_refuses_the_third_and_serves_again_once_one_ends(
    big, monkeypatch
):
    # One connection per export, so that the COPYs running count the exports running.
    monkeypatch.setenv("GLEIF_EXPORT_WORKERS", "1")
    with (
        _served_route(big, max_exports=2) as base,
        httpx.Client(timeout=60) as client,
        client.stream("GET", base + EXPORT_PATH) as first,
    ):
        with client.stream("GET", base + EXPORT_PATH) as second:
            third = client.get(base + EXPORT_PATH)
            assert (first.status_code, second.status_code) == (200, 200)
            assert third.status_code == 503
            assert third.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        _wait_until_no_copy_but(big, 1, RELEASE_SECONDS)
        # The slot is given back once the export's threads have finished, just after its
        # COPY ends: a fourth client is served within the same bound.
        deadline = time.monotonic() + RELEASE_SECONDS
        while True:
            with client.stream("GET", base + EXPORT_PATH) as fourth:
                if fourth.status_code == 200 or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        assert fourth.status_code == 200


def _wait_until_no_copy_but(engine: Engine, running: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _copying_backends(engine) > running:
        assert time.monotonic() < deadline, f"more than {running} export COPY still run"
        time.sleep(0.1)


@pytest.fixture
def wide(engine: Engine) -> Engine:
    """A batch named wide on each database whose export outgrows the stream's queue."""
    seed_wide_batch(engine, "wide")
    return engine


@pytest.mark.parametrize(
    ("export_format", "layout"),
    [
        (ExportFormat.CSV, ExportLayout.CANDIDATE),
        (ExportFormat.JSON, ExportLayout.CANDIDATE),
        (ExportFormat.PARQUET, ExportLayout.CANDIDATE),
    ],
)
def test_an_export_stream_closed_half_way_ends_its_thread_and_frees_its_connection(
    wide, export_format, layout
):
    stream = ExportStream(wide, "wide", ExportOptions(format=export_format, layout=layout))
    stream.start()
    deadline = time.monotonic() + 60
    while not stream.next_block():
        assert time.monotonic() < deadline, "no block within 60 s"
    started = time.monotonic()
    assert stream.close(wait=10)
    assert time.monotonic() - started < RELEASE_SECONDS
    assert wide.pool.checkedout() == 0
