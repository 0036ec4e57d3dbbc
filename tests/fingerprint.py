"""A database's whole content as one comparable value: every table's rows and every sequence."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text

from tests.support import table_rows


def database_fingerprint(engine: Engine) -> dict[str, Any]:
    """Every row of every table (in primary-key order), PostgreSQL sequence positions, and on
    SQLite a hash of the database file after a checkpoint: equal fingerprints mean that
    nothing was written."""
    tables = sorted(inspect(engine).get_table_names())
    found: dict[str, Any] = {table: table_rows(engine, table) for table in tables}
    if engine.dialect.name == "sqlite":
        found["file"] = _sqlite_file_hash(engine)
        return found
    with engine.connect() as connection:
        found["sequences"] = connection.execute(
            text(
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = 'public' ORDER BY 1"
            )
        ).all()
    return found


def _sqlite_file_hash(engine: Engine) -> str:
    path = Path(engine.url.database or "")
    # Committed pages may still sit in the write-ahead log: move them into the file first.
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return hashlib.sha256(path.read_bytes()).hexdigest()
