"""Benchmark harness: exports, dashboard queries and imports against their PostgreSQL floor.

    .venv/bin/python benchmarks/run.py                 # 1 M-domain batch (1.2 M domains)
    .venv/bin/python benchmarks/run.py --scale 2M      # a 2 M-domain batch, its own database
    .venv/bin/python benchmarks/run.py --with-orm      # also the ORM approach (~70 s, ~5 GB)

Every measurement runs in a fresh child process; its wall time includes interpreter start,
and its peak memory is the child's own maximum RSS (from wait4). Writes benchmarks/RESULTS.md.
Not part of the test suite: it takes minutes and needs a quiet machine to mean much.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402
import psycopg.sql  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402

from benchmarks.dataset import (  # noqa: E402
    BENCH_DIR,
    IMPORTED_BATCH,
    LARGE_BATCH,
    SMALL_BATCHES,
    BenchSpec,
    csv_header,
    ensure_database,
    golden_copy_file,
    import_batch_file,
    libpq_dsn,
)
from gleif_data.config import normalise_url  # noqa: E402
from gleif_data.export import ExportLayout, ExportOptions, export_query  # noqa: E402
from tests.support import stop_process  # noqa: E402

OUT_ROOT = BENCH_DIR / "out"
# One folder per database, so that runs at two scales never write the same files.
OUT_DIR = OUT_ROOT
RESULTS_FILE = BENCH_DIR / "RESULTS.md"
PYTHON = sys.executable
TASKS = str(BENCH_DIR / "tasks.py")
MB = 1024 * 1024


@dataclass
class Child:
    """A finished child process: wall time, peak RSS, exit status and output."""

    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, object]:
        """The JSON object a task printed."""
        return json.loads(self.stdout)


@dataclass
class Row:
    """One line of the results table."""

    name: str
    seconds: float | None
    peak_mb: float | None = None
    reference: str = ""
    ratio: float | None = None
    target: str = ""
    note: str = ""
    runs: list[float] = field(default_factory=list)


def run_child(command: Sequence[str], env: dict[str, str] | None = None) -> Child:
    """Run a command to its end through spawn.py, which measures its wall time and peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".json") as result,
    ):
        launcher = [PYTHON, str(BENCH_DIR / "spawn.py"), result.name, *command]
        subprocess.run(launcher, stdout=out, stderr=err, env=env, cwd=PROJECT_DIR, check=True)
        measured = json.loads(Path(result.name).read_text())
        out.seek(0)
        err.seek(0)
        return Child(
            seconds=measured["seconds"],
            peak_mb=measured["maxrss_kb"] * 1024 / MB,  # Linux reports kilobytes
            returncode=measured["returncode"],
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def checked(child: Child, what: str) -> Child:
    """The child, or SystemExit with its error output when it failed."""
    if child.returncode != 0:
        raise SystemExit(f"{what} failed ({child.returncode}):\n{child.stderr[-2000:]}")
    return child


def say(message: str) -> None:
    """Progress on standard error, with a timestamp."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    """The SHA-256 of a file, to check that two exports hold the same bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def aggregate_sql(batch: str, layout: ExportLayout) -> str:
    """The export's SELECT as gleif_data.export builds it, compiled for PostgreSQL."""
    query = export_query("postgresql", batch, ExportOptions(layout=layout))
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def reference_run(dsn: str, batch: str, layout: ExportLayout) -> Child:
    """COPY (aggregate query) TO STDOUT through psycopg into a file: the floor of an export."""
    sql_file = OUT_DIR / f"aggregate-{layout.value}.sql"
    sql_file.write_text(aggregate_sql(batch, layout))
    out = OUT_DIR / f"reference-{layout.value}.csv"
    return checked(run_child([PYTHON, TASKS, "copy-out", dsn, str(sql_file), str(out)]), "COPY")


def reference_name(layout: ExportLayout) -> str:
    """The reference row's label."""
    return f"reference: COPY (aggregate query, {layout.value} layout) TO file"


def _median_row(name: str, runs: list[Child], **extra: object) -> Row:
    seconds = [run.seconds for run in runs]
    return Row(
        name=name,
        seconds=statistics.median(seconds),
        peak_mb=max(run.peak_mb for run in runs),
        runs=seconds,
        **extra,  # type: ignore[arg-type]
    )


def cli_env(url: URL) -> dict[str, str]:
    """The environment of a CLI or server child that should use the benchmark database."""
    env = dict(os.environ)
    env["DATABASE_URL"] = url.render_as_string(hide_password=False)
    env["PYTHONPATH"] = str(PROJECT_DIR)
    return env


def cli_export_run(
    url: URL, batch: str, export_format: str, layout: str, workers: int | None = None
) -> Child:
    """`python -m gleif_data export` as a subprocess, as an analyst runs it."""
    out = cli_export_path(export_format, layout)
    command = [PYTHON, "-m", "gleif_data", "export", "--batch", batch, "--out", str(out)]
    command += ["--format", export_format, "--layout", layout]
    if workers is not None:
        command += ["--workers", str(workers)]
    return checked(run_child(command, cli_env(url)), "export")


def cli_export_path(export_format: str, layout: str) -> Path:
    """Where the CLI export of a format and layout is written."""
    return OUT_DIR / f"cli-{layout}.{export_format}"


def cli_export_row(runs: list[Child], export_format: str, layout: str) -> Row:
    """The row of a CLI export: median time, rows and size of the file."""
    row = _median_row(f"CLI export, {export_format.upper()}, {layout} layout", runs)
    written = re.search(r"([\d,]+) rows written", runs[-1].stderr)
    size = cli_export_path(export_format, layout).stat().st_size / MB
    row.note = f"{written.group(1)} rows, {size:,.0f} MB" if written else ""
    return row


def load_average() -> float:
    """The machine's 1-minute load average now."""
    return os.getloadavg()[0]


def load_note(loads: list[float]) -> str:
    """The load averages a row was measured under; marked when any was above 4."""
    low, high = min(loads), max(loads)
    span = f"{low:.1f}" if round(low, 1) == round(high, 1) else f"{low:.1f}-{high:.1f}"
    return f"load {span}" + (" (MARKED: load above 4)" if high > 4 else "")


def psql_reference_run(dsn: str, batch: str) -> Child:
    """psql's COPY (aggregate query) TO STDOUT into /dev/null: a C client, one connection."""
    sql_file = OUT_DIR / "copy-domain.sql"
    sql_file.write_text(
        f"COPY ({aggregate_sql(batch, ExportLayout.DOMAIN)}) TO STDOUT "
        "WITH (FORMAT csv, HEADER true, NULL '\\N');\n"
    )
    command = ["psql", dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"]
    return checked(run_child([*command, "-c", "SET jit = off", "-f", str(sql_file)]), "psql COPY")


def measure_parallel_export(url: URL, dsn: str, batch: str, repeat: int) -> list[Row]:
    """The CLI CSV export with 1, 2, 4 and the automatic number of workers, beside one COPY.

    Every round runs each measurement once, in turn, so that the machine's load falls on all
    alike; each row is the fastest of its `repeat` runs, with the load averages it saw.
    """
    cases: dict[str, object] = {
        "psql": None,
        "psycopg": None,
        **{f"workers {n}": n for n in (1, 2, 4)},
        "automatic": "auto",
    }
    runs: dict[str, list[Child]] = {name: [] for name in cases}
    loads: dict[str, list[float]] = {name: [] for name in cases}
    digests: dict[str, str] = {}
    for round_number in range(repeat):
        say(f"export round {round_number + 1} of {repeat}")
        for name, workers in cases.items():
            loads[name].append(load_average())
            if name == "psql":
                child = psql_reference_run(dsn, batch)
            elif name == "psycopg":
                child = reference_run(dsn, batch, ExportLayout.DOMAIN)
            else:
                count = None if workers == "auto" else int(workers)  # type: ignore[arg-type]
                child = cli_export_run(url, batch, "csv", "domain", count)
                digests[name] = sha256(cli_export_path("csv", "domain"))
            runs[name].append(child)
    reference_digest = _reference_hash()

    def fastest(name: str, label: str, **extra: object) -> Row:
        seconds = [run.seconds for run in runs[name]]
        best = min(range(len(seconds)), key=seconds.__getitem__)
        return Row(
            name=label,
            seconds=seconds[best],
            peak_mb=max(run.peak_mb for run in runs[name]),
            runs=seconds,
            note=f"min of {len(seconds)}; {load_note(loads[name])}",
            **extra,  # type: ignore[arg-type]
        )

    psql = fastest("psql", "reference: psql, COPY (aggregate query, domain layout) TO /dev/null")
    psycopg_row = fastest("psycopg", reference_name(ExportLayout.DOMAIN) + " (psycopg)")
    rows = [psql, psycopg_row]
    for name in cases:
        if name in ("psql", "psycopg"):
            continue
        workers_label = "automatic workers" if name == "automatic" else name
        row = fastest(name, f"CLI export, CSV, domain layout, {workers_label}")
        same = "identical" if digests[name] == reference_digest else "DIFFERENT"
        written = re.search(r"([\d,]+) rows written", runs[name][-1].stderr)
        row.note = f"{same} bytes; {written.group(1) if written else '?'} rows; {row.note}"
        rows.append(ratio_to(row, psql, "≤ 0.85x, ≤ 150 MB"))
        ratio = row.seconds / psycopg_row.seconds if row.seconds and psycopg_row.seconds else 0
        row.note += f"; {ratio:.2f}x row 2"
    return rows


def measure_http(url: URL, batch: str, reference: Row, repeat: int = 1) -> list[Row]:
    """The HTTP export route of the Streamlit app over loopback; peak RSS of the server.

    Downloaded by curl, a native client as a browser is, and by Python's requests, whose
    chunked-transfer decoding costs CPU of its own on this 2-core machine; each `repeat`
    times in turn, the fastest kept.
    """
    name = "HTTP GET /api/export/{batch}?format=csv&layout=domain"
    port = _free_port()
    command = [PYTHON, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=cli_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    address = f"{base}/api/export/{quote(batch)}?format=csv&layout=domain"
    clients = {"curl": _download_curl, "Python requests": _download_requests}
    targets = {"curl": "≤ 1.0x", "Python requests": "≤ 1.2x"}
    if shutil.which("curl") is None:
        del clients["curl"]
    measured: dict[str, list[tuple[float, float, float, float, bool]]] = {c: [] for c in clients}
    problems: dict[str, str] = {}
    try:
        if not _wait_healthy(base, server):
            return [Row(name, None, note="not available: the app did not start")]
        for _ in range(repeat):
            for client, download in clients.items():
                load = load_average()
                before = _rss_mb(server.pid)
                peak = _PeakRss(server.pid)
                peak.start()
                out = OUT_DIR / "http-domain.csv"
                start = time.perf_counter()
                problem = download(address, out)
                seconds = time.perf_counter() - start
                peak.stop()
                if problem:
                    problems[client] = problem
                    continue
                same = sha256(out) == _reference_hash()
                measured[client].append((seconds, peak.peak_mb, before, load, same))
        rows = []
        for client in clients:
            if not measured[client]:
                rows.append(
                    Row(f"{name}, {client}", None, note=f"not available: {problems[client]}")
                )
                continue
            times = [m[0] for m in measured[client]]
            best = min(measured[client])
            same = "identical" if all(m[4] for m in measured[client]) else "DIFFERENT"
            loads = [m[3] for m in measured[client]]
            rows.append(
                Row(
                    f"{name}, {client} (server RSS)",
                    best[0],
                    peak_mb=max(m[1] for m in measured[client]),
                    reference=reference.name,
                    ratio=best[0] / reference.seconds if reference.seconds else None,
                    target=targets[client],
                    runs=times,
                    note=f"{same} bytes; min of {len(times)}; server RSS {best[2]:,.0f} MB "
                    f"before; automatic workers; {load_note(loads)}",
                )
            )
        return rows
    finally:
        stop_process(server)


def _download_curl(address: str, out: Path) -> str:
    """Fetch with curl; an empty string, or what went wrong."""
    done = subprocess.run(
        ["curl", "-sS", "-o", str(out), "-w", "%{http_code} %{content_type}", address],
        capture_output=True,
        text=True,
        timeout=600,
    )
    status = done.stdout.strip()
    if done.returncode or not status.startswith("200 ") or "text/html" in status:
        return f"curl exit {done.returncode}, {status or done.stderr.strip()[:80]}"
    return ""


def _download_requests(address: str, out: Path) -> str:
    """Fetch with requests, 1 MB at a time; an empty string, or what went wrong."""
    import requests

    try:
        with requests.get(address, stream=True, timeout=600) as response:
            kind = response.headers.get("content-type", "")
            if response.status_code != 200 or kind.startswith("text/html"):
                return f"HTTP {response.status_code} {kind or '-'}"
            with out.open("wb") as handle:
                for block in response.iter_content(chunk_size=1 << 20):
                    handle.write(block)
    except requests.RequestException as exc:
        return type(exc).__name__
    return ""


def _reference_hash() -> str:
    return sha256(OUT_DIR / "reference-domain.csv")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 90) -> bool:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(f"{base}/_stcore/health", timeout=2).text.strip() == "ok":
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def _process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(child) for child in task.read_text().split()]
    return pids


def _rss_mb(pid: int, key: str = "VmRSS") -> float:
    total = 0.0
    for member in _process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        found = re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE)
        total += int(found.group(1)) / 1024 if found else 0
    return total


