"""Import GLEIF reference data from a golden-copy LEI-CDF CSV, upserting by LEI, streaming."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    Text,
    delete,
    select,
    true,
)

from gleif_data.bulk_load import load_rows
from gleif_data.csv_input import open_csv
from gleif_data.errors import InputError
from gleif_data.lei import normalise_lei
from gleif_data.models import LeiRecord
from gleif_data.overview import refresh_counts
from gleif_data.queries import list_batch_sizes
from gleif_data.sql_dialects import upsert
from gleif_data.transactions import read_snapshot, write_transaction

# Our column: the golden copy's column (LEI-CDF 3.x names).
GOLDEN_COPY_COLUMNS = {
    "lei": "LEI",
    "legal_name": "Entity.LegalName",
    "entity_status": "Entity.EntityStatus",
    "registration_status": "Registration.RegistrationStatus",
    "legal_address_country": "Entity.LegalAddress.Country",
    "legal_jurisdiction": "Entity.LegalJurisdiction",
    "headquarters_country": "Entity.HeadquartersAddress.Country",
    "last_update": "Registration.LastUpdateDate",
    "next_renewal": "Registration.NextRenewalDate",
}
_DATE_COLUMNS = {"last_update", "next_renewal"}
_CHUNK_ROWS = 20_000

_staging_metadata = MetaData()
staging = Table(
    "import_gleif_staging",
    _staging_metadata,
    *(
        Column(name, DateTime(timezone=True) if name in _DATE_COLUMNS else Text)
        for name in GOLDEN_COPY_COLUMNS
    ),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def import_gleif(engine: Engine, path: Path, progress: Callable[[int], None] | None = None) -> int:
    """Upsert every record of the file into lei_records in one transaction; return the count."""
    progress = progress or (lambda _n: None)
    with open_csv(path) as csv_rows:
        positions = {name.casefold(): index for index, name in enumerate(csv_rows.header)}
        if "lei" not in positions:
            raise InputError(
                path, 1, "no 'LEI' column: expected a GLEIF golden-copy (LEI-CDF) CSV file"
            )
        cells = [positions.get(source.casefold()) for source in GOLDEN_COPY_COLUMNS.values()]
        records = _records(path, csv_rows.rows, cells)
        total = 0
        with write_transaction(engine, bulk=True) as connection:
            staging.create(connection)
            while chunk := _unique_by_lei(islice(records, _CHUNK_ROWS)):
                _upsert_chunk(connection, chunk)
                total += len(chunk)
                progress(len(chunk))
            staging.drop(connection)
    # Every batch's flags and statuses read the reference data: count them again now.
    with read_snapshot(engine, bulk=True) as connection:
        refresh_counts(connection, [size.batch for size in list_batch_sizes(connection)])
    return total


def _records(
    path: Path, rows: Iterator[tuple[int, list[str]]], cells: list[int | None]
) -> Iterator[tuple[Any, ...]]:
    names = list(GOLDEN_COPY_COLUMNS)
    for line, fields in rows:
        record: list[Any] = []
        for name, index in zip(names, cells, strict=True):
            text = fields[index].strip() if index is not None else ""
            try:
                if name == "lei":
                    record.append(normalise_lei(text))
                elif name in _DATE_COLUMNS:
                    record.append(datetime.fromisoformat(text) if text else None)
                else:
                    record.append(text or None)
            except ValueError as exc:
                source = GOLDEN_COPY_COLUMNS[name]
                raise InputError(path, line, f"{source}: {exc}") from None
        yield tuple(record)


def _unique_by_lei(records: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The chunk with each LEI once (the last wins), as an upsert can touch a row only once."""
    return list({record[0]: record for record in records}.values())


def _upsert_chunk(connection: Connection, chunk: list[tuple[Any, ...]]) -> None:
    connection.execute(delete(staging))
    load_rows(connection, staging, chunk)
    columns = list(GOLDEN_COPY_COLUMNS)
    # SQLite parses ON CONFLICT after INSERT ... SELECT only when the SELECT has a WHERE.
    source = select(*(staging.c[name] for name in columns)).where(true())
    table = LeiRecord.__table__
    connection.execute(upsert(connection.dialect, table, (columns, source), key="lei"))
