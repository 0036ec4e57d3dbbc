"""Read replicas: whether a database takes writes, and whether a replica shows a write yet.

A PostgreSQL hot standby replays the primary's write-ahead log (WAL). A write is visible on
the standby once it has replayed past the WAL position the primary had reached after the
write's commit, so that position is what a session remembers after it writes.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection


def is_read_only(connection: Connection) -> bool:
    """Whether the connection's transaction may not write: a hot standby, a read-only default."""
    if connection.dialect.name == "sqlite":
        return False  # a read-only SQLite file says so when written to (transactions.translate)
    return connection.execute(text("SHOW transaction_read_only")).scalar_one() == "on"


def write_position(connection: Connection) -> str | None:
    """The primary's WAL insert position now, past every commit made before (None on SQLite)."""
    if connection.dialect.name == "sqlite":
        return None
    return connection.execute(text("SELECT CAST(pg_current_wal_insert_lsn() AS text)")).scalar()


def has_replayed(connection: Connection, position: str) -> bool:
    """Whether the database shows every write committed before `position` (a primary does)."""
    if connection.dialect.name == "sqlite":
        return True
    query = text(
        "SELECT CASE WHEN pg_is_in_recovery()"
        " THEN coalesce(pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn), false)"
        " ELSE true END"
    )
    return bool(connection.execute(query, {"position": position}).scalar_one())


class WriteLog:
    """One session's last write: the primary's WAL position after it, until a replica shows it.

    transactions.write_transaction notes the position when the engine it is given carries this log
    (execution option WRITE_LOG); the dashboard then reads from the primary until the read
    replica has replayed past it, so an analyst always sees the decision just made.
    """

    def __init__(self) -> None:
        self._position: str | None = None
        self._lock = threading.Lock()

    @property
    def position(self) -> str | None:
        """The WAL position that the reads must have replayed, or None when nothing waits."""
        return self._position

    def note(self, primary: Engine) -> None:
        """Remember where the primary's WAL stands now, just after a commit."""
        with primary.connect() as connection:
            position = write_position(connection)
        with self._lock:
            self._position = position

    def seen_by(self, replica: Engine) -> bool:
        """Whether `replica` shows the last write (then it is forgotten: one query until then)."""
        position = self._position
        if position is None:
            return True
        with replica.connect() as connection:
            replayed = has_replayed(connection, position)
        if replayed:
            with self._lock:
                if self._position == position:
                    self._position = None
        return replayed


WRITE_LOG = "gleif_write_log"
