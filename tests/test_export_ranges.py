"""The parallel PostgreSQL CSV export: the same bytes as one COPY and as SQLite, in one snapshot."""

from __future__ import annotations

import io
import itertools
import random
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, Integer, case, select, text

from gleif_data.cancellation import Cancellation
from gleif_data.config import ConfigError
from gleif_data.db import in_id_range, make_engine
from gleif_data.export import ExportOptions, export_bytes, export_query, write_export
from gleif_data.export_ranges import (
    copy_csv_in_ranges,
    export_workers_setting,
    plan_ranges,
)
from gleif_data.export_stream import ExportStream
from gleif_data.filters import DomainFilter
from gleif_data.migrate import upgrade
from gleif_data.models import Domain
from tests.conftest import TABLES
from tests.support import sample_records

BATCH = "b1"
# Text a CSV could blur, as in test_export: NULL beside "", COPY's NULL marker, a line break,
# quotes, a formula, a non-Latin script.
AWKWARD = [None, "", "\\N", "Line\nbreak", '"Quoted", Inc', "=1+1", "Ελληνική Α.Ε."]
DOMAINS = 300


def _rows() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Domains of BATCH interleaved with another batch's, with 0 to 4 candidates each."""
    pick = random.Random(14)
    names = [record["Entity.LegalName"] for record in sample_records()[:200]] + AWKWARD
    leis = [record["LEI"] for record in sample_records()[:200]] + [None]
    domains, candidates = [], []
    for n in range(1, DOMAINS + 1):
        # Every fifth domain belongs to another batch: ranges of ids hold both batches.
        batch = "other" if n % 5 == 0 else BATCH
        name = None if n == 7 else f"site-{n}.example" if n % 11 else f"=cmd-{n}.example"
        domains.append({"id": n, "domain": name, "batch_id": batch})
        for _ in range(pick.choice([0, 0, 1, 1, 1, 2, 3, 4])):
            candidates.append(
                {
                    "id": len(candidates) + 1,
                    "domain_id": n,
                    "lei": pick.choice(leis),
                    "name": pick.choice(names),
                }
            )
    return domains, candidates


def _fill(engine: Engine) -> None:
    domains, candidates = _rows()
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (:id, :domain, :batch_id)"),
            domains,
        )
        connection.execute(
            text(
                "INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name)"
                " VALUES (:id, :domain_id, :lei, :name)"
            ),
            candidates,
        )


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def postgres(postgres_engine: Engine) -> Iterator[Engine]:
    """The PostgreSQL test database holding the interleaved batches."""
    _empty(postgres_engine)
    _fill(postgres_engine)
    yield postgres_engine
    _empty(postgres_engine)


@pytest.fixture
def sqlite(tmp_path) -> Iterator[Engine]:
    """A SQLite database holding the same rows."""
    engine = make_engine(f"sqlite:///{tmp_path / 'twin.db'}")
    upgrade(engine)
    _fill(engine)
    yield engine
    engine.dispose()


def _in_ranges(
    engine: Engine,
    options: ExportOptions,
    *,
    workers: int,
    ranges: int | None,
    out: io.BytesIO | None = None,
) -> tuple[bytes, int, int]:
    """The export by copy_csv_in_ranges: its bytes, rows returned and rows reported."""
    out = out or io.BytesIO()
    steps: list[int] = []
    rows = copy_csv_in_ranges(
        engine,
        BATCH,
        lambda id_range: export_query("postgresql", BATCH, options, id_range=id_range),
        out,
        progress=steps.append,
        cancellation=Cancellation(),
        workers=workers,
        ranges=ranges,
    )
    return out.getvalue(), rows, sum(steps)


@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("ranges", [None, 2, 7, DOMAINS])
@pytest.mark.parametrize(
    "filters", [DomainFilter(), DomainFilter(min_candidates=2, name_contains="a")]
)
def test_the_parallel_export_is_the_single_copy_and_the_sqlite_export(
    postgres, sqlite, workers, ranges, filters
):
    options = ExportOptions(filters=filters)
    expected = export_bytes(sqlite, BATCH, options)
    single, _, _ = _in_ranges(postgres, options, workers=1, ranges=1)
    assert single == expected
    # DOMAINS ranges: every domain id its own range, so a boundary falls beside each domain.
    data, rows, reported = _in_ranges(postgres, options, workers=workers, ranges=ranges)
    assert data == expected
    assert rows == reported == expected.count(b"\n") - 1 - expected.count(b"Line\nbreak")


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_write_export_uses_the_ranges_and_keeps_the_bytes(postgres, sqlite, workers):
    options = ExportOptions(with_qa=True)
    out = io.BytesIO()
    rows = write_export(postgres, BATCH, out, options, workers=workers)
    assert out.getvalue() == export_bytes(sqlite, BATCH, options)
    assert rows == sum(1 for domain in _rows()[0] if domain["batch_id"] == BATCH)


