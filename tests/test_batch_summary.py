"""Stored batch summaries: read while current, counted again after any write to what they count.

A stored row is "tampered" (its domain count set to a number no batch has) to tell a summary
read from storage apart from one counted afresh.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event, select, text, update

from gleif_data.batch_summary import Stamp, current_stamp
from gleif_data.db import make_engine
from gleif_data.decisions import record_decision
from gleif_data.explore import count_domains, explore_page
from gleif_data.filters import DomainFilter
from gleif_data.flags import Flag
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from gleif_data.models import BatchSummary
from gleif_data.overview import batch_overview, count_from_summary, overview_of, qa_overview
from gleif_data.qa_state import Action, QaStatus
from tests.fingerprint import database_fingerprint
from tests.support import write_csv
from tests.test_overview import (
    BAD_CHECK,
    FRENCH,
    GERMAN,
    LAPSED_GB,
    Rows,
    candidate_flags,
    expected_overview,
    expected_qa,
    load_dataset,
)
from tests.transactions import read, write

TAMPERED = 987_654


@pytest.fixture
def loaded(engine):
    """The Overview tests' batches, reference records and decisions."""
    return load_dataset(engine)


def stored(engine, batch: str):
    """The stored row of the batch: its stamp and counts, or None."""
    query = select(
        BatchSummary.batch_generation, BatchSummary.reference_generation, BatchSummary.counts
    )
    with engine.connect() as connection:
        return connection.execute(query.where(BatchSummary.batch_id == batch)).one_or_none()


def stamp_of(row) -> Stamp:
    return Stamp(row.batch_generation, row.reference_generation)


def stamp(engine, batch: str = "qa") -> Stamp:
    """The batch's current stamp."""
    with engine.connect() as connection:
        return current_stamp(connection, batch)


def tamper(engine, batch: str) -> None:
    """Change the stored counts but not their stamp: only a read from storage shows it."""
    counts = dict(stored(engine, batch).counts, domains=TAMPERED)
    with engine.begin() as connection:
        connection.execute(
            update(BatchSummary).where(BatchSummary.batch_id == batch).values(counts=counts)
        )


def assert_counted_afresh(engine, batch: str) -> None:
    rows = Rows.read(engine)
    overview = read(engine, batch_overview, batch)
    expected = expected_overview(rows, batch)
    assert {name: getattr(overview, name) for name in expected} == expected
    qa = read(engine, qa_overview, batch)
    assert {"domains": qa.domains, "by_status": qa.by_status, "by_flag": qa.by_flag} == (
        expected_qa(rows, batch)
    )
    assert stamp_of(stored(engine, batch)) == stamp(engine, batch)


def test_the_overview_stores_its_counts_and_reads_them_back(loaded):
    first = read(loaded, batch_overview, "qa")
    row = stored(loaded, "qa")
    assert stamp_of(row) == stamp(loaded)
    assert overview_of(row.counts) == first
    tamper(loaded, "qa")
    assert read(loaded, batch_overview, "qa").domains == TAMPERED
    assert read(loaded, qa_overview, "qa").domains == TAMPERED


def test_a_batch_without_domains_leaves_no_row(loaded):
    assert read(loaded, batch_overview, "no-such-batch").domains == 0
    assert stored(loaded, "no-such-batch") is None


