"""Load benchmark: concurrent export downloads during an import, and concurrent browser sessions.

    .venv/bin/python benchmarks/load.py                   # builds or reuses the database gleif_load
    .venv/bin/python benchmarks/load.py --skip-browser    # only the downloads
    .venv/bin/python benchmarks/load.py --clients 10 --sessions 20 --import-rows 300k

The database (`gleif_load`) is built like run.py's, at a smaller scale: a 200,000-domain
batch to cut the import file from, and two 100,000-domain batches (about 160,000 candidates
each). Each part runs against a fresh `streamlit run app.py`, so that the server's
high-water mark (VmHWM) is that part's own:

1. `import-batch` of a 300,000-row CSV starts; once its transaction is writing, ten clients
   stream `GET /api/export/bench-small-a?format=csv&layout=domain` at once, and each file is
   compared by SHA-256 with the CLI export of the same batch.
2. One Chromium context walks Overview, Explore, the next page, a domain and Export alone
   (filling the dashboard's caches), then twenty contexts of the same browser walk them at
   once; every exception or error panel on a page is recorded.

Server memory is the Streamlit process tree's RSS sampled every 50 ms, and its VmHWM; CPU
seconds are the server's own; "machine busy" is every process's share of all cores, since
this machine is shared and noisy. Writes benchmarks/LOAD.md (the previous run moves under
"Earlier runs"). Not part of the test suite: tests/test_load.py asserts the same guarantees
without timing them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402

from benchmarks.dataset import (  # noqa: E402
    BENCH_DIR,
    IMPORTED_BATCH,
    BenchSpec,
    ensure_database,
    import_batch_file,
    libpq_dsn,
)
from benchmarks.run import (  # noqa: E402
    MB,
    OUT_ROOT,
    PYTHON,
    _delete_imported_batch,
    _free_port,
    _PeakRss,
    _process_tree,
    _rss_mb,
    _wait_healthy,
    checked,
    cli_env,
    machine,
    parse_scale,
    run_child,
    say,
    sha256,
)
from gleif_data.config import normalise_url  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS, stop_process  # noqa: E402

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

LOAD_FILE = BENCH_DIR / "LOAD.md"
OUT_DIR = OUT_ROOT / "gleif_load"
# The import file is cut from the large batch, which must hold at least that many rows
# (about 1.9 per domain); the exported batch is one of the 100,000-domain ones.
LARGE_DOMAINS = 200_000
MAX_IMPORT_ROWS = 350_000
EXPORTED_BATCH = "bench-small-a"
PROBLEMS = (
    '[data-testid="stException"], [data-testid="stAlertContentError"], '
    '[data-testid="stAlertContentWarning"]'
)
STEPS = ("overview", "explore", "next page", "domain", "export")


@dataclass(frozen=True)
class LoadSpec(BenchSpec):
    """run.py's data at load-test scale, in a database of its own."""

    @property
    def database(self) -> str:
        """Always `gleif_load`: one scale only."""
        return "gleif_load"


@dataclass
class Download:
    """What one client received, and how long it took."""

    client: int
    status: int | None
    size: int
    identical: bool
    seconds: float
    first_byte: float | None
    error: str = ""


@dataclass
class DownloadRun:
    """Part 1: the downloads, the import that ran beside them, and the server's memory."""

    alone: Download
    downloads: list[Download]
    cli_seconds: float
    expected_mb: float
    import_rows: int
    import_seconds: float
    import_peak_mb: float
    import_returncode: int
    import_message: str
    import_writing_after: float
    import_running_at_start: bool
    import_running_at_end: bool
    wall_seconds: float
    machine_busy: str
    rss_idle_mb: float
    rss_after_one_mb: float
    rss_peak_mb: float
    server_cpu_seconds: float
    database_cpu_seconds: float


@dataclass
class Session:
    """One browser session's walk: seconds per step and every problem seen."""

    seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class BrowseRun:
    """Part 2: one session alone, then the sessions at once; the server's memory and CPU."""

    alone: Session
    sessions: list[Session]
    wall_seconds: float
    rss_idle_mb: float
    rss_after_one_mb: float
    rss_peak_mb: float
    server_cpu_seconds: float
    browser_cpu_seconds: float
    database_cpu_seconds: float
    machine_busy: str


