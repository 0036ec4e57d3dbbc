"""SQL that PostgreSQL and SQLite spell differently, as constructs SQLAlchemy compiles per dialect.

Feature code writes one expression; the spelling each database needs is chosen here when the
statement is compiled (`@compiles`), or by SQLAlchemy itself (`func.aggregate_strings`
renders `string_agg` on PostgreSQL and `group_concat` on SQLite). What is a genuine
difference in behaviour (COPY, sequences, locks, the reference search's indexes) stays a
branch in the module that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, Table, collate
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import FunctionElement, GenericFunction

Excluded = Any  # the row an upsert would have inserted: `excluded` on both databases


# Lower-case like the SQL functions SQLAlchemy defines (func.count, func.coalesce).
class strpos(GenericFunction[int]):
    """strpos(text, substring): where the substring starts (1-based), 0 when it is absent.

    PostgreSQL's `strpos` is SQLite's `instr`. Both take the substring as plain text, so LIKE
    wildcards never apply.
    """

    type = Integer()
    inherit_cache = True


@compiles(strpos, "sqlite")
def _instr(element: strpos, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr{compiler.process(element.clause_expr, **kw)}"


class byte_order(FunctionElement[str]):
    """A text column compared and sorted byte by byte, as an index in that order serves.

    PostgreSQL needs `COLLATE "C"` (migration 0006 indexes `lei_records.lei` so); SQLite's
    default BINARY collation already is byte order, and it has no collation named "C".
    """

    type = String()
    name = "byte_order"
    inherit_cache = True


@compiles(byte_order)
def _collate_c(element: byte_order, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(collate(column, "C"), **kw)


@compiles(byte_order, "sqlite")
def _binary(element: byte_order, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(column, **kw)


def upsert(
    dialect: Dialect,
    table: Table,
    rows: Mapping[str, Any] | tuple[Sequence[str], Select[Any]],
    *,
    key: str,
    only_if: Callable[[Excluded], ColumnElement[bool]] | None = None,
) -> Insert:
    """INSERT rows (a dict, or column names and a SELECT); a row whose `key` exists updates it.

    Every inserted column but the key is updated; `only_if(excluded)` limits the update to
    rows for which that condition holds (`excluded` is the row that would have gone in).
    """
    # Both databases say INSERT ... ON CONFLICT (key) DO UPDATE; SQLAlchemy has the clause in
    # each dialect's own insert() only.
    dialect_insert = sqlite.insert if dialect.name == "sqlite" else postgresql.insert
    statement = dialect_insert(table)
    if isinstance(rows, Mapping):
        columns: Sequence[str] = list(rows)
        statement = statement.values(dict(rows))
    else:
        columns, query = rows
        statement = statement.from_select(columns, query)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: excluded[name] for name in columns if name != key},
        where=None if only_if is None else only_if(excluded),
    )