class _PeakRss(threading.Thread):
    """Polls the RSS of a process tree (every 50 ms) while a download runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            self.peak_mb = max(self.peak_mb, _rss_mb(self.pid))

    def stop(self) -> None:
        self._done.set()
        self.join()
        # The kernel's high-water mark catches a peak between two polls.
        self.peak_mb = max(self.peak_mb, _rss_mb(self.pid, "VmHWM"))


def measure_orm(url: URL, batch: str, reference: Row) -> Row:
    """The first proposed approach: joinedload of every candidate, strings joined in Python."""
    out = OUT_DIR / "orm-domain.csv"
    child = checked(
        run_child([PYTHON, TASKS, "orm-export", str(_render(url)), batch, str(out)]), "ORM"
    )
    return Row(
        "ORM: joinedload + Python string joins (first proposal)",
        child.seconds,
        child.peak_mb,
        reference=reference.name,
        ratio=child.seconds / reference.seconds if reference.seconds else None,
        note=f"{child.json()['rows']:,} rows",
    )


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def measure_dashboard(url: URL, batch: str, repeat: int) -> list[Row]:
    """The dashboard's queries in one warm process, each the median of `repeat` runs."""
    command = [PYTHON, TASKS, "dashboard", _render(url), batch, "--repeat", str(repeat)]
    command += ["--later-batch", list(SMALL_BATCHES)[-1]]
    child = checked(run_child(command), "dashboard")
    timings = child.json()["timings"]
    assert isinstance(timings, dict)
    return [
        Row(label, t["median"], note=f"median of {repeat}, max {t['max']:.3f} s")
        for label, t in timings.items()
    ]