@dataclass(frozen=True)
class Server:
    """A running `streamlit run app.py`: its base URL and its process id."""

    base: str
    pid: int


@contextmanager
def served(url: URL, log: Path) -> Iterator[Server]:
    """`streamlit run app.py` on a free port against the database, stopped afterwards."""
    port = _free_port()
    command = [PYTHON, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    # When a source file changes, Streamlit drops its modules from sys.modules and sessions
    # running at that moment fail: a deployment's files do not change under it, a shared
    # working tree's do.
    command += ["--server.fileWatcherType", "none"]
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=cli_env(url), stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        if not _wait_healthy(base, server):
            raise SystemExit(f"the app did not start; see {log}")
        yield Server(base, server.pid)
    finally:
        stop_process(server)


def machine_busy() -> tuple[int, int, int]:
    """Clock ticks of the whole machine so far: busy at normal priority, niced, and in all."""
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    user, nice, system, idle, iowait, *rest = (int(value) for value in line.split()[1:8])
    return user + system + sum(rest), nice, user + nice + system + idle + iowait + sum(rest)


def busy_share(before: tuple[int, int, int], after: tuple[int, int, int]) -> str:
    """'93 % + 7 % niced': how busy every core was between two machine_busy() calls."""
    busy, nice, total = (a - b for a, b in zip(after, before, strict=True))
    if not total:
        return "-"
    return f"{busy / total:.0%} + {nice / total:.0%} niced"


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSampler(threading.Thread):
    """Sums the CPU seconds of a changing set of processes, polled every 200 ms.

    Polling catches processes that end before the measurement does (a browser context's
    renderer, a pooled PostgreSQL backend), whose time no parent's rusage may receive.
    """

    def __init__(self, processes: Callable[[], Iterable[int]]) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._done = threading.Event()

    def run(self) -> None:
        started = False
        while not self._done.wait(0.2):
            for pid in self.processes():
                try:
                    used = cpu_seconds(pid)
                except OSError:  # it ended between the listing and the read
                    continue
                # A process there at the start counts from then; a later one from zero.
                self._first.setdefault(pid, 0.0 if started else used)
                self._last[pid] = used
            started = True

    def stop(self) -> float:
        """Stop polling; the CPU seconds the processes used while it polled."""
        self._done.set()
        self.join()
        return sum(self._last[pid] - self._first[pid] for pid in self._last)


def database_backends(connection: psycopg.Connection) -> Callable[[], list[int]]:
    """A lister of the PostgreSQL backends of the connection's database, except its own."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    return lambda: [pid for (pid,) in connection.execute(query).fetchall()]


def browser_processes(server_pid: int) -> Callable[[], list[int]]:
    """A lister of this process's descendants except the server: Chromium and its driver."""
    me = os.getpid()
    return lambda: [pid for pid in _process_tree(me) if pid not in (me, server_pid)]


def download(
    base: str, expected: str, *, client: int, go: threading.Event | None = None
) -> Download:
    """Stream the batch's CSV export (once `go` is set), hashing it as it arrives."""
    import requests

    if go is not None:
        go.wait()
    digest, size, first, status, error = hashlib.sha256(), 0, None, None, ""
    start = time.perf_counter()
    try:
        with requests.get(
            f"{base}/api/export/{quote(EXPORTED_BATCH, safe='')}",
            params={"format": "csv", "layout": "domain"},
            stream=True,
            timeout=600,
        ) as response:
            status = response.status_code
            for block in response.iter_content(chunk_size=1 << 20):
                first = time.perf_counter() - start if first is None else first
                digest.update(block)
                size += len(block)
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:200]
    return Download(
        client,
        status,
        size,
        identical=digest.hexdigest() == expected,
        seconds=time.perf_counter() - start,
        first_byte=first,
        error=error,
    )


