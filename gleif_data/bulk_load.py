"""Bulk loading: COPY on PostgreSQL, batched inserts on SQLite, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table, insert

_BATCH_ROWS = 10_000


def load_rows(connection: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> None:
    """Write rows into a table the fastest way the database offers."""
    if connection.dialect.name == "sqlite":
        insert_rows(connection, table, rows)
    else:
        copy_rows(connection, table, rows)


def copy_rows(connection: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> None:
    """Stream rows into a PostgreSQL table with COPY FROM STDIN, in the connection's transaction."""
    columns = ", ".join(column.name for column in table.columns)
    # Table and column names are this package's constants, never user input.
    statement = f"COPY {table.name} ({columns}) FROM STDIN"
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def insert_rows(connection: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert rows in batches (executemany) on any database."""
    names = [column.name for column in table.columns]
    for chunk in _chunks(rows, _BATCH_ROWS):
        connection.execute(insert(table), [dict(zip(names, row, strict=True)) for row in chunk])


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk
