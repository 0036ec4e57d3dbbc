"""The lock files pin every package the venv holds, at the versions requirements*.txt ask for."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from gleif_data.config import PROJECT_DIR

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
# The venv's own installers come with `python -m venv`, not from the lock; the project itself
# may be installed with `pip install .`.
NOT_LOCKED = {"pip", "setuptools", "gleif-match-dashboard"}


def _name(raw: str) -> str:
    """The normalised distribution name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins(path: Path) -> dict[str, str]:
    """Name -> version of every `name==version` line of a requirements or lock file."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line.strip()):
            pins[_name(match[1])] = match[2]
    return pins


def _hashed(path: Path) -> set[str]:
    """The packages of a lock file that carry at least one sha256 hash."""
    hashed, current = set(), None
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            current = _name(match[1])
        elif current and line.strip().startswith("--hash=sha256:"):
            hashed.add(current)
    return hashed


@pytest.mark.parametrize(
    ("source", "lock"),
    [
        ("requirements.txt", "requirements.lock"),
        ("requirements.txt", "requirements-dev.lock"),
        ("requirements-dev.txt", "requirements-dev.lock"),
    ],
)
def test_every_pin_is_locked_at_its_version(source, lock):
    wanted = _pins(PROJECT_DIR / source)
    locked = _pins(PROJECT_DIR / lock)
    assert wanted, f"{source} pins nothing"
    wrong = {
        name: (version, locked.get(name, "missing"))
        for name, version in wanted.items()
        if locked.get(name) != version
    }
    assert not wrong, f"{lock} disagrees with {source} (pinned, locked): {wrong}; run `make lock`"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_package_has_a_hash(lock):
    locked = _pins(PROJECT_DIR / lock)
    assert set(locked) - _hashed(PROJECT_DIR / lock) == set()


def test_the_dev_lock_agrees_with_the_runtime_lock():
    runtime = _pins(PROJECT_DIR / "requirements.lock")
    dev = _pins(PROJECT_DIR / "requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_every_installed_package_is_in_the_dev_lock():
    locked = _pins(PROJECT_DIR / "requirements-dev.lock")
    installed = {_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    unpinned = {
        name: version
        for name, version in installed.items()
        if name not in NOT_LOCKED and locked.get(name) != version
    }
    assert not unpinned, (
        f"installed but not in requirements-dev.lock at that version: {unpinned}; pin them in "
        "requirements*.txt and run `make lock`, or reinstall with `make test`"
    )