def measure_import_batch(url: URL, path: Path) -> tuple[Row, Row, Row]:
    """`import-batch` of a CSV against COPY FROM of the same file into a plain table."""
    reference, ref_row = _copy_in_reference(url, path, "-row match CSV")
    _delete_imported_batch(url)
    command = [PYTHON, "-m", "gleif_data", "import-batch", str(path), "--batch", IMPORTED_BATCH]
    child = checked(run_child(command, cli_env(url)), "import-batch")
    floor = _table_floor(url)
    row = Row(
        f"CLI import-batch of the same {_rows_label(path)}-row CSV",
        child.seconds,
        child.peak_mb,
        reference=ref_row.name,
        ratio=child.seconds / reference.seconds,
        target="≤ 2x",
        note=f"{child.seconds / floor.seconds:.2f}x the floor below, the batch's Overview "
        f"counts included; {child.stderr.strip().splitlines()[-1][:120]}",
    )
    floor_row = Row(
        "floor: COPY FROM of the rows the import wrote, straight into domains and "
        "gleif_candidates (their indexes and foreign key)",
        floor.seconds,
        floor.peak_mb,
        reference=ref_row.name,
        ratio=floor.seconds / reference.seconds,
        note="psql \\copy in one transaction: what PostgreSQL alone needs for these tables",
    )
    return ref_row, row, floor_row