# Writes as another program (the legacy matching process, a DBA) could make them: plain SQL.
WRITES = {
    "insert a domain": ("INSERT INTO domains (id, domain, batch_id) VALUES (999, 'new.de', 'qa')",),
    "insert a candidate": (
        "INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name)"
        " SELECT 999, id, :lei, 'X' FROM domains WHERE domain = 'none.org'",
        {"lei": GERMAN},
    ),
    "delete a candidate": (
        "DELETE FROM gleif_candidates WHERE lei_code = :lei",
        {"lei": BAD_CHECK},
    ),
    "change a candidate's LEI": (
        "UPDATE gleif_candidates SET lei_code = :new WHERE lei_code = :old",
        {"new": FRENCH, "old": LAPSED_GB},
    ),
    "move a domain between batches": (
        "UPDATE domains SET batch_id = 'qa' WHERE id = (SELECT min(id) FROM domains"
        " WHERE batch_id <> 'qa')",
    ),
    "lapse a reference record": (
        "UPDATE lei_records SET registration_status = 'LAPSED' WHERE lei = :lei",
        {"lei": GERMAN},
    ),
    "delete a reference record": ("DELETE FROM lei_records WHERE lei = :lei", {"lei": FRENCH}),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_any_write_to_the_counted_tables_makes_the_overview_count_again(loaded, write):
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    before = stamp(loaded)
    with loaded.begin() as connection:
        connection.execute(text(WRITES[write][0]), *WRITES[write][1:])
    assert stamp(loaded) > before
    assert_counted_afresh(loaded, "qa")


# Writes to another batch, as plain SQL: they leave the "qa" batch's counts current.
OTHER_BATCH_WRITES = {
    "insert a domain": (
        "INSERT INTO domains (id, domain, batch_id) VALUES (998, 'x.de', 'other')",
        "other",
    ),
    "start a new batch": (
        "INSERT INTO domains (id, domain, batch_id) VALUES (997, 'y.de', 'brand-new')",
        "brand-new",
    ),
    "insert a candidate": (
        "INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name)"
        " SELECT 998, id, 'X', 'X' FROM domains WHERE batch_id = 'other' ORDER BY id LIMIT 1",
        "other",
    ),
    "delete candidates": (
        "DELETE FROM gleif_candidates WHERE domain_id IN"
        " (SELECT id FROM domains WHERE batch_id = 'other')",
        "other",
    ),
}


@pytest.mark.parametrize("write", list(OTHER_BATCH_WRITES))
def test_a_write_to_another_batch_leaves_the_counts_current(loaded, write):
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    sql, written = OTHER_BATCH_WRITES[write]
    before, written_before = stamp(loaded), stamp(loaded, written)
    with loaded.begin() as connection:
        connection.execute(text(sql))
    assert stamp(loaded, written) > written_before
    assert stamp(loaded) == before
    assert read(loaded, batch_overview, "qa").domains == TAMPERED


def test_truncating_the_reference_data_makes_the_overview_count_again(loaded):
    if loaded.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    with loaded.begin() as connection:
        connection.execute(text("TRUNCATE lei_records"))
    assert_counted_afresh(loaded, "qa")


def test_a_decision_moves_the_qa_progress_but_not_the_count_from_summarys(loaded):
    undecided = read(loaded, qa_overview, "qa").by_status[QaStatus.UNDECIDED.value]
    before = stamp(loaded)
    write(
        loaded,
        record_decision,
        batch="qa",
        domain="none.org",
        action=Action.NO_MATCH,
        decided_by="ana",
    )
    assert stamp(loaded) == before
    assert read(loaded, qa_overview, "qa").by_status[QaStatus.UNDECIDED.value] == undecided - 1


def test_an_import_counts_its_batch_and_keeps_the_other_summaries_current(loaded, tmp_path):
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    rows = [["a.de", GERMAN, "A", "", ""], ["a.de", FRENCH, "A", "", ""], ["b.fr", "", "", "", ""]]
    import_batch(loaded, write_csv(tmp_path / "new.csv", rows), "new")
    row = stored(loaded, "new")
    assert stamp_of(row) == stamp(loaded, "new")
    expected = expected_overview(Rows.read(loaded), "new")
    overview = overview_of(row.counts)
    assert {name: getattr(overview, name) for name in expected} == expected
    # The import wrote nothing that "qa" counts: its summary was carried over, not recounted.
    assert stamp_of(stored(loaded, "qa")) == stamp(loaded)
    assert read(loaded, batch_overview, "qa").domains == TAMPERED


def test_replacing_a_batch_counts_it_again(loaded, tmp_path):
    import_batch(loaded, write_csv(tmp_path / "one.csv", [["a.de", GERMAN, "A", "", ""]]), "new")
    tamper(loaded, "new")
    rows = [["a.de", GERMAN, "A", "", ""], ["b.de", GERMAN, "B", "", ""]]
    import_batch(loaded, write_csv(tmp_path / "two.csv", rows), "new", replace=True)
    assert_counted_afresh(loaded, "new")
    assert read(loaded, batch_overview, "new").domains == 2


def test_importing_reference_data_counts_every_batch_again(loaded, tmp_path):
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    golden = tmp_path / "golden.csv"
    golden.write_text(
        f"LEI,Entity.LegalName,Registration.RegistrationStatus\n{GERMAN},GERMAN AG,LAPSED\n",
        encoding="utf-8",
    )
    import_gleif(loaded, golden)
    # Counted by the import itself, before anyone opened the Overview.
    counts = stored(loaded, "qa").counts
    assert counts["domains"] != TAMPERED
    assert (
        counts["registration_statuses"]["LAPSED"]
        == (expected_overview(Rows.read(loaded), "qa")["registration_statuses"]["LAPSED"])
    )
    assert_counted_afresh(loaded, "qa")


def test_a_count_by_one_flag_or_none_comes_from_the_count_from_summarys(loaded):
    expected = expected_qa(Rows.read(loaded), "qa")
    read(loaded, batch_overview, "qa")
    for flag in Flag:
        assert (
            read(loaded, count_domains, "qa", DomainFilter(flags={flag}))
            == (expected["by_flag"][flag.value])
        )
    tamper(loaded, "qa")
    assert read(loaded, count_domains, "qa", DomainFilter()) == TAMPERED
    # Two flags, or a flag with another filter, are counted by a query.
    both = DomainFilter(flags={Flag.SHARED_LEI, Flag.COUNTRY_MISMATCH})
    assert read(loaded, count_from_summary, "qa", both) is None
    narrowed = DomainFilter(flags={Flag.SHARED_LEI}, domain_contains="acme")
    assert read(loaded, count_from_summary, "qa", narrowed) is None
    rows = Rows.read(loaded)
    codes = rows.codes_by_domain("qa")
    assert read(loaded, count_domains, "qa", narrowed) == sum(
        1
        for domain_id, name in rows.batch_domains("qa")
        if "acme" in (name or "")
        and any(
            Flag.SHARED_LEI in candidate_flags(rows, "qa", domain_id, name, code)
            for code in codes.get(domain_id, [])
        )
    )


def test_a_count_is_not_taken_from_stale_count_from_summarys(loaded):
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM domains WHERE domain = 'none.org'"))
    assert read(loaded, count_from_summary, "qa", DomainFilter()) is None
    assert read(loaded, count_domains, "qa", DomainFilter()) == len(
        Rows.read(loaded).batch_domains("qa")
    )
    # A flag count counts the whole batch again, and stores it.
    expected = expected_qa(Rows.read(loaded), "qa")["by_flag"]
    assert (
        read(loaded, count_domains, "qa", DomainFilter(flags={Flag.NO_CANDIDATE}))
        == (expected[Flag.NO_CANDIDATE.value])
    )
    assert stamp_of(stored(loaded, "qa")) == stamp(loaded)
    assert stored(loaded, "qa").counts["flags"] == expected


def test_a_page_on_a_flag_no_domain_has_is_empty_without_looking(loaded):
    expected = expected_qa(Rows.read(loaded), "qa")["by_flag"]
    read(loaded, batch_overview, "qa")
    flagged = DomainFilter(flags={Flag.SHARED_LEI})
    assert len(read(loaded, explore_page, "qa", flagged).rows) == expected[Flag.SHARED_LEI.value]
    # Stored counts that say nobody has the flag are believed while current ...
    counts = stored(loaded, "qa").counts
    counts["flags"][Flag.SHARED_LEI.value] = 0
    counts["rare_flag_ids"].pop(Flag.SHARED_LEI.value)
    with loaded.begin() as connection:
        connection.execute(
            update(BatchSummary).where(BatchSummary.batch_id == "qa").values(counts=counts)
        )
    assert read(loaded, explore_page, "qa", flagged).rows == []
    # ... and not once another write made them stale.
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM domains WHERE domain = 'none.org'"))
    assert len(read(loaded, explore_page, "qa", flagged).rows) == expected[Flag.SHARED_LEI.value]


def flagged_in_python(rows: Rows, batch: str, flag: Flag) -> list[int]:
    """Ids of the batch's domains with the flag, by the plain-Python rules."""
    codes = rows.codes_by_domain(batch)
    found = []
    for domain_id, name in rows.batch_domains(batch):
        domain_codes = codes.get(domain_id, [])
        has = {
            Flag.NO_CANDIDATE: not domain_codes,
            Flag.AMBIGUOUS: len(domain_codes) > 1,
        }.get(flag)
        if has is None:
            has = any(
                flag in candidate_flags(rows, batch, domain_id, name, c) for c in domain_codes
            )
        if has:
            found.append(domain_id)
    return found


def test_the_stored_counts_keep_the_ids_of_rare_flags(loaded):
    read(loaded, batch_overview, "qa")
    rows = Rows.read(loaded)
    rare = stored(loaded, "qa").counts["rare_flag_ids"]
    assert rare == {
        flag.value: ids for flag in Flag if (ids := flagged_in_python(rows, "qa", flag))
    }


def test_flags_over_the_limit_keep_no_ids(loaded, monkeypatch):
    monkeypatch.setattr("gleif_data.flags.RARE_FLAG_LIMIT", 1)
    read(loaded, batch_overview, "qa")
    rows = Rows.read(loaded)
    rare = stored(loaded, "qa").counts["rare_flag_ids"]
    assert rare == {
        flag.value: ids for flag in Flag if len(ids := flagged_in_python(rows, "qa", flag)) == 1
    }
    assert any(len(flagged_in_python(rows, "qa", flag)) > 1 for flag in Flag)


def test_pages_and_counts_on_a_rare_flag_read_its_stored_ids(loaded):
    read(loaded, batch_overview, "qa")
    rows = Rows.read(loaded)
    shared = flagged_in_python(rows, "qa", Flag.SHARED_LEI)
    assert len(shared) > 1
    flagged = DomainFilter(flags={Flag.SHARED_LEI})
    assert [r.domain_id for r in read(loaded, explore_page, "qa", flagged).rows] == shared
    # Stored ids that leave one domain out are believed while current ...
    counts = stored(loaded, "qa").counts
    counts["rare_flag_ids"][Flag.SHARED_LEI.value] = shared[1:]
    with loaded.begin() as connection:
        connection.execute(
            update(BatchSummary).where(BatchSummary.batch_id == "qa").values(counts=counts)
        )
    assert [r.domain_id for r in read(loaded, explore_page, "qa", flagged).rows] == shared[1:]
    # (A second filter, which passes every domain, makes the count a query.)
    every = DomainFilter(flags={Flag.SHARED_LEI}, min_candidates=0)
    assert read(loaded, count_domains, "qa", every) == len(shared) - 1
    # ... the other filters still apply to them ...
    narrowed = DomainFilter(flags={Flag.SHARED_LEI}, domain_contains="no-such-text")
    assert read(loaded, explore_page, "qa", narrowed).rows == []
    # ... and they are not used once another write made them stale.
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM domains WHERE domain = 'none.org'"))
    assert [r.domain_id for r in read(loaded, explore_page, "qa", flagged).rows] == shared


def test_a_write_after_a_rolled_back_savepoint_still_makes_the_counts_stale(loaded):
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    with loaded.begin() as connection:
        savepoint = connection.begin_nested()
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (996, 'z.de', 'qa')")
        )
        savepoint.rollback()
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (995, 'w.de', 'qa')")
        )
    assert_counted_afresh(loaded, "qa")


