"""Load: ten exports downloaded during an import, and twenty dashboard sessions at once.

The dashboard runs as `streamlit run app.py` against a PostgreSQL database seeded with a
100,000-domain batch (generate_series over the real GLEIF sample, a few seconds). These tests
assert correctness only: every file complete and identical, every request answered, no error
on any page. Seconds and server memory are figures of benchmarks/load.py, since a timed test
on a shared, noisy machine would flake.

The twenty sessions talk to the server over its WebSocket as the browser's frontend does,
without a browser: twenty Chromium contexts cost about 200 CPU seconds of rendering (measured
by benchmarks/load.py, which does drive Chromium), far beyond this test's budget on two cores.
AppTest sessions in threads are no substitute: each AppTest run swaps Streamlit's global
Runtime and patches `config.get_option`, so concurrent runs break each other ("Runtime hasn't
been created!" in 12 of 20 sessions when tried) and leave the patch behind.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from gleif_data.config import PROJECT_DIR
from gleif_data.db import make_engine
from tests.conftest import empty_tables
from tests.support import RunningApp, running_app, sample_records

BATCH = "load-100k"
IMPORTED = "load-import"
DOMAINS = 100_000
CLIENTS = 10
SESSIONS = 20
# Per mille of domains with at most 0, 1, 2, ... candidates: 30 % without, 1.5 on average.
CANDIDATE_SHARES = (300, 600, 800, 900, 960, 1000)
# The import re-imports the first rows of the seeded batch as another batch; it lasts
# several seconds, long enough for all ten downloads to be under way while it runs.
IMPORT_ROWS = 120_000
# Seconds a page may take under twenty sessions on two cores; a hang still fails.
STEP_TIMEOUT = 120


@pytest.fixture(scope="module")
def load_url(postgres_engine: Engine) -> Iterator[URL]:
    """The test database holding the 100,000-domain batch; emptied afterwards."""
    empty_tables(postgres_engine)
    _seed(postgres_engine)
    yield postgres_engine.url
    empty_tables(postgres_engine)


def _seed(engine: Engine) -> None:
    """Domains and candidates from real GLEIF names, chosen by seeded hashes of the ids."""
    records = [(n, r["LEI"], r["Entity.LegalName"]) for n, r in enumerate(sample_records())]
    counts = " ".join(
        f"WHEN mod(abs(hashint8extended(d.id, 2)), 1000) < {share} THEN {k}"
        for k, share in enumerate(CANDIDATE_SHARES)
    )
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TEMPORARY TABLE load_sample (n integer, lei text, legal_name text)")
        )
        connection.execute(
            text("INSERT INTO load_sample VALUES (:n, :lei, :name)"),
            [{"n": n, "lei": lei, "name": name} for n, lei, name in records],
        )
        connection.execute(
            text(
                """
                INSERT INTO domains (domain, batch_id)
                SELECT CASE WHEN mod(g, 7) = 0 THEN 'www.' ELSE '' END || 'site-' || g
                       || (ARRAY['.com', '.de', '.co.uk', '.fr', '.org', '.jp'])[mod(g, 6) + 1],
                       :batch
                FROM generate_series(1, :domains) AS g
                ORDER BY g
                """
            ),
            {"batch": BATCH, "domains": DOMAINS},
        )
        connection.execute(
            text(
                f"""
                INSERT INTO gleif_candidates
                    (domain_id, lei_code, legal_name, match_score, match_method)
                SELECT d.id, s.lei,
                       CASE WHEN mod(d.id + k, 100) = 0 THEN NULL ELSE s.legal_name END,
                       mod(abs(hashint8extended(d.id * 16 + k, 4)), 1000) / 1000.0,
                       CASE WHEN k = 1 THEN 'exact' ELSE 'fuzzy' END
                FROM domains AS d
                CROSS JOIN LATERAL generate_series(1, CASE {counts} END) AS k
                JOIN load_sample AS s
                  ON s.n = mod(abs(hashint8extended(d.id * 16 + k, 3)), :pool)
                WHERE d.batch_id = :batch
                ORDER BY d.id, k
                """
            ),
            {"batch": BATCH, "pool": len(records)},
        )
        connection.execute(text("ANALYZE domains, gleif_candidates"))


@pytest.fixture(scope="module")
def app(load_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The dashboard served for real against the load database."""
    log = tmp_path_factory.mktemp("load") / "streamlit.log"
    with running_app(_render(load_url), log) as running:
        yield running


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _cli_env(url: URL) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": _render(url), "PYTHONPATH": str(PROJECT_DIR)}


