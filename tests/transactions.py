"""Library calls the way a request makes them: in a read snapshot or a write transaction of their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine

from gleif_data.transactions import read_snapshot, write_transaction

P = ParamSpec("P")
T = TypeVar("T")


def read(
    engine: Engine, function: Callable[Concatenate[Connection, P], T], *args: Any, **kwargs: Any
) -> T:
    """`function(connection, ...)` in a read snapshot of its own, as one page render would."""
    with read_snapshot(engine) as connection:
        return function(connection, *args, **kwargs)


def write(
    engine: Engine, function: Callable[Concatenate[Connection, P], T], *args: Any, **kwargs: Any
) -> T:
    """`function(connection, ...)` in a write transaction of its own, committed on return."""
    with write_transaction(engine) as connection:
        return function(connection, *args, **kwargs)
