"""Every way a CLI export can end early ends promptly: one line, the right exit code, no file.

Each case runs `python -m gleif_data export` as a subprocess on a batch whose export takes
15-20 MB in every format (more than a pipe and the socket buffers hold), each run bounded by
a timeout: a crash (exit 134, `Fatal Python error`) or a hang fails the test.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import io
import os
import signal
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from gleif_data.errors import GleifDataError
from gleif_data.export import ExportFormat, ExportLayout, ExportOptions, write_export
from tests.big_batch import seed_wide_batch
from tests.conftest import database_env, empty_tables

FORMATS = ("csv", "json", "xlsx", "parquet")
RUN_SECONDS = 120  # one export of the batch takes a few seconds; a hang fails at this bound
APPLICATION = "gleif-export-exit-test"


@pytest.fixture
def wide(engine: Engine) -> Engine:
    """The batch `wide` on each database."""
    seed_wide_batch(engine, "wide")
    return engine


def _command(export_format: str, out: str, layout: str = "candidate") -> list[str]:
    return [
        sys.executable, "-m", "gleif_data", "export", "--batch", "wide",
        "--format", export_format, "--layout", layout, "--out", out,
    ]  # fmt: skip


def _env(engine: Engine) -> dict[str, str]:
    return {**database_env(engine), "PGAPPNAME": APPLICATION}


def _stderr_lines(stderr: bytes) -> list[str]:
    return stderr.decode(errors="replace").splitlines()


def _closed_pipe_run(engine: Engine, export_format: str) -> tuple[int, list[str]]:
    """Export to standard output, read 100 bytes, and close the pipe (`| head -c 100`)."""
    process = subprocess.Popen(
        _command(export_format, "-"),
        env=_env(engine),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.stdout.read(100)
        process.stdout.close()
        _, stderr = process.communicate(timeout=RUN_SECONDS)
    finally:
        _kill(process)
    return process.returncode, _stderr_lines(stderr)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


@pytest.mark.parametrize("export_format", FORMATS)
def test_a_closed_pipe_ends_the_export_quietly(wide, export_format):
    # The reader asked for no more: as with `head`, no message and exit 0.
    assert _closed_pipe_run(wide, export_format) == (0, [])


def test_twenty_closed_pipes_under_the_parquet_export_never_crash_or_hang(postgres_engine):
    # Before, Arrow read PostgreSQL's CSV in a thread of its own that called into Python:
    # 12 of 30 runs aborted with "Fatal Python error: PyGILState_Release" or hung.
    engine = postgres_engine
    with _emptied(engine):
        seed_wide_batch(engine, "wide")
        outcomes = [_closed_pipe_run(engine, "parquet") for _ in range(20)]
    assert outcomes == [(0, [])] * 20


@contextlib.contextmanager
def _emptied(engine: Engine) -> Iterator[None]:
    """The shared PostgreSQL test database, empty before and after."""
    empty_tables(engine)
    try:
        yield
    finally:
        empty_tables(engine)


@pytest.mark.parametrize("export_format", FORMATS)
def test_a_full_standard_output_ends_in_one_line(wide, export_format):
    with open("/dev/full", "wb") as full:
        finished = subprocess.run(
            _command(export_format, "-"),
            env=_env(wide),
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=RUN_SECONDS,
        )
    assert finished.returncode == 1
    assert _stderr_lines(finished.stderr) == [
        "error: cannot write standard output: No space left on device"
    ]


@contextlib.contextmanager
def _small_disk(folder: Path) -> Iterator[Path]:
    """A 1 MB tmpfs mounted on `folder` (root only); skips the test where it cannot mount."""
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small disk needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
        capture_output=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=30)


@pytest.mark.parametrize("export_format", FORMATS)
def test_a_full_disk_ends_in_one_line_and_leaves_no_file(wide, export_format, tmp_path):
    with _small_disk(tmp_path / "disk") as disk:
        target = disk / f"out.{export_format}"
        finished = subprocess.run(
            _command(export_format, str(target)),
            env=_env(wide),
            capture_output=True,
            timeout=RUN_SECONDS,
        )
        assert finished.returncode == 1
        assert _stderr_lines(finished.stderr) == [
            f"error: cannot write {target}: No space left on device"
        ]
        assert list(disk.iterdir()) == []


@contextlib.contextmanager
def _candidates_locked(engine: Engine) -> Iterator[None]:
    """Hold a lock that makes the export's query wait: it is then surely under way."""
    with engine.connect() as connection, connection.begin():
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        connection.execute(text("LOCK TABLE gleif_candidates IN ACCESS EXCLUSIVE MODE"))
        yield