def _table_floor(url: URL) -> Child:
    """Dump the imported batch's rows, delete them, and time COPY FROM of them back."""
    dsn = libpq_dsn(url)
    tables = {
        "domains": ("id, domain, batch_id", "batch_id = {batch}"),
        "gleif_candidates": (
            "id, domain_id, lei_code, legal_name, match_score, match_method, name_score",
            "domain_id IN (SELECT id FROM domains WHERE batch_id = {batch})",
        ),
    }
    files = {table: OUT_DIR / f"imported-{table}.copy" for table in tables}
    with psycopg.connect(dsn) as connection:
        for table, (columns, where) in tables.items():
            query = psycopg.sql.SQL(f"COPY (SELECT {columns} FROM {table} WHERE {where}) TO STDOUT")
            statement = query.format(batch=psycopg.sql.Literal(IMPORTED_BATCH))
            with files[table].open("wb") as out, connection.cursor().copy(statement) as copy:
                for block in copy:
                    out.write(block)
    _delete_imported_batch(url)
    command = ["psql", dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    for table, (columns, _where) in tables.items():
        command += ["-c", f"\\copy {table} ({columns}) FROM '{files[table]}'"]
    floor = checked(run_child(command), "COPY FROM into the tables")
    _delete_imported_batch(url)
    return floor


def measure_import_gleif(url: URL, path: Path) -> tuple[Row, Row]:
    """`import-gleif` of a golden-copy-shaped file against COPY FROM of the same file."""
    reference, ref_row = _copy_in_reference(url, path, "-record golden copy")
    dsn = libpq_dsn(url)
    _truncate_reference_data(dsn)
    child = checked(
        run_child([PYTHON, "-m", "gleif_data", "import-gleif", str(path)], cli_env(url)),
        "import-gleif",
    )
    _truncate_reference_data(dsn)
    row = Row(
        f"CLI import-gleif of the same {_rows_label(path)}-record file",
        child.seconds,
        child.peak_mb,
        reference=ref_row.name,
        ratio=child.seconds / reference.seconds,
        note=child.stderr.strip().splitlines()[-1][:160],
    )
    return ref_row, row


def _copy_in_reference(url: URL, path: Path, what: str) -> tuple[Child, Row]:
    """COPY FROM of the file into a plain table (dropped after): an import's reference."""
    dsn = libpq_dsn(url)
    columns = csv_header(path)
    reference = checked(
        run_child([PYTHON, TASKS, "copy-in", dsn, str(path), "bench_copy_target", *columns]),
        "COPY FROM",
    )
    _drop_table(dsn, "bench_copy_target")
    row = Row(
        f"reference: COPY FROM of the {_rows_label(path)}{what} into a plain table",
        reference.seconds,
        reference.peak_mb,
    )
    return reference, row


def _rows_label(path: Path) -> str:
    rows = int(path.stem.rsplit("_", 1)[-1])
    return f"{rows / 1_000_000:g} M" if rows >= 1_000_000 else f"{rows:,}"


def _drop_table(dsn: str, table: str) -> None:
    with psycopg.connect(dsn) as connection:
        connection.execute(f'DROP TABLE IF EXISTS "{table}"')


def _delete_imported_batch(url: URL) -> None:
    dsn = libpq_dsn(url)
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "DELETE FROM gleif_candidates WHERE domain_id IN "
            "(SELECT id FROM domains WHERE batch_id = %s)",
            (IMPORTED_BATCH,),
        )
        connection.execute("DELETE FROM domains WHERE batch_id = %s", (IMPORTED_BATCH,))
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE domains, gleif_candidates")


