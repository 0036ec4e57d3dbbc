"""Small helpers the tests share: the LEIs they use, writing input files, reading the real
GLEIF sample, running the CLI, and the dashboard under AppTest.

Also the dashboard served for real (`streamlit run app.py` on a free port), for the browser
and load tests, and the Chromium that the browser tests drive.
"""

from __future__ import annotations

import csv
import gzip
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, Row, text

from gleif_data.config import PROJECT_DIR
from gleif_data.demo import GOLDEN_COPY_SAMPLE
from tests.conftest import database_env

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

IMPORT_HEADER = ["domain", "lei_code", "legal_name", "match_score", "match_method"]
DATA_TABLES = ("domains", "gleif_candidates", "lei_records")

# LEIs the tests share. ACME has valid check digits and is not in the reference sample; the
# others are real records of it (write_gleif_subset imports them as reference data).
ACME = "5493001KJTIIGC8Y1R12"
ZETA = "0292001130A2Q5CDA023"  # NG, GTI SECURITIES LIMTED
GERMAN = "39120001AX50UKJ6HG21"  # DE, ISSUED, ACTIVE
BRITISH = "2138001AVBSD1HSC6Z10"  # GB, ISSUED, ACTIVE
BAD_CHECK = "579100EKDEGDFEHDC086"  # AR, ANNULLED, entity status NULL, check digits fail


def write_csv(
    path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = IMPORT_HEADER
) -> Path:
    """Write a UTF-8 CSV with a header; .gz paths are gzip-compressed."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sample_records() -> list[dict[str, str]]:
    """The real golden-copy records the project ships, as dicts with GLEIF's column names."""
    with gzip.open(GOLDEN_COPY_SAMPLE, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_gleif_subset(path: Path, leis: Iterable[str]) -> Path:
    """A golden-copy CSV with the real records of these LEIs only (fast to import)."""
    wanted = set(leis)
    records = [r for r in sample_records() if r["LEI"] in wanted]
    return write_csv(path, [list(r.values()) for r in records], list(records[0]))


# The dashboard served for real (test_browser, test_load) and the browser (test_browser).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def require_program(program: Path, package: str) -> None:
    """Skip without a Debian program on a developer machine; fail under CI=true."""
    if program.exists():
        return
    message = f"{program} is missing: apt-get install {package}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_browser() -> None:
    """Skip without Debian's Chromium on a developer machine; fail under CI=true."""
    require_program(CHROMIUM, "chromium")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class RunningApp:
    """A `streamlit run app.py` server: its base URL and its process."""

    base: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_app(
    database_url: str,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    script: Path | None = None,
) -> Iterator[RunningApp]:
    """Serve the dashboard on a free port against a database until the block ends.

    `env` adds to the environment (a HOME, Streamlit options), `cwd` is the working folder
    and `script` the app.py to run: by default the project's own.
    """
    port = free_port()
    env = {
        **os.environ,
        **(env or {}),
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(PROJECT_DIR),
    }
    target = str(script or PROJECT_DIR / "app.py")
    # Output goes to a file, not a pipe: a pipe nobody reads blocks a chatty server. No file
    # watcher: when a source file changes, Streamlit drops its modules from sys.modules, and
    # sessions running at that moment fail; a working tree being edited is not what we test.
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", target,
                "--server.port", str(port), "--server.address", "127.0.0.1",
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none",
            ],
            cwd=cwd or PROJECT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{base}/_stcore/health", process, log)
        yield RunningApp(base, process)
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask a server to stop; kill it if it has not stopped after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=60)


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait up to 60 s for `url` to answer 200; fail at once, with the log, if `process` exits."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited early:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within 60 s")


def run_cli(
    engine: Engine, *args: str | os.PathLike[str], timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """`python -m gleif_data ARGS` in a process of its own, on `engine`'s database."""
    options = {"capture_output": True, "check": False, **kwargs}
    return subprocess.run(
        [sys.executable, "-m", "gleif_data", *args],
        env=database_env(engine),
        timeout=timeout,
        **options,
    )


def url_of(engine: Engine) -> str:
    """The engine's URL with its password, as DATABASE_URL takes it."""
    return engine.url.render_as_string(hide_password=False)


def app_test(monkeypatch: pytest.MonkeyPatch, url: str) -> AppTest:
    """app.py under Streamlit's AppTest on the database at `url`, not run yet.

    Streamlit's caches are emptied: they outlive a test and would hold another database's
    engine and reads.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=60)


def app(
    monkeypatch: pytest.MonkeyPatch, url: str, page: str | None = None, **query: str
) -> AppTest:
    """app.py run under AppTest with these query parameters, then switched to `page`."""
    at = app_test(monkeypatch, url)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def table_rows(engine: Engine, table: str) -> list[Row[Any]]:
    """Every row of a table, by its first column (the id)."""
    quoted = engine.dialect.identifier_preparer.quote(table)
    with engine.connect() as connection:
        # Names come from the tests or the database's catalogue, never from input.
        return connection.execute(text(f"SELECT * FROM {quoted} ORDER BY 1")).all()


def data_rows(engine: Engine) -> dict[str, list[Row[Any]]]:
    """The rows of the tables that the imports and the demo write, by table."""
    return {table: table_rows(engine, table) for table in DATA_TABLES}


def batch_rows(engine: Engine, batch: str) -> list[tuple[Any, ...]]:
    """(domain, lei_code, legal_name, match_score, match_method) for each candidate of a batch.

    In domain id and candidate id order; a domain without candidates is one row of NULLs.
    """
    query = text(
        "SELECT d.domain, c.lei_code, c.legal_name, c.match_score, c.match_method"
        " FROM domains d LEFT JOIN gleif_candidates c ON c.domain_id = d.id"
        " WHERE d.batch_id = :batch ORDER BY d.id, c.id"
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query, {"batch": batch})]