@dataclass(frozen=True)
class Download:
    """What one client received."""

    status: int
    size: int
    sha256: str


def _download(base: str, all_started: threading.Barrier) -> Download:
    """Stream the batch's export, hashing it; wait for the other clients before reading."""
    digest = hashlib.sha256()
    size = 0
    try:
        params = {"format": "csv", "layout": "domain"}
        with httpx.stream(
            "GET", f"{base}/api/export/{BATCH}", params=params, timeout=120
        ) as response:
            all_started.wait(timeout=120)
            for block in response.iter_bytes():
                digest.update(block)
                size += len(block)
            return Download(response.status_code, size, digest.hexdigest())
    except BaseException:
        all_started.abort()  # the other clients and the test stop waiting for this one
        raise


def _wait_until_writing(engine: Engine, process: subprocess.Popen[bytes]) -> bool:
    """Whether the import's transaction came to hold a transaction id: it is writing rows."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND backend_xid IS NOT NULL "
        "AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with engine.connect() as connection:
            if connection.execute(query).scalar_one():
                return True
        time.sleep(0.05)
    return False


def _write_import_file(url: URL, path: Path) -> None:
    """The first rows of the batch in the import format (one row per candidate)."""
    statement = """
        COPY (
            SELECT d.domain, c.lei_code, c.legal_name, c.match_score, c.match_method
            FROM domains AS d LEFT JOIN gleif_candidates AS c ON c.domain_id = d.id
            WHERE d.batch_id = %(batch)s ORDER BY d.id, c.id LIMIT %(rows)s
        ) TO STDOUT WITH (FORMAT csv, HEADER true)
    """
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with (
        psycopg.connect(dsn) as connection,
        connection.cursor().copy(statement, {"batch": BATCH, "rows": IMPORT_ROWS}) as copy,
        path.open("wb") as out,
    ):
        for block in copy:
            out.write(block)


def _domains_in(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row[0] for row in list(csv.reader(handle))[1:]}


def test_ten_downloads_during_an_import_are_complete_identical_and_all_answered(
    load_url, app, tmp_path
):
    expected = subprocess.run(
        [sys.executable, "-m", "gleif_data", "export", "--batch", BATCH, "--out", "-"],
        env=_cli_env(load_url),
        capture_output=True,
        check=True,
        timeout=600,
    ).stdout  # fmt: skip
    assert expected.count(b"\n") == DOMAINS + 1
    engine = make_engine(load_url)
    source = tmp_path / "import.csv"
    _write_import_file(load_url, source)
    importing = subprocess.Popen(
        [sys.executable, "-m", "gleif_data", "import-batch", str(source), "--batch", IMPORTED],
        env=_cli_env(load_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert _wait_until_writing(engine, importing), "the import never started writing"
        all_started = threading.Barrier(CLIENTS + 1)
        with ThreadPoolExecutor(CLIENTS) as pool:
            clients = [pool.submit(_download, app.base, all_started) for _ in range(CLIENTS)]
            with contextlib.suppress(threading.BrokenBarrierError):
                all_started.wait(timeout=120)  # if a client failed, .result() raises below
            import_running_when_all_started = importing.poll() is None
            downloads = [client.result(timeout=300) for client in clients]
        _out, err = importing.communicate(timeout=300)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait(timeout=60)
        with engine.connect() as connection:
            counts = dict(
                connection.execute(text("SELECT batch_id, count(*) FROM domains GROUP BY 1")).all()
            )
        engine.dispose()

    assert import_running_when_all_started, "the import ended before every download had started"
    assert [d.status for d in downloads] == [200] * CLIENTS
    assert [d.size for d in downloads] == [len(expected)] * CLIENTS
    assert {d.sha256 for d in downloads} == {hashlib.sha256(expected).hexdigest()}
    assert importing.returncode == 0, err.decode(errors="replace")
    assert counts == {BATCH: DOMAINS, IMPORTED: len(_domains_in(source))}


class StreamlitSession:
    """One Streamlit session over the server's WebSocket, as the browser's frontend talks to it.

    Each run sends what the frontend sends (query string, page, widget values) and collects the
    elements the server renders; the pages' URLs and the query string follow the server, as a
    browser's address bar does.
    """

    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self.query = ""
        self.page = ""
        self.pages: dict[str, str] = {}

    def run(
        self,
        *,
        page: str | None = None,
        query: str | None = None,
        widgets: tuple[WidgetState, ...] = (),
    ) -> list[Element]:
        """Rerun the script (on another page, with widget values) and return its elements."""
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query if query is None else query
        state.page_script_hash = self.pages[page] if page else self.page
        state.widget_states.widgets.extend(widgets)
        self.websocket.send(message.SerializeToString())
        elements = []
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(self.websocket.recv(timeout=STEP_TIMEOUT))
            kind = reply.WhichOneof("type")
            if kind == "navigation":
                self.pages = {
                    p.url_pathname: p.page_script_hash for p in reply.navigation.app_pages
                }
                self.page = reply.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query = reply.page_info_changed.query_string
            elif kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                elements.append(reply.delta.new_element)
            elif kind == "script_finished":
                if reply.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise AssertionError("the page did not compile")
                if reply.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return elements


def _widget(elements: list[Element], kind: str, label: str) -> str:
    """The id of the widget of this kind and label among the elements."""
    return next(
        getattr(e, kind).id
        for e in elements
        if e.WhichOneof("type") == kind and getattr(e, kind).label == label
    )


def _problems(step: str, elements: list[Element], expected: str) -> list[str]:
    """Exceptions and error or warning panels on the page, and the expected text if missing."""
    seen = []
    for element in elements:
        kind = element.WhichOneof("type")
        if kind == "exception":
            seen.append(f"{step}: {element.exception.type}: {element.exception.message[:200]}")
        elif kind == "alert" and element.alert.format in (Alert.ERROR, Alert.WARNING):
            seen.append(f"{step}: {element.alert.body[:200]}")
    texts = [e.markdown.body for e in elements if e.WhichOneof("type") == "markdown"]
    texts += [e.heading.body for e in elements if e.WhichOneof("type") == "heading"]
    if not any(expected in text for text in texts):
        seen.append(f"{step}: {expected!r} is not on the page")
    return seen


def _walk(base: str, domain: str, all_connected: threading.Barrier) -> list[str]:
    """An analyst's walk: Overview, Explore, its next page, a domain, Export; every problem."""
    with connect(
        base.replace("http://", "ws://") + "/_stcore/stream",
        subprotocols=[Subprotocol("streamlit")],
        max_size=None,
        open_timeout=STEP_TIMEOUT,
    ) as websocket:
        session = StreamlitSession(websocket)
        all_connected.wait(timeout=STEP_TIMEOUT)
        seen = _problems(
            "overview", session.run(query=f"batch={BATCH}"), "Domains by number of candidates"
        )
        # A link in the sidebar drops the query string; the batch follows the analyst anyway.
        explore = session.run(page="explore", query="")
        seen += _problems("explore", explore, f"of {DOMAINS:,} domains match")
        following = WidgetState(id=_widget(explore, "button", "Next"), trigger_value=True)
        seen += _problems("next page", session.run(widgets=(following,)), "domains match")
        if "after=" not in session.query:
            seen.append("next page: no cursor in the URL")
        search = _widget(session.run(page="domain", query=""), "text_input", "Domain")
        typed = WidgetState(id=search, string_value=domain)
        seen += _problems(
            "domain", session.run(widgets=(typed,)), ", in the order the matching listed them"
        )
        seen += _problems("export", session.run(page="export", query=""), f"{DOMAINS:,} rows")
    return seen


def test_twenty_sessions_at_once_see_no_error_on_any_page(load_url, app):
    engine = make_engine(load_url)
    with engine.connect() as connection:
        domains = (
            connection.execute(
                text(
                    "SELECT d.domain FROM domains AS d WHERE d.batch_id = :batch AND EXISTS "
                    "(SELECT 1 FROM gleif_candidates AS c WHERE c.domain_id = d.id) "
                    "ORDER BY d.id LIMIT :n"
                ),
                {"batch": BATCH, "n": SESSIONS},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    all_connected = threading.Barrier(SESSIONS)
    with ThreadPoolExecutor(SESSIONS) as pool:
        walks = [pool.submit(_walk, app.base, domain, all_connected) for domain in domains]
        problems = [walk.result(timeout=STEP_TIMEOUT * 6) for walk in walks]
    assert problems == [[]] * SESSIONS