class _ChangesOnFirstWrite(io.BytesIO):
    """An output that, at its first write, commits a change to the batch from another session."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self.changed = False

    def write(self, data) -> int:  # type: ignore[no-untyped-def]
        if not self.changed:
            self.changed = True
            with self._engine.begin() as connection:
                connection.execute(text("UPDATE gleif_candidates SET legal_name = 'CHANGED'"))
                connection.execute(
                    text("DELETE FROM gleif_candidates WHERE domain_id > :half"),
                    {"half": DOMAINS // 2},
                )
                connection.execute(
                    text(
                        "INSERT INTO gleif_candidates (id, domain_id, lei_code)"
                        " VALUES (:id, :last, 'X')"
                    ),
                    {"id": 10 * DOMAINS, "last": DOMAINS - 1},
                )
                connection.execute(
                    text(
                        "INSERT INTO domains (id, domain, batch_id) VALUES (:id, 'late.example', :b)"
                    ),
                    {"id": DOMAINS + 1, "b": BATCH},
                )
        return super().write(data)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_a_change_committed_mid_export_is_not_in_the_export(postgres, workers):
    options = ExportOptions()
    before, _, _ = _in_ranges(postgres, options, workers=1, ranges=1)
    out = _ChangesOnFirstWrite(postgres)
    # Twenty ranges: the later ones start their COPY only after the change is committed.
    data, _, _ = _in_ranges(postgres, options, workers=workers, ranges=20, out=out)
    assert out.changed
    assert data == before
    after, _, _ = _in_ranges(postgres, options, workers=1, ranges=1)
    assert after != before
    assert b"CHANGED" in after
    assert b"late.example" in after


def test_parts_ready_before_their_turn_wait_in_files_beyond_the_memory_budget(
    postgres, sqlite, monkeypatch
):
    monkeypatch.setattr("gleif_data.export_ranges.MEMORY_BUDGET", 0)
    monkeypatch.setattr("gleif_data.copy_out.BLOCK_BYTES", 64)
    data, _, _ = _in_ranges(postgres, ExportOptions(), workers=4, ranges=9)
    assert data == export_bytes(sqlite, BATCH, ExportOptions())


def test_a_failing_range_fails_the_export_and_frees_every_connection(postgres):
    def query_for(id_range):
        # Text that is no number past the middle of the batch: the later ranges fail.
        number = case((Domain.id > DOMAINS // 2, "not a number"), else_="1").cast(Integer)
        return select(number).where(in_id_range(Domain.id, id_range))

    with pytest.raises(Exception, match="invalid input syntax"):
        copy_csv_in_ranges(
            postgres,
            BATCH,
            query_for,
            io.BytesIO(),
            progress=lambda _rows: None,
            cancellation=Cancellation(),
            workers=3,
            ranges=6,
        )
    assert postgres.pool.checkedout() == 0


def test_connections_the_pool_cannot_give_leave_the_export_to_the_others(postgres, sqlite):
    # One connection in the pool: the helpers wait for one in vain; the first does it all.
    small = make_engine(postgres.url, pool_size=1, max_overflow=0, pool_timeout=1)
    try:
        started = time.monotonic()
        data, _, _ = _in_ranges(small, ExportOptions(), workers=4, ranges=8)
        assert data == export_bytes(sqlite, BATCH, ExportOptions())
        assert time.monotonic() - started < 30
    finally:
        small.dispose()


def test_an_export_stream_closed_half_way_stops_every_range_and_frees_its_connections(
    postgres_engine,
):
    from tests.big_batch import seed_big_batch

    _empty(postgres_engine)
    try:
        seed_big_batch(postgres_engine, "big", 60_000)
        stream = ExportStream(postgres_engine, "big", ExportOptions(), workers=3)
        stream.start()
        deadline = time.monotonic() + 60
        while not stream.next_block():
            assert time.monotonic() < deadline, "no block within 60 s"
        assert stream.close(wait=10)
        deadline = time.monotonic() + 3
        while _copying(postgres_engine) or postgres_engine.pool.checkedout():
            assert time.monotonic() < deadline, "a range's COPY or connection outlived close()"
            time.sleep(0.1)
    finally:
        _empty(postgres_engine)


def _copying(engine: Engine) -> int:
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state <> 'idle' AND query LIKE 'COPY (%' AND pid <> pg_backend_pid()"
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


@pytest.mark.parametrize(
    ("low", "high", "workers", "ranges"),
    [(1, 10, 4, 3), (5, 5, 2, 4), (1, 1_000_000, 2, None), (1, 1_000_000, 4, None), (7, 90, 1, 90)],
)
def test_ranges_are_contiguous_ordered_and_cover_every_id_once(low, high, workers, ranges):
    planned = plan_ranges(low, high, workers, ranges)
    if planned == [None]:
        return
    assert planned[0][0] == low
    assert planned[-1][1] == high + 1
    assert all(a[1] == b[0] for a, b in itertools.pairwise(planned))
    assert all(start < end for start, end in planned)


def test_a_small_batch_or_a_single_worker_is_one_range():
    assert plan_ranges(1, 30_000, 4) == [None]
    assert plan_ranges(1, 1_000_000, 1) == [None]
    assert plan_ranges(None, None, 4) == [None]
    assert len(plan_ranges(1, 1_000_000, 2)) == 10


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("3", 3), (" 1 ", 1)])
def test_the_number_of_workers_comes_from_the_environment(raw, expected):
    assert export_workers_setting({"GLEIF_EXPORT_WORKERS": raw}) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "two", "33"])
def test_a_bad_number_of_workers_is_refused_naming_the_variable(raw):
    with pytest.raises(ConfigError, match="GLEIF_EXPORT_WORKERS"):
        export_workers_setting({"GLEIF_EXPORT_WORKERS": raw})


def test_the_cli_takes_the_number_of_workers(postgres, sqlite, tmp_path, monkeypatch):
    from gleif_data.cli import main

    monkeypatch.setenv("DATABASE_URL", postgres.url.render_as_string(hide_password=False))
    out = tmp_path / "out.csv"
    assert main(["export", "--batch", BATCH, "--out", str(out), "--workers", "3"]) == 0
    assert out.read_bytes() == export_bytes(sqlite, BATCH, ExportOptions())
    with pytest.raises(SystemExit) as refused:
        main(["export", "--batch", BATCH, "--out", str(out), "--workers", "0"])
    assert refused.value.code == 2