def _truncate_reference_data(dsn: str) -> None:
    with psycopg.connect(dsn) as connection:
        connection.execute("TRUNCATE lei_records")


def machine(dsn: str) -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = found.group(1) if found else cpu
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    with psycopg.connect(dsn) as connection:
        version = connection.execute("SHOW server_version").fetchone()
        work_mem = connection.execute("SHOW work_mem").fetchone()
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{int(memory.group(1)) / MB:.0f} GiB" if memory else "unknown",
        "postgresql": f"{version[0] if version else '?'} on the same machine "
        f"(work_mem {work_mem[0] if work_mem else '?'})",
        "python": f"{platform.python_version()}, psycopg {psycopg.__version__}",
        "os": platform.platform(),
    }


def ratio_to(row: Row, reference: Row, target: str = "") -> Row:
    """Set the row's ratio to a reference row's time."""
    row.reference = reference.name
    row.ratio = row.seconds / reference.seconds if row.seconds and reference.seconds else None
    row.target = target
    return row


def markdown_table(rows: list[Row]) -> str:
    """The results as a Markdown table; rows are numbered and ratios name their reference."""
    lines = [
        "| # | measurement | wall s | ratio | to # | peak RSS MB | target | notes |",
        "|---:|---|---:|---:|---:|---:|---|---|",
    ]
    numbers = {row.name: n for n, row in enumerate(rows, 1)}
    for n, row in enumerate(rows, 1):
        seconds = "-" if row.seconds is None else f"{row.seconds:,.3f}"
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        peak = "" if row.peak_mb is None else f"{row.peak_mb:,.0f}"
        runs = f"runs {', '.join(f'{s:.2f}' for s in row.runs)}; " if len(row.runs) > 1 else ""
        lines.append(
            f"| {n} | {row.name} | {seconds} | {ratio} | {numbers.get(row.reference, '')} "
            f"| {peak} | {row.target} | {runs}{row.note} |"
        )
    return "\n".join(lines)


