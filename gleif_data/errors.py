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


class DatabaseError(GleifDataError):
    """The database could not do what was asked (see gleif_data.transactions).

    `where` names the database (never its password); `reason` is the database's own first
    line, with the password taken out should it appear there. Both are safe to show.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(self.describe())

    def describe(self) -> str:
        """The one-line message."""
        return f"database error on {self.where}: {self.reason}"


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached: down, a wrong address, or the connection was lost."""

    def describe(self) -> str:
        """The one-line message."""
        return f"cannot reach {self.where}: {self.reason}"


class QueryTimedOut(DatabaseError):
    """A statement ran past its time limit (or waited too long for a lock) and was stopped."""

    def describe(self) -> str:
        """The one-line message."""
        return f"{self.where} took too long to answer, so the query was stopped: {self.reason}"


class QueryRefused(DatabaseError):
    """The database refused a statement: a missing table or column, bad data, permissions."""


class PermissionDenied(QueryRefused):
    """The database role may not do this (SQLSTATE 42501)."""


class ReadOnlyDatabase(DatabaseError):
    """A write reached a database that only reads: a read-only role, transaction or standby."""

    def describe(self) -> str:
        """The one-line message."""
        return f"{self.where} is read-only: {self.reason}"
