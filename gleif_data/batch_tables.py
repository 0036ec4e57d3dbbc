"""An import's writes to `domains` and `gleif_candidates`: ids, repeated domains, sequences.

The import numbers domains and candidates itself, as it reads the file, so that its rows go
into the tables without a sort or a join. This module reserves those ids, merges a domain
whose rows were not next to each other in the file, and moves the id sequences on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Connection, Integer, MetaData, Table, delete, func, select, text
from sqlalchemy import update as sql_update

from gleif_data.models import Domain, GleifCandidate

_merge_metadata = MetaData()
# Later rows of a domain that the file named again further down, and the row they join.
merges = Table(
    "import_batch_merges",
    _merge_metadata,
    Column("old_id", Integer, primary_key=True),
    Column("new_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_TABLES = ("domains", "gleif_candidates")
_IMPORT_WORK_MEM = "256MB"


@dataclass(frozen=True)
class FirstIds:
    """The first free id of each table, for an import to count up from."""

    domain: int
    candidate: int


def lock_for_import(connection: Connection) -> None:
    """Make imports wait for each other and give them room to sort (PostgreSQL).

    Readers are never blocked.
    """
    if connection.dialect.name == "sqlite":
        return  # the import's BEGIN IMMEDIATE already holds SQLite's only write lock
    # SHARE ROW EXCLUSIVE conflicts with itself and with INSERT/UPDATE/DELETE, not with
    # SELECT: while one import numbers its rows, nobody else takes those ids.
    connection.execute(text("LOCK TABLE domains, gleif_candidates IN SHARE ROW EXCLUSIVE MODE"))
    # merge_repeated_domains groups the whole batch; the default work_mem (4 MB) makes that
    # spill to disk. SET LOCAL lasts as long as the transaction.
    connection.execute(text(f"SET LOCAL work_mem = '{_IMPORT_WORK_MEM}'"))


def analyze_tables(connection: Connection) -> None:
    """Fresh statistics for `domains` and `gleif_candidates` after a load (PostgreSQL)."""
    if connection.dialect.name == "sqlite":
        return  # SQLite keeps no statistics until ANALYZE, and its plans here need none
    # The merge and the dashboard's first queries on a new batch are then planned for its
    # real size (autovacuum may take minutes).
    connection.execute(text(f"ANALYZE {', '.join(_TABLES)}"))


def first_free_ids(connection: Connection) -> FirstIds:
    """Ids above every id in use and every id the sequences handed out."""
    if connection.dialect.name == "sqlite":
        return FirstIds(
            domain=_above_max(connection, Domain.id),
            candidate=_above_max(connection, GleifCandidate.id),
        )
    # The sequences are read, not advanced: nextval() cannot be rolled back, and a refused
    # import must leave the database as it was, sequences included. The import's lock keeps
    # everyone else from taking ids until advance_sequences. greatest() skips NULL: a
    # sequence never used has no last_value, a table without one counts from its max(id).
    domain, candidate = (
        connection.execute(
            text(
                "SELECT greatest("
                f"  (SELECT coalesce(max(id), 0) + 1 FROM {table}),"
                "   (SELECT last_value + 1 FROM pg_sequences"
                "    WHERE format('%I.%I', schemaname, sequencename)::regclass"
                f"     = pg_get_serial_sequence('{table}', 'id')::regclass))"
            )
        ).scalar_one()
        for table in _TABLES
    )
    return FirstIds(domain=domain, candidate=candidate)


def advance_sequences(connection: Connection) -> None:
    """Move each id sequence past the ids the import wrote (PostgreSQL)."""
    if connection.dialect.name == "sqlite":
        return
    for table in _TABLES:
        # Table names are this module's constants, never user input.
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                f"FROM {table} HAVING max(id) IS NOT NULL "
                f"AND pg_get_serial_sequence('{table}', 'id') IS NOT NULL"
            )
        )


def merge_repeated_domains(connection: Connection, batch: str) -> tuple[int, int]:
    """Join a domain's later rows to its first; return (rows merged, repeated candidates dropped).

    The import numbers a domain once per run of rows, so a domain that comes back after
    other domains got a second row. Its candidates move to the first row, keeping file
    order (candidate ids follow the file), and a (domain, LEI) pair seen before is dropped.
    """
    d = Domain.__table__
    c = GleifCandidate.__table__
    # One scan and sort of the batch's domains, whatever the statistics say (a join of the
    # domains with their grouped selves was planned as a nested loop right after a load).
    numbered = (
        select(d.c.id, func.min(d.c.id).over(partition_by=d.c.domain).label("keep"))
        .where(d.c.batch_id == batch)
        .subquery("numbered")
    )
    later_rows = select(numbered.c.id, numbered.c.keep).where(numbered.c.id != numbered.c.keep)
    merges.create(connection)
    try:
        connection.execute(merges.insert().from_select(["old_id", "new_id"], later_rows))
        # Counted, not taken from rowcount: psycopg reports -1 for INSERT ... SELECT here.
        merged = connection.execute(select(func.count()).select_from(merges)).scalar_one()
        if not merged:
            return 0, 0
        connection.execute(
            sql_update(c).values(domain_id=merges.c.new_id).where(c.c.domain_id == merges.c.old_id)
        )
        targets = select(merges.c.new_id)
        first_of_pair = (
            select(func.min(c.c.id))
            .where(c.c.domain_id.in_(targets))
            .group_by(c.c.domain_id, c.c.lei_code)
        )
        dropped = connection.execute(
            delete(c).where(c.c.domain_id.in_(targets), c.c.id.not_in(first_of_pair))
        ).rowcount
        connection.execute(delete(d).where(d.c.id.in_(select(merges.c.old_id))))
        return merged, dropped
    finally:
        merges.drop(connection)


def _above_max(connection: Connection, column: Column[int]) -> int:
    return connection.execute(select(func.coalesce(func.max(column), 0) + 1)).scalar_one()
