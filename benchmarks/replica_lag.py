"""How far a hot standby falls behind while `import-batch` writes to its primary.

Starts a primary and its streaming hot standby on loopback (tests/replicated_postgres.py:
PostgreSQL 15's initdb and pg_basebackup -R, fsync off as in the tests), migrates the
primary, writes a match CSV of --rows rows, and runs `python -m gleif_data import-batch`
against the primary while a thread samples, every 0.1 s, the primary's
pg_stat_replication (replay_lag, and the WAL bytes the standby has not replayed). After the
import it times how long the standby takes to show the committed batch, then exports the
batch (`gleif export`, CSV) from the standby and from the primary, with the CPU seconds each
server's processes used meanwhile. Prints a Markdown section and appends it to
benchmarks/REPLICA.md.

    .venv/bin/python benchmarks/replica_lag.py --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gleif_data.db import make_engine
from gleif_data.migrate import upgrade
from tests.replicated_postgres import ReplicatedPostgres, wait_for_replay
from tests.support import sample_records

RESULTS = Path(__file__).resolve().parent / "REPLICA.md"
SAMPLE_SECONDS = 0.1
IMPORT_TIMEOUT = 3600
LAG_QUERY = text(
    "SELECT extract(epoch FROM replay_lag), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
    " FROM pg_stat_replication LIMIT 1"
)


@dataclass
class Samples:
    """What the sampler saw: replay lag in seconds (None when idle) and bytes behind."""

    lag_seconds: list[float] = field(default_factory=list)
    bytes_behind: list[int] = field(default_factory=list)


def write_match_file(path: Path, rows: int) -> int:
    """A match CSV of `rows` rows: 0-3 real GLEIF candidates per domain. Returns the domains."""
    records = [(r["LEI"], r["Entity.LegalName"]) for r in sample_records()]
    written = domains = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["domain", "lei_code", "legal_name", "match_score", "match_method"])
        while written < rows:
            candidates = domains % 4  # 0, 1, 2, 3 candidates in turn
            name = f"site{domains:07d}.example.com"
            domains += 1
            if candidates == 0:
                writer.writerow([name, "", "", "", ""])
                written += 1
                continue
            for k in range(min(candidates, rows - written)):
                lei, legal_name = records[(domains * 7 + k) % len(records)]
                writer.writerow([name, lei, legal_name, "0.9", "exact"])
                written += 1
    return domains


def sample(primary: Engine, samples: Samples, stop: threading.Event) -> None:
    """Sample the replication lag until `stop` is set."""
    with primary.connect() as connection:
        while not stop.wait(SAMPLE_SECONDS):
            row = connection.execute(LAG_QUERY).first()
            connection.commit()
            if row is None:
                continue
            lag, behind = row
            if lag is not None:
                samples.lag_seconds.append(float(lag))
            if behind is not None:
                samples.bytes_behind.append(int(behind))


def cluster_cpu_seconds(data: Path) -> float:
    """CPU seconds used so far by a PostgreSQL server: its postmaster and every backend.

    Backends that have ended count through the postmaster's cutime and cstime.
    """
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid, parent = int(entry.name), int(fields[1])
        if pid == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif parent == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ExportRun:
    """One CLI export: wall seconds and the CPU seconds of each server meanwhile."""

    wall: float
    primary_cpu: float
    standby_cpu: float


def export_from(url: str, servers: ReplicatedPostgres, batch: str) -> ExportRun:
    """Run `gleif export` of the batch against `url` into /dev/null, and measure it."""
    assert servers.standby is not None
    primary_before = cluster_cpu_seconds(servers.primary.data)
    standby_before = cluster_cpu_seconds(servers.standby.data)
    begun = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "gleif_data", "export", "--batch", batch, "--out", "/dev/null"],
        check=True, env={**os.environ, "DATABASE_URL": url}, timeout=IMPORT_TIMEOUT,
    )  # fmt: skip
    wall = time.monotonic() - begun
    time.sleep(1)  # the export's backend ends and is reaped: its CPU time moves to cutime
    return ExportRun(
        wall,
        cluster_cpu_seconds(servers.primary.data) - primary_before,
        cluster_cpu_seconds(servers.standby.data) - standby_before,
    )


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> int:
    """Run the measurement and print its Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    load_before = os.getloadavg()
    servers = ReplicatedPostgres()
    primary = make_engine(servers.primary_url)
    standby = make_engine(servers.standby_url)
    try:
        upgrade(primary)
        with tempfile.TemporaryDirectory(prefix="gleif-lag-") as folder:
            match_file = Path(folder) / "matches.csv"
            domains = write_match_file(match_file, args.rows)
            wait_for_replay(primary, standby)
            samples, stop = Samples(), threading.Event()
            sampler = threading.Thread(target=sample, args=(primary, samples, stop), daemon=True)
            env = {
                **os.environ,
                "DATABASE_URL": servers.primary_url.render_as_string(hide_password=False),
            }
            started = datetime.now(UTC)
            sampler.start()
            begun = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "gleif_data", "import-batch", str(match_file),
                 "--batch", "lag"],
                check=True, env=env, timeout=IMPORT_TIMEOUT, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            imported = time.monotonic() - begun
            wait_for_replay(primary, standby, timeout=600)
            caught_up = time.monotonic() - begun - imported
            stop.set()
            sampler.join(timeout=10)
        load_after = os.getloadavg()
        urls = {
            name: url.render_as_string(hide_password=False)
            for name, url in (("standby", servers.standby_url), ("primary", servers.primary_url))
        }
        exports = {name: export_from(url, servers, "lag") for name, url in urls.items()}
        load_end = os.getloadavg()
    finally:
        primary.dispose()
        standby.dispose()
        servers.remove()
    lags = samples.lag_seconds
    behind_mb = [b / 1_000_000 for b in samples.bytes_behind]
    section = "\n".join(
        [
            f"## {started:%Y-%m-%d %H:%M} UTC: import-batch of {args.rows:,} rows "
            f"({domains:,} domains)",
            "",
            f"Command: `benchmarks/replica_lag.py --rows {args.rows}`. Load average "
            f"{load_before[0]:.1f} before the import, {load_after[0]:.1f} after it, "
            f"{load_end[0]:.1f} after the exports (1-minute; "
            f"{os.cpu_count()} cores). Primary and standby on this machine, loopback, "
            "fsync off.",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| import-batch on the primary (wall) | {imported:.1f} s |",
            f"| standby showing the committed batch, after the import ended | {caught_up:.2f} s |",
            f"| replay lag (pg_stat_replication.replay_lag), median | {statistics.median(lags) if lags else 0:.3f} s |",  # noqa: E501
            f"| replay lag, p90 | {percentile(lags, 0.9):.3f} s |",
            f"| replay lag, max | {max(lags, default=0):.3f} s |",
            f"| WAL not yet replayed, max | {max(behind_mb, default=0):.1f} MB |",
            f"| samples (every {SAMPLE_SECONDS} s) | {len(samples.bytes_behind)} |",
            *(
                f"| export of the batch (CSV, domain layout) from the {name}: wall, "
                f"primary CPU, standby CPU | {run.wall:.1f} s, {run.primary_cpu:.1f} s, "
                f"{run.standby_cpu:.1f} s |"
                for name, run in exports.items()
            ),
            "",
        ]
    )
    print(section)
    with RESULTS.open("a", encoding="utf-8") as out:
        if out.tell() == 0:
            out.write("# Replica lag during imports\n\n")
        out.write(section + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
