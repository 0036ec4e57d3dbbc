"""Concurrent export downloads through the route: one dashboard server, or two behind HAProxy.

    .venv/bin/python benchmarks/balancer.py                      # bench-large, 1/4/8/16 clients
    .venv/bin/python benchmarks/balancer.py --batch bench-small-a --clients 1,4 --repeat 2

Reads the benchmark database that `benchmarks/run.py` builds (`gleif_bench`: 1 M domains in
`bench-large`) and never builds it. Two servers are started by `deploy/serve`; HAProxy runs
`deploy/haproxy.cfg` as committed, its addresses from the environment. Three set-ups serve
each round of N clients that start at once, in turn, so that the machine's load drifts alike
for all three:

- **1 server**: the clients fetch from one server directly;
- **1 server behind HAProxy**: both of the file's server lines point at that one server;
- **2 servers behind HAProxy**: the two servers, the clients spread by `balance leastconn`.

Each client is curl (`GET /api/export/BATCH?format=csv`, body to /dev/null; a transfer cut
short is an error). A server runs at most GLEIF_MAX_EXPORTS exports (default 10) and
answers 503 with Retry-After beyond that; a client told so waits and asks again, as a
script would, and the 503s are counted. Each download's size is checked against the first
complete one. This machine is shared with other work: the load average is written beside
every round, and only ratios within one run mean much. Writes benchmarks/BALANCER.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.dataset import BENCH_DIR, LARGE_BATCH, libpq_dsn  # noqa: E402
from benchmarks.run import MB, PYTHON, _free_port, _wait_healthy, machine, say  # noqa: E402

HAPROXY = "/usr/sbin/haproxy"
DEPLOY = PROJECT_DIR / "deploy"
RESULTS_FILE = BENCH_DIR / "BALANCER.md"
CLIENT_TIMEOUT = 1800
RETRIES = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
CURL_FORMAT = (
    "%{http_code} %{time_starttransfer} %{time_total} %{size_download} %header{retry-after}"
)
SETUPS = ("1 server", "1 server behind HAProxy", "2 servers behind HAProxy")


@dataclass(frozen=True)
class Download:
    """One client's download: final status, its times, its size, the 503s it was told first."""

    status: int
    first_byte: float
    seconds: float
    size: int
    refused: int
    error: str


@dataclass(frozen=True)
class Round:
    """N clients at once against one set-up."""

    setup: str
    clients: int
    wall: float
    downloads: list[Download]
    server_cpu: float
    haproxy_cpu: float
    busy: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


@dataclass
class Process:
    """A process this benchmark started, for its CPU time and its end."""

    popen: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the process (all its threads) so far."""
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=60)


@contextmanager
def dashboard(database_url: str, log: Path, home: Path) -> Iterator[tuple[str, Process]]:
    """One server started by deploy/serve on a free port; its base URL and process."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GLEIF_PYTHON": PYTHON,
        "HOME": str(home),
        "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_urlsafe(32),
    }
    env.pop("GLEIF_LINK_SECRET", None)
    with log.open("wb") as output:
        popen = subprocess.Popen(
            [str(DEPLOY / "serve"), str(port)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    process = Process(popen)
    base = f"http://127.0.0.1:{port}"
    try:
        if not _wait_healthy(base, popen):
            raise SystemExit(f"the server did not start: see {log}")
        yield base, process
    finally:
        process.stop()


@contextmanager
def haproxy(first: str, second: str, log: Path) -> Iterator[tuple[str, Process]]:
    """HAProxy on deploy/haproxy.cfg in front of two addresses; its base URL and process."""
    port = _free_port()
    env = {
        **os.environ,
        "GLEIF_BIND": f"127.0.0.1:{port}",
        "GLEIF_APP1": first.removeprefix("http://"),
        "GLEIF_APP2": second.removeprefix("http://"),
    }
    if os.geteuid() != 0:  # only root may switch to the haproxy user
        env["GLEIF_HAPROXY_USER"] = ""
    with log.open("wb") as output:
        popen = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(DEPLOY / "haproxy.cfg")],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    process = Process(popen)
    base = f"http://127.0.0.1:{port}"
    try:
        if not _wait_healthy(base, popen):
            raise SystemExit(f"HAProxy did not start: see {log}")
        yield base, process
    finally:
        process.stop()


def download(url: str) -> Download:
    """curl the export to /dev/null; on 503 wait for Retry-After and ask again."""
    refused = 0
    started = time.perf_counter()
    for _ in range(RETRIES):
        result = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", CURL_FORMAT, url],
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
            check=False,
        )
        fields = result.stdout.split()
        status = int(fields[0]) if fields else 0
        if status == 503:
            refused += 1
            time.sleep(float(fields[4]) if len(fields) > 4 else 10)
            continue
        seconds = time.perf_counter() - started
        first_byte = seconds - float(fields[2]) + float(fields[1]) if len(fields) > 2 else 0
        size = int(fields[3]) if len(fields) > 3 else 0
        return Download(status, first_byte, seconds, size, refused, result.stderr.strip())
    return Download(503, 0, time.perf_counter() - started, 0, refused, "refused every time")