def write_results(
    spec: BenchSpec,
    rows: list[Row],
    facts: dict[str, str],
    argv: list[str],
    section: str = "scale",
) -> None:
    """Replace this scale's section of RESULTS.md (other scales' and sections stay).

    `section="export"` is the export-only run (`--only-export`), kept apart from the full one.
    """
    marker = f"<!-- {section} {spec.large_domains} -->"
    end = "<!-- end -->"
    title = f"{spec.large_domains:,}-domain batch (database `{spec.database}`)"
    if section == "export":
        title = f"CSV export against one COPY, {title}"
    section_text = "\n".join(
        [
            marker,
            f"## {title}",
            "",
            f"- date: {datetime.now():%Y-%m-%d %H:%M}",
            f"- command: `{' '.join(shlex.quote(a) for a in argv)}`",
            *(f"- {key}: {value}" for key, value in facts.items()),
            "",
            markdown_table(rows),
            "",
            end,
        ]
    )
    intro = (
        "# Benchmark results\n\n"
        "Written by `benchmarks/run.py`; every figure is measured by the command shown in its "
        "section. Wall times include the child's interpreter start; peak RSS is the child's own "
        "maximum (wait4 in benchmarks/spawn.py), for the HTTP route the Streamlit server's "
        "(VmHWM). PostgreSQL's backend memory is not counted. Ratios are to the row numbered in "
        "the *to #* column. Dashboard queries run in one warm process (median of 3 runs).\n"
    )
    old = RESULTS_FILE.read_text(encoding="utf-8") if RESULTS_FILE.exists() else intro
    pattern = re.compile(re.escape(marker) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _m: section_text, old)
    else:
        new = old.rstrip("\n") + "\n\n" + section_text + "\n"
    RESULTS_FILE.write_text(new, encoding="utf-8")


