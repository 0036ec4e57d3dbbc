"""Errors that reach the analyst as one line: which file, which line, what is wrong."""

from __future__ import annotations

from pathlib import Path


class GleifDataError(Exception):
    """A problem the user can fix; its message is shown as it is, without a traceback."""


class InputError(GleifDataError):
    """Bad input in a file, located by file name and line number."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {reason}")