def machine_busy() -> tuple[int, int]:
    """Busy and total jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def run_round(
    setup: str, clients: int, url: str, servers: Sequence[Process], proxy: Process | None
) -> Round:
    """N clients at once; the servers' and HAProxy's CPU, the machine's, the load average."""
    load_before = os.getloadavg()
    cpu_before = [s.cpu_seconds() for s in servers]
    proxy_before = proxy.cpu_seconds() if proxy else 0.0
    busy_before = machine_busy()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        downloads = list(pool.map(download, [url] * clients))
    wall = time.perf_counter() - started
    busy_after = machine_busy()
    return Round(
        setup=setup,
        clients=clients,
        wall=wall,
        downloads=downloads,
        server_cpu=sum(s.cpu_seconds() - b for s, b in zip(servers, cpu_before, strict=True)),
        haproxy_cpu=(proxy.cpu_seconds() - proxy_before) if proxy else 0.0,
        busy=(busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]),
        load_before=load_before,
        load_after=os.getloadavg(),
    )


def render(rounds: list[Round], size: int, facts: dict[str, str]) -> str:
    """The run as Markdown: what it ran on, one row per round, ratios per client count."""
    lines = [f"## Run of {datetime.now():%Y-%m-%d %H:%M}", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines += [
        f"- export size: {size / MB:.1f} MB (CSV, domain layout)",
        "",
        "| set-up | clients | complete | 503 then retried | wall s | MB/s "
        "| per client median / max s | first byte median s | server CPU s | HAProxy CPU s "
        "| machine busy | load avg before / after |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rounds:
        complete = sum(d.status == 200 and d.size == size for d in r.downloads)
        seconds = [d.seconds for d in r.downloads]
        lines.append(
            f"| {r.setup} | {r.clients} | {complete} of {r.clients} "
            f"| {sum(d.refused for d in r.downloads)} | {r.wall:.1f} "
            f"| {complete * size / MB / r.wall:.1f} "
            f"| {statistics.median(seconds):.1f} / {max(seconds):.1f} "
            f"| {statistics.median(d.first_byte for d in r.downloads):.1f} "
            f"| {r.server_cpu:.1f} | {r.haproxy_cpu:.1f} | {r.busy:.0%} "
            f"| {r.load_before[0]:.1f} / {r.load_after[0]:.1f} |"
        )
    lines += ["", "Wall time relative to 1 server, same client count:", ""]
    for clients in sorted({r.clients for r in rounds}):
        alone = [r.wall for r in rounds if r.clients == clients and r.setup == SETUPS[0]]
        if not alone:
            continue
        ratios = ", ".join(
            f"{r.setup} {r.wall / statistics.median(alone):.2f}x"
            for r in rounds
            if r.clients == clients and r.setup != SETUPS[0]
        )
        lines.append(f"- {clients} clients: {ratios}")
    errors = {d.error for r in rounds for d in r.downloads if d.error}
    if errors:
        lines += ["", "Client errors: " + "; ".join(sorted(errors))]
    return "\n".join(lines) + "\n"


def write_results(text: str) -> None:
    """Put the run on top of BALANCER.md; earlier runs stay below it."""
    head = (
        "# Route downloads: one server or two behind HAProxy\n\n"
        "Written by `benchmarks/balancer.py` (its docstring says what each set-up is). This "
        "machine is shared: read the ratios within one run, beside its load average.\n\n"
    )
    earlier = ""
    if RESULTS_FILE.exists():
        old = RESULTS_FILE.read_text(encoding="utf-8")
        earlier = old[old.index("## Run of") :] if "## Run of" in old else ""
    RESULTS_FILE.write_text(head + text + ("\n" + earlier if earlier else ""), encoding="utf-8")


def check_database(url: str, batch: str) -> None:
    """Refuse to run without the benchmark database: this script does not build it."""
    try:
        with psycopg.connect(libpq_dsn(make_url(url)), connect_timeout=10) as connection:
            built = connection.execute(
                "SELECT value FROM bench_meta WHERE key = 'fingerprint'"
            ).fetchone()
            found = connection.execute(
                "SELECT 1 FROM domains WHERE batch_id = %s LIMIT 1", (batch,)
            ).fetchone()
    except psycopg.Error as exc:
        raise SystemExit(f"no benchmark database at {url}: {exc}") from None
    if built is None or found is None:
        raise SystemExit(f"{url} has no finished benchmark batch {batch!r}: run benchmarks/run.py")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--database",
        default="postgresql://root@127.0.0.1:5432/gleif_bench",
        help="the benchmark database benchmarks/run.py built (default: gleif_bench, 1 M)",
    )
    parser.add_argument("--batch", default=LARGE_BATCH)
    parser.add_argument("--clients", default="1,4,8,16", help="client counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per set-up and count")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Start the servers and HAProxy, run the rounds, write BALANCER.md."""
    args = build_parser().parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    check_database(args.database, args.batch)
    command = [".venv/bin/python", "benchmarks/balancer.py", *(argv or sys.argv[1:])]
    facts = {
        "command": f"`{' '.join(command)}`",
        **machine(libpq_dsn(make_url(args.database))),
        "commit": subprocess.run(
            ["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout.strip(),
        "batch": f"`{args.batch}` of `{make_url(args.database).database}`",
        "exports per server at once (GLEIF_MAX_EXPORTS)": os.environ.get("GLEIF_MAX_EXPORTS", "10"),
        "load average at start (1, 5, 15 min)": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    }  # fmt: skip
    path = f"/api/export/{quote(args.batch, safe='')}?format=csv"
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="gleif-balancer-") as folder, ExitStack() as stack:
        tmp = Path(folder)
        say("starting two dashboard servers and two HAProxy instances")
        first, first_process = stack.enter_context(dashboard(args.database, tmp / "app1.log", tmp))
        second, second_process = stack.enter_context(
            dashboard(args.database, tmp / "app2.log", tmp)
        )
        alone, alone_proxy = stack.enter_context(haproxy(first, first, tmp / "haproxy-1.log"))
        pair, pair_proxy = stack.enter_context(haproxy(first, second, tmp / "haproxy-2.log"))
        setups = {
            SETUPS[0]: (first + path, [first_process], None),
            SETUPS[1]: (alone + path, [first_process], alone_proxy),
            SETUPS[2]: (pair + path, [first_process, second_process], pair_proxy),
        }
        say("warming up: one download from each server")
        size = download(first + path).size
        download(second + path)
        for clients in counts:
            for _ in range(args.repeat):
                for setup, (url, servers, proxy) in setups.items():
                    say(f"{setup}: {clients} clients")
                    rounds.append(run_round(setup, clients, url, servers, proxy))
                    say(f"  {rounds[-1].wall:.1f} s, load {os.getloadavg()[0]:.2f}")
    facts["load average at end (1, 5, 15 min)"] = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    text = render(rounds, size, facts)
    write_results(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