def _waiting_backend(engine: Engine, process: subprocess.Popen[bytes]) -> int:
    """The pid of the export's backend once its query waits for the lock."""
    query = text(
        "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
        "AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with engine.connect() as connection:
            pid = connection.execute(query, {"name": APPLICATION}).scalar()
        if pid is not None:
            return pid
        time.sleep(0.05)
    raise AssertionError("the export's query never waited for the lock within 60 s")


@pytest.mark.parametrize("export_format", FORMATS)
def test_a_terminated_backend_ends_the_export_in_one_line_and_leaves_no_file(
    postgres_engine, export_format, tmp_path
):
    engine = postgres_engine
    with _emptied(engine):
        seed_wide_batch(engine, "wide", domains=1_000)
        target = tmp_path / f"out.{export_format}"
        with _candidates_locked(engine):
            process = subprocess.Popen(
                _command(export_format, str(target)),
                env=_env(engine),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                pid = _waiting_backend(engine, process)
                with psycopg.connect(_dsn(engine), autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                _, stderr = process.communicate(timeout=RUN_SECONDS)
            finally:
                _kill(process)
    lines = _stderr_lines(stderr)
    assert process.returncode == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(("error: cannot reach PostgreSQL", "error: database error on"))
    assert list(tmp_path.iterdir()) == []


def _dsn(engine: Engine) -> str:
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize("export_format", FORMATS)
def test_ctrl_c_ends_the_export_in_one_line_and_leaves_no_file(
    postgres_engine, export_format, tmp_path
):
    engine = postgres_engine
    with _emptied(engine):
        seed_wide_batch(engine, "wide", domains=1_000)
        target = tmp_path / f"out.{export_format}"
        with _candidates_locked(engine):
            process = subprocess.Popen(
                _command(export_format, str(target)),
                env=_env(engine),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                _waiting_backend(engine, process)
                process.send_signal(signal.SIGINT)
                started = time.monotonic()
                _, stderr = process.communicate(timeout=RUN_SECONDS)
                took = time.monotonic() - started
            finally:
                _kill(process)
    assert (process.returncode, _stderr_lines(stderr)) == (
        130,
        ["error: interrupted; nothing was written"],
    )
    assert took < 10
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("export_format", FORMATS)
def test_ctrl_c_under_a_blocked_pipe_ends_the_export_in_one_line(wide, export_format):
    # Nobody reads standard output: the export waits in a write, half-way, on each database.
    process = subprocess.Popen(
        _command(export_format, "-"), env=_env(wide), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not _pipe_holds_bytes(process):
            assert time.monotonic() < deadline, "the export wrote nothing within 60 s"
            time.sleep(0.1)
        time.sleep(0.5)  # the first bytes are there: the next 64 KB fill the pipe at once
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=RUN_SECONDS)
    finally:
        _kill(process)
    assert process.returncode == 130
    assert _stderr_lines(stderr) == ["error: interrupted; nothing was written"]


def _pipe_holds_bytes(process: subprocess.Popen[bytes]) -> bool:
    """Whether the process has written to its standard output pipe, which nobody reads."""
    waiting = array.array("i", [0])
    fcntl.ioctl(process.stdout.fileno(), termios.FIONREAD, waiting)
    return waiting[0] > 0


def _add_overlong_name(engine: Engine) -> None:
    """A last candidate whose name no XLSX cell holds: the export fails after its spool grew."""
    with engine.begin() as connection:
        last = connection.execute(text("SELECT max(id) FROM domains WHERE batch_id = 'wide'"))
        connection.execute(
            text(
                "INSERT INTO gleif_candidates (domain_id, lei_code, legal_name) "
                "VALUES (:id, '5493001KJTIIGC8Y1R12', :name)"
            ),
            {"id": last.scalar_one(), "name": "x" * 40_000},
        )


@pytest.mark.parametrize("failure", ["overlong cell", "closed pipe", "full output"])
def test_a_failed_xlsx_export_leaves_no_spool_file_in_tmpdir(wide, failure, tmp_path):
    spool = tmp_path / "tmp"
    spool.mkdir()
    env = {**_env(wide), "TMPDIR": str(spool)}
    command = _command("xlsx", "-")
    if failure == "overlong cell":
        _add_overlong_name(wide)
        command = _command("xlsx", str(tmp_path / "out.xlsx"))
    with open("/dev/full" if failure == "full output" else os.devnull, "wb") as sink:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE if failure == "closed pipe" else sink,
            stderr=subprocess.PIPE,
        )
        try:
            if failure == "closed pipe":
                process.stdout.read(100)
                process.stdout.close()
            _, stderr = process.communicate(timeout=RUN_SECONDS)
        finally:
            _kill(process)
    assert process.returncode == (0 if failure == "closed pipe" else 1)
    assert len(_stderr_lines(stderr)) == (0 if failure == "closed pipe" else 1)
    assert list(spool.iterdir()) == []


def test_a_failed_xlsx_export_in_a_server_leaves_no_spool_file(wide, tmp_path, monkeypatch):
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    _add_overlong_name(wide)
    options = ExportOptions(format=ExportFormat.XLSX, layout=ExportLayout.CANDIDATE)
    with pytest.raises(GleifDataError, match="32,767 an XLSX cell holds"):
        write_export(wide, "wide", io.BytesIO(), options)
    assert list(spool.iterdir()) == []