def wait_until_writing(dsn: str, process: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """Seconds until a client transaction of the database holds a transaction id (it writes)."""
    start = time.perf_counter()
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND backend_xid IS NOT NULL "
        "AND pid <> pg_backend_pid()"
    )
    with psycopg.connect(dsn, autocommit=True) as connection:
        while time.perf_counter() - start < timeout and process.poll() is None:
            row = connection.execute(query).fetchone()
            if row and row[0]:
                return time.perf_counter() - start
            time.sleep(0.05)
    raise SystemExit("the import never started writing")


def measure_downloads(url: URL, import_file: Path, clients: int, import_rows: int) -> DownloadRun:
    """Part 1: `clients` concurrent downloads of the export while `import-batch` runs."""
    expected = OUT_DIR / "expected-domain.csv"
    command = [PYTHON, "-m", "gleif_data", "export", "--batch", EXPORTED_BATCH]
    command += ["--format", "csv", "--layout", "domain", "--out", str(expected)]
    cli = checked(run_child(command, cli_env(url)), "CLI export")
    expected_sha = sha256(expected)
    _delete_imported_batch(url)  # left over by an interrupted run
    measured, import_log = OUT_DIR / "import.json", OUT_DIR / "import.log"
    with (
        psycopg.connect(libpq_dsn(url), autocommit=True) as monitor,
        served(url, OUT_DIR / "server-downloads.log") as server,
    ):
        base = server.base
        idle = _rss_mb(server.pid)
        alone = download(base, expected_sha, client=0)  # also warms the server up
        after_one = _rss_mb(server.pid)
        cpu_before = cpu_seconds(server.pid)
        importer = [PYTHON, str(BENCH_DIR / "spawn.py"), str(measured), PYTHON, "-m", "gleif_data"]
        importer += ["import-batch", str(import_file), "--batch", IMPORTED_BATCH]
        with import_log.open("wb") as log:
            importing = subprocess.Popen(
                importer, cwd=PROJECT_DIR, env=cli_env(url), stdout=log, stderr=log
            )
        writing_after = wait_until_writing(libpq_dsn(url), importing)
        peak = _PeakRss(server.pid)
        peak.start()
        database_cpu = CpuSampler(database_backends(monitor))
        database_cpu.start()
        go = threading.Event()
        busy = machine_busy()
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            futures = [
                pool.submit(download, base, expected_sha, go=go, client=n)
                for n in range(1, clients + 1)
            ]
            running_at_start = importing.poll() is None
            go.set()
            downloads = [future.result() for future in futures]
        wall = time.perf_counter() - start
        busy_during = busy_share(busy, machine_busy())
        database_seconds = database_cpu.stop()
        server_cpu = cpu_seconds(server.pid) - cpu_before
        running_at_end = importing.poll() is None
        importing.wait()
        peak.stop()
    result = json.loads(measured.read_text())
    lines = import_log.read_text(errors="replace").strip().splitlines()
    _delete_imported_batch(url)
    return DownloadRun(
        alone=alone,
        downloads=downloads,
        cli_seconds=cli.seconds,
        expected_mb=expected.stat().st_size / MB,
        import_rows=import_rows,
        import_seconds=result["seconds"],
        import_peak_mb=result["maxrss_kb"] / 1024,
        import_returncode=result["returncode"],
        import_message=lines[-1][:160] if lines else "",
        import_writing_after=writing_after,
        import_running_at_start=running_at_start,
        import_running_at_end=running_at_end,
        wall_seconds=wall,
        machine_busy=busy_during,
        rss_idle_mb=idle,
        rss_after_one_mb=after_one,
        rss_peak_mb=peak.peak_mb,
        server_cpu_seconds=server_cpu,
        database_cpu_seconds=database_seconds,
    )


async def settle(page: Page, timeout_ms: int) -> None:
    """Wait until Streamlit has finished the current run."""
    await page.wait_for_timeout(300)
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=timeout_ms,
    )
    await page.wait_for_timeout(300)


