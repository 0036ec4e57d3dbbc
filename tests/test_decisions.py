"""QA decisions: an append-only history, concurrent analysts, bulk accept, moving decisions."""

import io
import threading

import pytest
from sqlalchemy import text

from gleif_data.db import make_engine
from gleif_data.decisions import (
    bulk_accept,
    count_bulk_accept,
    current_status,
    domain_history,
    export_decisions,
    import_decisions,
    record_decision,
)
from gleif_data.errors import GleifDataError
from gleif_data.explore import count_domains
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from gleif_data.migrate import upgrade
from gleif_data.qa_state import Action, QaStatus
from tests.support import write_csv, write_gleif_subset

GERMAN = "39120001AX50UKJ6HG21"
BRITISH = "2138001AVBSD1HSC6Z10"
BAD_CHECK = "579100EKDEGDFEHDC086"


@pytest.fixture
def batch(engine, tmp_path):
    rows = [
        ["microfinance.de", GERMAN, "Access Microfinance Holding AG", "", ""],
        ["two.co.uk", BRITISH, "JOHNSON MATTHEY PLC", "", ""],
        ["two.co.uk", GERMAN, "Access Microfinance Holding AG", "", ""],
        ["bad.ar", BAD_CHECK, "BANCO SAENZ S A", "", ""],
        ["clean.co.uk", BRITISH, "JOHNSON MATTHEY PLC", "", ""],
        ["nothing.org", "", "", "", ""],
    ]
    import_batch(engine, write_csv(tmp_path / "b.csv", rows), "b1")
    import_gleif(engine, write_gleif_subset(tmp_path / "gleif.csv", [GERMAN, BRITISH, BAD_CHECK]))
    return engine


def decide(engine, domain, action, lei=None, who="ana", note=None):
    return record_decision(
        engine, batch="b1", domain=domain, action=action, decided_by=who, lei_code=lei, note=note
    )


def test_the_latest_decision_is_the_state_and_the_history_keeps_all(batch):
    decide(batch, "two.co.uk", Action.REJECT, GERMAN, note="wrong company")
    decide(batch, "two.co.uk", Action.ACCEPT, BRITISH, who="bo")
    history = domain_history(batch, "b1", "two.co.uk")
    assert [(h.action, h.lei_code, h.decided_by) for h in history] == [
        (Action.REJECT, GERMAN, "ana"),
        (Action.ACCEPT, BRITISH, "bo"),
    ]
    assert history[0].note == "wrong company"
    assert history[1].legal_name == "JOHNSON MATTHEY PLC"
    status, deciding = current_status(history)
    assert status is QaStatus.ACCEPTED
    assert deciding.lei_code == BRITISH

    decide(batch, "two.co.uk", Action.RESET)
    assert current_status(domain_history(batch, "b1", "two.co.uk"))[0] is QaStatus.UNDECIDED
    assert len(domain_history(batch, "b1", "two.co.uk")) == 3


@pytest.mark.parametrize(
    ("domain", "action", "lei", "who", "message"),
    [
        ("two.co.uk", Action.ACCEPT, None, "ana", "name its LEI"),
        ("two.co.uk", Action.ACCEPT, BAD_CHECK, "ana", "is not a candidate of two.co.uk"),
        ("gone.com", Action.NO_MATCH, None, "ana", "has no domain 'gone.com'"),
        ("two.co.uk", Action.NO_MATCH, None, "  ", "needs the name of who made it"),
    ],
)
def test_a_decision_that_makes_no_sense_is_refused_and_not_recorded(
    batch, domain, action, lei, who, message
):
    with pytest.raises(GleifDataError, match=message):
        decide(batch, domain, action, lei, who=who)
    with batch.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM qa_decisions")).scalar_one() == 0


def test_two_analysts_deciding_at_once_lose_nothing(batch):
    # Two sessions, two connection pools, one domain, many decisions each at the same time.
    other = make_engine(batch.url)
    barrier = threading.Barrier(2)
    errors = []

    def analyst(engine, who, lei):
        try:
            barrier.wait()
            for _ in range(15):
                decide(engine, "two.co.uk", Action.ACCEPT, lei, who=who)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=analyst, args=(batch, "ana", BRITISH)),
        threading.Thread(target=analyst, args=(other, "bo", GERMAN)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert errors == []
    history = domain_history(batch, "b1", "two.co.uk")
    assert sorted(h.decided_by for h in history) == ["ana"] * 15 + ["bo"] * 15
    assert [h.id for h in history] == sorted(h.id for h in history)
    assert current_status(history)[1] == history[-1]


def test_qa_status_filters_domains(batch):
    decide(batch, "microfinance.de", Action.ACCEPT, GERMAN)
    decide(batch, "nothing.org", Action.NO_MATCH)
    decide(batch, "bad.ar", Action.REJECT, BAD_CHECK)
    counts = {s: count_domains(batch, "b1", DomainFilter(qa_status=s)) for s in QaStatus}
    assert counts == {
        QaStatus.UNDECIDED: 2,
        QaStatus.ACCEPTED: 1,
        QaStatus.REJECTED: 1,
        QaStatus.NO_MATCH: 1,
    }


def test_bulk_accept_takes_single_unflagged_undecided_domains_only(batch):
    # microfinance.de has a shared LEI (two.co.uk lists it too); bad.ar fails its check;
    # two.co.uk is ambiguous; nothing.org has no candidate: only clean.co.uk is clean...
    # ...but clean.co.uk shares its LEI with two.co.uk. So none is clean at first.
    assert count_bulk_accept(batch, "b1", DomainFilter()) == 0
    decide(batch, "two.co.uk", Action.NO_MATCH)
    with batch.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM gleif_candidates WHERE lei_code = :lei AND domain_id = (SELECT id FROM domains WHERE domain = 'two.co.uk')"
            ),
            {"lei": BRITISH},
        )
        connection.execute(
            text(
                "DELETE FROM gleif_candidates WHERE lei_code = :lei AND domain_id = (SELECT id FROM domains WHERE domain = 'two.co.uk')"
            ),
            {"lei": GERMAN},
        )
    assert count_bulk_accept(batch, "b1", DomainFilter()) == 2
    assert count_bulk_accept(batch, "b1", DomainFilter(domain_contains="clean")) == 1
    assert bulk_accept(batch, "b1", DomainFilter(), decided_by="ana") == 2
    accepted = [
        h for d in ("clean.co.uk", "microfinance.de") for h in domain_history(batch, "b1", d)
    ]
    assert [(h.action, h.decided_by) for h in accepted] == [(Action.ACCEPT, "ana")] * 2
    assert {h.lei_code for h in accepted} == {BRITISH, GERMAN}
    assert count_bulk_accept(batch, "b1", DomainFilter()) == 0


def test_decisions_move_between_databases(batch, tmp_path):
    decide(batch, "two.co.uk", Action.REJECT, GERMAN, note='a "quoted", note; with commas')
    decide(batch, "two.co.uk", Action.ACCEPT, BRITISH, who="bo")
    out = io.StringIO()
    assert export_decisions(batch, out, batch="b1") == 2
    path = tmp_path / "decisions.csv"
    path.write_text(out.getvalue(), encoding="utf-8")

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    assert import_decisions(other, path) == (2, 0)
    assert import_decisions(other, path) == (0, 2)
    copied = domain_history(other, "b1", "two.co.uk")
    original = domain_history(batch, "b1", "two.co.uk")
    assert [(h.action, h.lei_code, h.note, h.decided_by, h.decided_at) for h in copied] == [
        (h.action, h.lei_code, h.note, h.decided_by, h.decided_at) for h in original
    ]
    other.dispose()
