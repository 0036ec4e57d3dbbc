"""A PostgreSQL primary and its hot standby, streaming on loopback, for the replica tests.

Both are throwaway servers (tests/throwaway_postgres.py) in temporary folders on free
ports: the primary made by initdb with streaming replication allowed, the standby copied
from it by `pg_basebackup -R`, which makes it stream from the primary as a hot standby.
Nothing of the shared test server is touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from gleif_data.replica import has_replayed, write_position
from tests.throwaway_postgres import ThrowawayPostgres

# What the primary needs to feed a hot standby (15's defaults, said here so that a changed
# default cannot break the tests), and a standby that tells the primary which rows its
# queries still read, so that a long export there is not cancelled by the primary's vacuum.
PRIMARY_SETTINGS = {
    "wal_level": "replica",
    "max_wal_senders": "5",
    "hot_standby": "on",
    "hot_standby_feedback": "on",
}
REPLICATION_HBA = "host replication all 127.0.0.1/32 trust\n"
REPLAY_TIMEOUT = 60.0  # seconds


class ReplicatedPostgres:
    """A started primary and its started hot standby; `remove()` stops both and deletes them."""

    def __init__(self, database: str = "gleif") -> None:
        self.database = database
        self.primary = ThrowawayPostgres()
        self.standby: ThrowawayPostgres | None = None
        try:
            with (self.primary.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.writelines(f"{name} = {value}\n" for name, value in PRIMARY_SETTINGS.items())
            with (self.primary.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
                hba.write(REPLICATION_HBA)
            self.primary.start()
            with _admin(self.primary.url) as admin, admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database}"'))
            # The copy carries the settings and the database; it starts as a standby.
            self.standby = ThrowawayPostgres(standby_of=self.primary)
            self.standby.start()
        except BaseException:
            self.remove()
            raise

    @property
    def primary_url(self) -> URL:
        """The URL of the test database on the primary."""
        return self.primary.url.set(database=self.database)

    @property
    def standby_url(self) -> URL:
        """The URL of the test database on the standby (read-only)."""
        assert self.standby is not None
        return self.standby.url.set(database=self.database)

    def remove(self) -> None:
        """Stop both servers and delete their folders."""
        if self.standby is not None:
            self.standby.remove()
        self.primary.remove()


def wait_for_replay(primary: Engine, standby: Engine, timeout: float = REPLAY_TIMEOUT) -> None:
    """Wait until the standby has replayed everything the primary committed so far.

    Raises TimeoutError after `timeout` seconds, naming both positions.
    """
    with primary.connect() as connection:
        position = write_position(connection)
    assert position is not None, "a PostgreSQL primary has a WAL position"
    deadline = time.monotonic() + timeout
    while True:
        with standby.connect() as connection:
            if has_replayed(connection, position):
                return
            replayed = connection.execute(text("SELECT pg_last_wal_replay_lsn()")).scalar()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the standby replayed up to {replayed}, not past the primary's {position}, "
                f"in {timeout:g} s"
            )
        time.sleep(0.05)


@contextmanager
def _admin(url: URL) -> Iterator[Engine]:
    """An autocommit engine for CREATE DATABASE, with bounded connect and statement times."""
    engine = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 10, "options": "-c statement_timeout=120s"},
    )
    try:
        yield engine
    finally:
        engine.dispose()