def test_many_writes_in_one_transaction_make_the_counts_stale_once_committed(loaded):
    read(loaded, batch_overview, "qa")
    tamper(loaded, "qa")
    with loaded.begin() as connection:
        for i in range(3):
            connection.execute(
                text("INSERT INTO domains (id, domain, batch_id) VALUES (:id, :name, 'qa')"),
                {"id": 990 + i, "name": f"m{i}.de"},
            )
        # Before the commit, another connection still reads the stored counts.
        assert read(loaded, batch_overview, "qa").domains == TAMPERED
    assert_counted_afresh(loaded, "qa")


@pytest.fixture
def read_only(engine):
    """The test database again, every transaction of it read-only (as on a hot standby), and
    the statements sent through it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("default_transaction_read_only is a PostgreSQL setting")
    options = {"options": "-c default_transaction_read_only=on"}
    read_only = make_engine(engine.url, connect_args=options)
    statements: list[str] = []
    event.listen(read_only, "before_cursor_execute", lambda *a: statements.append(a[2]))
    yield read_only, statements
    read_only.dispose()


def flag_countings(statements: list[str]) -> int:
    """How many times the batch's flags were counted (flags.flag_counts, for the stored counts)."""
    return sum("totals" in statement for statement in statements)


def test_a_read_only_database_counts_a_stale_batch_once_and_stores_nothing(loaded, read_only):
    read(loaded, batch_overview, "qa")
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM domains WHERE domain = 'none.org'"))
    before = database_fingerprint(loaded)
    rows = Rows.read(loaded)
    expected = expected_overview(rows, "qa")
    read_only, statements = read_only

    overview = read(read_only, batch_overview, "qa")
    assert {name: getattr(overview, name) for name in expected} == expected
    assert flag_countings(statements) == 1
    # Kept in the server: the QA numbers, every flag count and a rare flag's page count nothing.
    qa = read(read_only, qa_overview, "qa")
    assert qa.by_flag == expected_qa(rows, "qa")["by_flag"]
    for flag in Flag:
        flagged = DomainFilter(flags={flag})
        assert read(read_only, count_domains, "qa", flagged) == qa.by_flag[flag.value]
    assert read(read_only, count_domains, "qa", DomainFilter()) == expected["domains"]
    flagged = DomainFilter(flags={Flag.SHARED_LEI})
    assert (
        len(read(read_only, explore_page, "qa", flagged).rows) == qa.by_flag[Flag.SHARED_LEI.value]
    )
    assert flag_countings(statements) == 1
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert database_fingerprint(loaded) == before

    # A later write makes the kept counts stale like stored ones.
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM gleif_candidates WHERE lei_code = :l"), {"l": GERMAN})
    fresh = expected_qa(Rows.read(loaded), "qa")["by_flag"]
    assert read(read_only, qa_overview, "qa").by_flag == fresh
    assert flag_countings(statements) == 2


def test_a_read_only_database_stores_nothing_and_logs_no_refused_write(loaded, read_only, caplog):
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM batch_summaries"))
    read_only, statements = read_only
    caplog.set_level(logging.WARNING, logger="gleif_data")
    assert read(read_only, count_domains, "qa", DomainFilter(flags={Flag.NO_CANDIDATE})) >= 0
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert stored(loaded, "qa") is None
    assert not caplog.records, "kept in the server's memory, not a warning on every view"
    # The owner, whose transactions may write, stores them as before.
    read(loaded, batch_overview, "qa")
    assert stamp_of(stored(loaded, "qa")) == stamp(loaded)
