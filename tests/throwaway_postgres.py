"""A PostgreSQL server of a test's own, in a temporary folder, that the test may stop and start.

Fault tests stop the database under a running export; they must never touch the shared
server that other test runs use. initdb refuses to run as root, so the cluster belongs to
the `postgres` OS user when the tests run as root. A server can also be a hot standby of
another one (`standby_of`), copied from it by `pg_basebackup -R`: tests/replicated_postgres.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

POSTGRES_BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


class ThrowawayPostgres:
    """One PostgreSQL cluster on a free port; `stop()` kills it at once, as a crash would.

    With `standby_of` (a started server), the cluster is a streaming-replication copy of that
    one, which starts as its hot standby.
    """

    def __init__(self, *, standby_of: ThrowawayPostgres | None = None) -> None:
        if not (POSTGRES_BIN / "initdb").exists():
            message = f"{POSTGRES_BIN}/initdb is missing: apt-get install postgresql"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        self.folder = Path(tempfile.mkdtemp(prefix="gleif-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        if standby_of is not None:
            # -R writes primary_conninfo and standby.signal: the copy starts as a standby
            # that streams from the primary; -X stream copies the WAL written meanwhile.
            self._run(
                "pg_basebackup", "-D", str(self.data), "-h", "127.0.0.1",
                "-p", str(standby_of.port), "-U", standby_of.url.username or "", "-X", "stream",
                "-R", "-c", "fast", "--no-sync",
            )  # fmt: skip
            return
        self._run(
            "initdb", "-D", str(self.data), "-U", "root" if os.geteuid() == 0 else _me(),
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N",
        )  # fmt: skip

    @property
    def url(self) -> URL:
        """The URL of the `postgres` database as the superuser."""
        user = "root" if os.geteuid() == 0 else _me()
        return URL.create(
            "postgresql+psycopg",
            username=user,
            host="127.0.0.1",
            port=self.port,
            database="postgres",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        # fsync off is safe here: the tests kill the server, never the machine. Commits stay
        # synchronous, or an immediate stop would lose rows that a test already saw committed.
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        """Stop the server immediately: every session is cut off, nothing is shut down cleanly."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")

    def remove(self) -> None:
        """Stop the server if it runs and delete its folder."""
        # From inside its folder: the postgres user may not enter the caller's directory.
        subprocess.run(
            [*self._as_owner, str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-m",
             "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
            cwd=self.folder,
            timeout=120,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        """Run a server program (CalledProcessError when it fails); fail naming it after 120 s."""
        try:
            subprocess.run(
                [*self._as_owner, str(POSTGRES_BIN / program), *args],
                capture_output=True,
                check=True,
                cwd=self.folder,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"throwaway PostgreSQL: {program} did not finish in 120 s") from None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _me() -> str:
    import getpass

    return getpass.getuser()