async def walk(browser: Browser, base: str, domain: str, domains: int, timeout_ms: int) -> Session:
    """One analyst: Overview, Explore, next page, a domain, Export; timed step by step."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    session = Session()
    batch = quote(EXPORTED_BATCH, safe="")

    async def step(name: str, act: Callable[[], Awaitable[object]], arrived: str) -> None:
        start = time.perf_counter()
        await act()
        if arrived:
            await page.get_by_text(arrived).first.wait_for()
        else:
            await page.wait_for_url(re.compile("after="))
        await settle(page, timeout_ms)
        session.seconds[name] = time.perf_counter() - start
        for problem in await page.locator(PROBLEMS).all():
            session.problems.append(f"{name}: {(await problem.inner_text())[:200]}")

    async def open_domain() -> None:
        await page.get_by_role("link", name="Domain", exact=True).click()
        box = page.get_by_role("textbox", name="Domain", exact=True)
        await box.fill(domain)
        await box.press("Enter")

    def link(name: str) -> Callable[[], Awaitable[None]]:
        return lambda: page.get_by_role("link", name=name, exact=True).click()

    plan = [
        (
            "overview",
            lambda: page.goto(f"{base}/?batch={batch}"),
            "Domains by number of candidates",
        ),
        ("explore", link("Explore"), f"of {domains:,} domains match"),
        ("next page", lambda: page.get_by_role("button", name="Next").click(), ""),
        ("domain", open_domain, ", in the order the matching listed them"),
        ("export", link("Export"), f"{domains:,} rows"),
    ]
    try:
        for name, act, arrived in plan:
            await step(name, act, arrived)
    except Exception as exc:  # a timeout or a missing element: recorded, the others go on
        failed = next(name for name, _a, _t in plan if name not in session.seconds)
        session.problems.append(f"{failed}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()
    return session


async def browse_at_once(
    base: str, domains: list[str], size: int, timeout_ms: int
) -> list[Session]:
    """One Chromium, one context per session, every session walking at the same time."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            return list(
                await asyncio.gather(*(walk(browser, base, d, size, timeout_ms) for d in domains))
            )
        finally:
            await browser.close()


def measure_browsing(url: URL, sessions: int, timeout_ms: int) -> BrowseRun:
    """Part 2: `sessions` browser sessions walking the pages at once."""
    with psycopg.connect(libpq_dsn(url)) as connection:
        size = connection.execute(
            "SELECT count(*) FROM domains WHERE batch_id = %s", (EXPORTED_BATCH,)
        ).fetchone()[0]  # type: ignore[index]
        domains = [
            row[0]
            for row in connection.execute(
                "SELECT d.domain FROM domains AS d WHERE d.batch_id = %s AND EXISTS "
                "(SELECT 1 FROM gleif_candidates AS c WHERE c.domain_id = d.id) "
                "ORDER BY d.id LIMIT %s",
                (EXPORTED_BATCH, sessions),
            )
        ]
    with (
        psycopg.connect(libpq_dsn(url), autocommit=True) as monitor,
        served(url, OUT_DIR / "server-browsing.log") as server,
    ):
        idle = _rss_mb(server.pid)
        # Alone first: it fills the dashboard's caches, as the first analyst of the day does.
        alone = asyncio.run(browse_at_once(server.base, domains[:1], size, timeout_ms))[0]
        after_one = _rss_mb(server.pid)
        peak = _PeakRss(server.pid)
        peak.start()
        cpu_before = cpu_seconds(server.pid)
        busy = machine_busy()
        database_cpu = CpuSampler(database_backends(monitor))
        browser_cpu = CpuSampler(browser_processes(server.pid))
        database_cpu.start()
        browser_cpu.start()
        start = time.perf_counter()
        walked = asyncio.run(browse_at_once(server.base, domains, size, timeout_ms))
        wall = time.perf_counter() - start
        busy_during = busy_share(busy, machine_busy())
        database_seconds = database_cpu.stop()
        browser_seconds = browser_cpu.stop()
        server_cpu = cpu_seconds(server.pid) - cpu_before
        peak.stop()
    return BrowseRun(
        alone=alone,
        sessions=walked,
        wall_seconds=wall,
        rss_idle_mb=idle,
        rss_after_one_mb=after_one,
        rss_peak_mb=peak.peak_mb,
        server_cpu_seconds=server_cpu,
        browser_cpu_seconds=browser_seconds,
        database_cpu_seconds=database_seconds,
        machine_busy=busy_during,
    )