def parse_scale(text: str) -> int:
    """`1M`, `2m`, `500k` or a plain number of domains in the large batch."""
    found = re.fullmatch(r"\s*([\d.]+)\s*([kKmM]?)\s*", text)
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 2M")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[found.group(2).lower()]
    return int(float(found.group(1)) * factor)


def build_parser() -> argparse.ArgumentParser:
    """The harness's command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_SERVER_URL", "postgresql://root@127.0.0.1:5432/postgres"),
        help="any database URL on the PostgreSQL server to use (default: %(default)s)",
    )
    parser.add_argument(
        "--scale", type=parse_scale, default=1_000_000, help="domains of the large batch (1M)"
    )
    parser.add_argument("--seed", type=int, default=20260126)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the COPY reference and CLI CSV (median)"
    )
    parser.add_argument("--import-rows", type=parse_scale, default=1_000_000)
    parser.add_argument("--with-orm", action="store_true", help="also the slow ORM approach")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument(
        "--only-export",
        action="store_true",
        help="only the CSV export against one COPY, and the route (a section of its own)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Build or reuse the database, measure, write RESULTS.md."""
    args = build_parser().parse_args(argv)
    spec = BenchSpec(large_domains=args.scale, seed=args.seed)
    global OUT_DIR
    OUT_DIR = OUT_ROOT / spec.database
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    url = ensure_database(normalise_url(args.server), spec, say=say)
    dsn = libpq_dsn(url)
    rows: list[Row] = []

    say("export: one COPY (psql, psycopg) and the CLI CSV with 1, 2, 4 workers, in turn")
    parallel_rows = measure_parallel_export(url, dsn, LARGE_BATCH, args.repeat)
    reference = parallel_rows[0]
    csv_row = parallel_rows[-1]  # the automatic number of workers, as an analyst runs it
    rows += parallel_rows
    if args.only_export:
        if not args.skip_http:
            say("export: HTTP route")
            rows += measure_http(url, LARGE_BATCH, reference, args.repeat)
        write_results(spec, rows, machine(dsn), [sys.executable, *sys.argv], section="export")
        print(markdown_table(rows))
        say(f"written {RESULTS_FILE}")
        return 0
    say("export: candidate layout")
    candidate = ExportLayout.CANDIDATE
    candidate_reference = _median_row(
        reference_name(candidate), [reference_run(dsn, LARGE_BATCH, candidate)]
    )
    candidate_row = cli_export_row(
        [cli_export_run(url, LARGE_BATCH, "csv", "candidate")], "csv", "candidate"
    )
    rows += [candidate_reference, ratio_to(candidate_row, candidate_reference)]
    for export_format in ("parquet", "xlsx", "json"):
        say(f"export: {export_format}")
        try:
            run = cli_export_run(url, LARGE_BATCH, export_format, "domain")
        except SystemExit as failed:  # e.g. more rows than one XLSX sheet holds
            reason = str(failed).strip().splitlines()[-1]
            name = f"CLI export, {export_format.upper()}, domain layout"
            rows.append(Row(name, None, note=f"refused: {reason}"))
            continue
        row = cli_export_row([run], export_format, "domain")
        rows.append(ratio_to(row, csv_row, "≤ 2x CSV" if export_format == "parquet" else ""))
    if not args.skip_http:
        say("export: HTTP route")
        rows += measure_http(url, LARGE_BATCH, reference, args.repeat)
    if args.with_orm:
        say("export: ORM approach (slow)")
        rows.append(measure_orm(url, LARGE_BATCH, reference))
    say("dashboard queries")
    rows += measure_dashboard(url, LARGE_BATCH, 3)
    if not args.skip_imports:
        say("import-batch")
        rows += measure_import_batch(url, import_batch_file(url, spec, args.import_rows))
        say("import-gleif")
        rows += measure_import_gleif(url, golden_copy_file(spec, args.import_rows))
    write_results(spec, rows, machine(dsn), [sys.executable, *sys.argv])
    saved = OUT_DIR / f"results-{spec.database}.json"
    saved.write_text(json.dumps([row.__dict__ for row in rows], indent=1))
    print(markdown_table(rows))
    say(f"written {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
