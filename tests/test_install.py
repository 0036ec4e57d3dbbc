"""`pip install .` gives a `gleif` command that works from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from gleif_data.config import PROJECT_DIR

INSTALL_TIMEOUT = 300  # a first build fetches the pinned setuptools; later ones use the cache


@pytest.fixture(scope="module")
def gleif(tmp_path_factory) -> Path:
    """The `gleif` script of the project installed into a throwaway venv."""
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.fail(f"{uv} is missing: install requirements-dev.lock (make test does)")
    venv = tmp_path_factory.mktemp("installed") / "venv"
    # Only the project goes into the throwaway venv (no downloads): its dependencies come
    # from this venv's site-packages through a .pth file.
    subprocess.run(
        [str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "project-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(
        PROJECT_DIR,
        source,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.db", "__pycache__", "build", "tests"),
    )
    try:
        subprocess.run(
            [str(uv), "pip", "install", "--quiet", "--python", str(python), "--no-deps",
             str(source)],
            check=True, capture_output=True, timeout=INSTALL_TIMEOUT,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"pip install . failed:\n{exc.stderr.decode(errors='replace')}")
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip install . did not finish within {INSTALL_TIMEOUT} s")
    return venv / "bin" / "gleif"


def _run(gleif: Path, cwd: Path, database: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.run(
        [str(gleif), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_installed_command_answers_help_from_any_folder(gleif, tmp_path):
    result = _run(gleif, tmp_path, tmp_path / "g.db", "--help")
    assert result.returncode == 0, result.stderr
    assert "migrate" in result.stdout


def test_the_installed_command_migrates_loads_the_demo_and_exports_outside_the_project(
    gleif, tmp_path
):
    database = tmp_path / "g.db"
    for command in (["migrate"], ["demo"], ["batches"]):
        result = _run(gleif, tmp_path, database, *command)
        assert result.returncode == 0, f"gleif {command[0]}: {result.stderr}"
    assert "demo-small" in result.stdout
    result = _run(gleif, tmp_path, database, "export", "--batch", "demo-small", "--out", "x.csv")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.csv").read_text(encoding="utf-8").count("\n") > 2
    # Nothing was written into the installed package or the checkout.
    assert not (PROJECT_DIR / "x.csv").exists()


def test_installed_without_a_database_url_the_sqlite_file_is_in_the_working_folder(gleif, tmp_path):
    env = {"PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [str(gleif), "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gleif.db").is_file()