def downloads_markdown(run: DownloadRun, clients: int) -> str:
    """Part 1 as Markdown: a summary, then one row per client."""
    ok = sum(d.status == 200 and d.identical and not d.error for d in run.downloads)
    seconds = [d.seconds for d in run.downloads]
    state = {True: "running", False: "finished"}
    lines = [
        f"### {clients} concurrent downloads of `{EXPORTED_BATCH}` during `import-batch`",
        "",
        "| figure | value |",
        "|---|---|",
        f"| complete, identical files (HTTP 200) | {ok} of {clients} |",
        f"| export size | {run.expected_mb:,.1f} MB, CLI export {run.cli_seconds:.2f} s |",
        f"| one client alone, no import | {run.alone.seconds:.2f} s "
        f"({'identical' if run.alone.identical else 'DIFFERENT'}) |",
        f"| {clients} clients at once: wall | {run.wall_seconds:.2f} s |",
        f"| per client: median / max | {statistics.median(seconds):.2f} s / {max(seconds):.2f} s |",
        f"| import-batch, {run.import_rows:,} rows | {run.import_seconds:.1f} s, exit "
        f"{run.import_returncode}, peak RSS {run.import_peak_mb:,.0f} MB |",
        f"| import when the downloads started / ended | {state[run.import_running_at_start]} / "
        f"{state[run.import_running_at_end]} (writing {run.import_writing_after:.1f} s after "
        "its start) |",
        f"| server RSS idle / after one download / peak | {run.rss_idle_mb:,.0f} / "
        f"{run.rss_after_one_mb:,.0f} / {run.rss_peak_mb:,.0f} MB |",
        f"| CPU during the downloads: server / PostgreSQL (exports and import) | "
        f"{run.server_cpu_seconds:.1f} s / {run.database_cpu_seconds:.1f} s |",
        f"| machine CPU busy during the downloads (every process) | {run.machine_busy} |",
        f"| import's last line | {run.import_message} |",
        "",
        "| client | status | MB | identical | seconds | first byte s | error |",
        "|---:|---:|---:|---|---:|---:|---|",
    ]
    for d in run.downloads:
        first = "" if d.first_byte is None else f"{d.first_byte:.2f}"
        lines.append(
            f"| {d.client} | {d.status or '-'} | {d.size / MB:,.1f} | "
            f"{'yes' if d.identical else 'NO'} | {d.seconds:.2f} | {first} | {d.error} |"
        )
    return "\n".join(lines)


def browsing_markdown(run: BrowseRun, sessions: int) -> str:
    """Part 2 as Markdown: a summary, then one row per step."""
    clean = sum(not s.problems and len(s.seconds) == len(STEPS) for s in run.sessions)
    lines = [
        f"### {sessions} browser sessions at once (Chromium, one context each)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| sessions through every page without an error | {clean} of {sessions} |",
        f"| one session alone first (fills the caches) | {sum(run.alone.seconds.values()):.1f} s"
        f"{', ' + '; '.join(run.alone.problems) if run.alone.problems else ''} |",
        f"| {sessions} sessions at once: wall | {run.wall_seconds:.1f} s |",
        f"| server RSS idle / after one session / peak | {run.rss_idle_mb:,.0f} / "
        f"{run.rss_after_one_mb:,.0f} / {run.rss_peak_mb:,.0f} MB |",
        f"| CPU of the {sessions} sessions: server / Chromium and its driver / PostgreSQL | "
        f"{run.server_cpu_seconds:.1f} s / {run.browser_cpu_seconds:.1f} s / "
        f"{run.database_cpu_seconds:.1f} s |",
        f"| machine CPU busy during the sessions (every process) | {run.machine_busy} |",
        "",
        f"| step | alone s | {sessions} at once: done | median s | max s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in STEPS:
        times = [s.seconds[name] for s in run.sessions if name in s.seconds]
        alone = f"{run.alone.seconds[name]:.1f}" if name in run.alone.seconds else "-"
        median = f"{statistics.median(times):.1f}" if times else "-"
        top = f"{max(times):.1f}" if times else "-"
        lines.append(f"| {name} | {alone} | {len(times)} | {median} | {top} |")
    problems = [p for s in [run.alone, *run.sessions] for p in s.problems]
    lines += ["", "Problems seen: " + ("; ".join(problems) if problems else "none.")]
    return "\n".join(lines)


def write_load_file(section: str) -> None:
    """Put the run first in LOAD.md; the previous latest run moves under Earlier runs."""
    start, end, earlier = "<!-- latest -->", "<!-- end latest -->", "## Earlier runs"
    intro = (
        "# Load results\n\n"
        "Written by `benchmarks/load.py`; every figure is measured by the command shown. Server "
        "RSS is the Streamlit process's, sampled every 50 ms, and its high-water mark (VmHWM); "
        "PostgreSQL's memory is not counted. CPU seconds are polled per process (the server, "
        "Chromium's processes, the database's PostgreSQL backends). This machine is shared: "
        "*machine busy* is every process's share of both cores (niced jobs apart), and the load "
        "averages count this benchmark's own processes too. The guarantees themselves are "
        "tests (`tests/test_load.py`), which time nothing.\n"
    )
    old = LOAD_FILE.read_text(encoding="utf-8") if LOAD_FILE.exists() else intro
    found = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), old, re.DOTALL)
    # The previous run goes one heading level down, under "Earlier runs".
    previous = re.sub(r"^(#+) ", r"#\1 ", found.group(1).strip(), flags=re.M) if found else ""
    history = old.split(earlier, 1)[1].strip() if earlier in old else ""
    head = old.split(start, 1)[0].rstrip() if start in old else intro.rstrip()
    parts = [head, "", start, section, end, "", earlier, ""]
    if previous:
        parts += [previous, ""]
    if history:
        parts += [history, ""]
    LOAD_FILE.write_text("\n".join(parts), encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_SERVER_URL", "postgresql://root@127.0.0.1:5432/postgres"),
        help="any database URL on the PostgreSQL server to use (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=20260126)
    parser.add_argument("--clients", type=int, default=10, help="concurrent downloads (10)")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent browsers (20)")
    parser.add_argument("--import-rows", type=parse_scale, default=300_000)
    parser.add_argument(
        "--step-timeout", type=float, default=180, help="seconds a page step may take (180)"
    )
    parser.add_argument("--skip-downloads", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Build or reuse the database, run both parts, write LOAD.md."""
    args = build_parser().parse_args(argv)
    if args.import_rows > MAX_IMPORT_ROWS:
        raise SystemExit(f"--import-rows: at most {MAX_IMPORT_ROWS:,} (the large batch's rows)")
    load_at_start = os.getloadavg()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    spec = LoadSpec(large_domains=LARGE_DOMAINS, seed=args.seed)
    url = ensure_database(normalise_url(args.server), spec, say=say)
    parts = []
    if not args.skip_downloads:
        import_file = import_batch_file(url, spec, args.import_rows)
        say(f"part 1: {args.clients} downloads during import-batch of {args.import_rows:,} rows")
        downloads = measure_downloads(url, import_file, args.clients, args.import_rows)
        parts.append(downloads_markdown(downloads, args.clients))
    if not args.skip_browser:
        say(f"part 2: {args.sessions} browser sessions at once")
        browsing = measure_browsing(url, args.sessions, int(args.step_timeout * 1000))
        parts.append(browsing_markdown(browsing, args.sessions))
    facts = machine(libpq_dsn(url))
    section = "\n".join(
        [
            f"## Run of {datetime.now():%Y-%m-%d %H:%M}",
            "",
            f"- command: `{' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])}`",
            *(f"- {key}: {value}" for key, value in facts.items()),
            f"- database: `{spec.database}` ({spec.fingerprint()})",
            "- load average at start (1, 5, 15 min): "
            + ", ".join(f"{value:.2f}" for value in load_at_start),
            "- load average at end (1, 5, 15 min): "
            + ", ".join(f"{value:.2f}" for value in os.getloadavg()),
            "",
            "\n\n".join(parts),
            "",
        ]
    )
    print(section)
    write_load_file(section)
    say(f"written {LOAD_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
