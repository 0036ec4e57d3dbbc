"""QA decisions: an append-only history, concurrent analysts, bulk accept and its undo, moving
decisions between databases. The rule itself is tested in test_decision_rule."""

import io
import threading

import pytest
from sqlalchemy import text

from gleif_data.db import make_engine
from gleif_data.decisions import (
    BulkAccept,
    bulk_accept,
    bulk_accept_result,
    bulk_accepts,
    count_bulk_accept,
    domain_history,
    domain_state,
    export_decisions,
    import_decisions,
    record_decision,
    undo_bulk_accept,
)
from gleif_data.errors import GleifDataError
from gleif_data.explore import count_domains
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from gleif_data.migrate import upgrade
from gleif_data.qa_state import Action, QaStatus
from tests.support import BAD_CHECK, BRITISH, GERMAN, sample_records, write_csv, write_gleif_subset
from tests.transactions import read, write


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
    return write(
        engine,
        record_decision,
        batch="b1",
        domain=domain,
        action=action,
        decided_by=who,
        lei_code=lei,
        note=note,
    )


def state(engine, domain):
    """The domain's state by the rule, from its history and its candidates."""
    leis = {"two.co.uk": [BRITISH, GERMAN], "microfinance.de": [GERMAN], "clean.co.uk": [BRITISH]}
    return domain_state(read(engine, domain_history, "b1", domain), leis.get(domain, []))


def test_the_history_keeps_every_decision_and_the_rule_replays_it(batch):
    decide(batch, "two.co.uk", Action.REJECT, GERMAN, note="wrong company")
    decide(batch, "two.co.uk", Action.ACCEPT, BRITISH, who="bo")
    history = read(batch, domain_history, "b1", "two.co.uk")
    assert [(h.action, h.lei_code, h.decided_by) for h in history] == [
        (Action.REJECT, GERMAN, "ana"),
        (Action.ACCEPT, BRITISH, "bo"),
    ]
    assert history[0].note == "wrong company"
    assert history[1].legal_name == "JOHNSON MATTHEY PLC"
    now = state(batch, "two.co.uk")
    assert (now.status, now.accepted_lei, now.latest) == (QaStatus.ACCEPTED, BRITISH, history[1])

    decide(batch, "two.co.uk", Action.RESET)
    now = state(batch, "two.co.uk")
    assert (now.status, now.accepted_lei, now.latest) == (QaStatus.UNDECIDED, None, None)
    assert len(read(batch, domain_history, "b1", "two.co.uk")) == 3


@pytest.mark.parametrize(
    ("domain", "action", "lei", "who", "message"),
    [
        ("two.co.uk", Action.ACCEPT, None, "ana", "name its LEI"),
        ("two.co.uk", Action.WITHDRAW, " ", "ana", "name its LEI"),
        ("two.co.uk", Action.ACCEPT, "5493NOWHERE000000001", "ana", "is neither a candidate of"),
        ("gone.com", Action.NO_MATCH, None, "ana", "has no domain 'gone.com'"),
        ("  ", Action.NO_MATCH, None, "ana", "name the domain"),
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
            barrier.wait(timeout=60)
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
        thread.join(timeout=120)
        assert not thread.is_alive(), "an analyst's decisions still running after 120 s"
    other.dispose()
    assert errors == []
    history = read(batch, domain_history, "b1", "two.co.uk")
    assert sorted(h.decided_by for h in history) == ["ana"] * 15 + ["bo"] * 15
    assert [h.id for h in history] == sorted(h.id for h in history)
    assert state(batch, "two.co.uk").latest == history[-1]


def test_qa_status_filters_domains(batch):
    decide(batch, "microfinance.de", Action.ACCEPT, GERMAN)
    decide(batch, "nothing.org", Action.NO_MATCH)
    decide(batch, "bad.ar", Action.REJECT, BAD_CHECK)
    decide(batch, "two.co.uk", Action.REJECT, GERMAN)
    counts = {s: read(batch, count_domains, "b1", DomainFilter(qa_status=s)) for s in QaStatus}
    assert counts == {
        QaStatus.UNDECIDED: 1,
        QaStatus.IN_REVIEW: 1,
        QaStatus.ACCEPTED: 1,
        QaStatus.REJECTED: 1,
        QaStatus.NO_MATCH: 1,
    }


def test_a_decision_finds_the_domain_in_any_case_and_names_it_as_stored(batch):
    with batch.begin() as connection:  # a legacy row: imports store names in lower case
        connection.execute(text("INSERT INTO domains (domain, batch_id) VALUES ('Shop.DE', 'b2')"))
    made = write(
        batch,
        record_decision,
        batch="b2",
        domain=" shop.de ",
        action=Action.ACCEPT,
        decided_by="ana",
        lei_code=GERMAN,
    )
    assert (made.domain, made.lei_code) == ("Shop.DE", GERMAN)
    qa = export_bytes(batch, "b2", ExportOptions(with_qa=True)).decode().splitlines()[1]
    assert qa == f"Shop.DE,0,,,accepted,{GERMAN},Access Microfinance Holding AG,no_candidate"


def test_a_domain_stored_twice_takes_a_decision_on_either_rows_candidate(batch, tmp_path):
    rows = [["twice.com", GERMAN, "Access AG", "", ""]]
    import_batch(batch, write_csv(tmp_path / "c.csv", rows), "b3")
    with batch.begin() as connection:
        connection.execute(
            text("INSERT INTO domains (domain, batch_id) VALUES ('twice.com', 'b3')")
        )
        connection.execute(
            text(
                "INSERT INTO gleif_candidates (domain_id, lei_code, legal_name) "
                "SELECT max(id), :lei, 'Johnson' FROM domains WHERE batch_id = 'b3'"
            ),
            {"lei": BRITISH},
        )
    made = write(
        batch,
        record_decision,
        batch="b3",
        domain="twice.com",
        action=Action.REJECT,
        decided_by="ana",
        lei_code=BRITISH,
    )
    assert (made.lei_code, made.legal_name) == (BRITISH, "Johnson")
    lines = export_bytes(batch, "b3", ExportOptions(with_qa=True)).decode().splitlines()[1:]
    assert [line.split(",")[4] for line in lines] == ["undecided", "rejected"]


def test_a_match_to_an_lei_outside_the_candidates_is_the_accepted_lei_of_the_export(batch):
    made = decide(batch, "nothing.org", Action.ACCEPT, BRITISH, note="found by name")
    assert made.legal_name == "JOHNSON MATTHEY PLC", "the name comes from the reference data"
    text_ = export_bytes(batch, "b1", ExportOptions(with_qa=True)).decode()
    row = next(line for line in text_.splitlines() if line.startswith("nothing.org"))
    assert row == f"nothing.org,0,,,accepted,{BRITISH},JOHNSON MATTHEY PLC,no_candidate"


def test_bulk_accept_takes_single_unflagged_undecided_domains_only(batch):
    # microfinance.de has a shared LEI (two.co.uk lists it too); bad.ar fails its check;
    # two.co.uk is ambiguous; nothing.org has no candidate: only clean.co.uk is clean...
    # ...but clean.co.uk shares its LEI with two.co.uk. So none is clean at first.
    assert read(batch, count_bulk_accept, "b1", DomainFilter()) == 0
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
    assert read(batch, count_bulk_accept, "b1", DomainFilter()) == 2
    assert read(batch, count_bulk_accept, "b1", DomainFilter(domain_contains="clean")) == 1
    done = write(batch, bulk_accept, "b1", DomainFilter(), decided_by="ana")
    assert [(domain, lei) for domain, lei, _ in done.accepted] == [
        ("clean.co.uk", BRITISH),
        ("microfinance.de", GERMAN),
    ]
    accepted = [
        h for d in ("clean.co.uk", "microfinance.de") for h in read(batch, domain_history, "b1", d)
    ]
    assert [(h.action, h.decided_by, h.bulk_id) for h in accepted] == [
        (Action.ACCEPT, "ana", done.bulk_id)
    ] * 2
    assert {h.lei_code for h in accepted} == {BRITISH, GERMAN}
    assert read(batch, count_bulk_accept, "b1", DomainFilter()) == 0


@pytest.fixture
def clean(engine, tmp_path):
    """A batch of four clean single matches (no flag) with name scores 10, 40, 70 and 100."""
    issued = [r for r in sample_records() if r["Registration.RegistrationStatus"] == "ISSUED"]
    issued = [r for r in issued if r["Entity.EntityStatus"] == "ACTIVE"][:4]
    rows = [[f"site{i}.com", r["LEI"], r["Entity.LegalName"], "", ""] for i, r in enumerate(issued)]
    import_batch(engine, write_csv(tmp_path / "clean.csv", rows), "c1")
    import_gleif(engine, write_gleif_subset(tmp_path / "gleif.csv", [r["LEI"] for r in issued]))
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE gleif_candidates SET name_score = 10 + 30 * ("
                "SELECT count(*) FROM domains AS o WHERE o.id < gleif_candidates.domain_id)"
            )
        )
    return engine, {f"site{i}.com": (r["LEI"], r["Entity.LegalName"]) for i, r in enumerate(issued)}


def test_bulk_accept_with_a_minimum_name_score_lists_what_it_accepted(clean):
    engine, sites = clean
    assert read(engine, count_bulk_accept, "c1", DomainFilter()) == 4
    assert read(engine, count_bulk_accept, "c1", DomainFilter(), min_name_score=40) == 3
    assert read(engine, count_bulk_accept, "c1", DomainFilter(), min_name_score=101) == 0
    done = write(engine, bulk_accept, "c1", DomainFilter(), decided_by="ana", min_name_score=70)
    assert done == BulkAccept(done.bulk_id, [(d, *sites[d]) for d in ("site2.com", "site3.com")])
    assert read(engine, bulk_accept_result, "c1", done.bulk_id) == done
    again = write(engine, bulk_accept, "c1", DomainFilter(), decided_by="bo")
    assert again.bulk_id > done.bulk_id
    assert [d for d, _, _ in again.accepted] == ["site0.com", "site1.com"]
    assert write(engine, bulk_accept, "c1", DomainFilter(), decided_by="bo").accepted == []
    listed = [
        (b.bulk_id, b.decided_by, b.accepted, b.in_force) for b in read(engine, bulk_accepts, "c1")
    ]
    assert listed == [(again.bulk_id, "bo", 2, 2), (done.bulk_id, "ana", 2, 2)]


def test_undo_withdraws_only_the_acceptances_that_still_stand(clean):
    engine, sites = clean
    done = write(engine, bulk_accept, "c1", DomainFilter(), decided_by="ana")
    assert len(done.accepted) == 4
    lei = {domain: code for domain, (code, _) in sites.items()}

    def by_hand(domain, action, code=None):
        write(
            engine,
            record_decision,
            batch="c1",
            domain=domain,
            action=action,
            decided_by="bo",
            lei_code=code,
        )

    by_hand("site0.com", Action.REJECT, lei["site0.com"])
    by_hand("site1.com", Action.ACCEPT, lei["site1.com"])
    by_hand("site2.com", Action.NO_MATCH)

    [summary] = read(engine, bulk_accepts, "c1")
    assert (summary.accepted, summary.in_force) == (4, 1), "site3.com only"
    assert write(engine, undo_bulk_accept, "c1", done.bulk_id, decided_by="cy") == 1
    assert write(engine, undo_bulk_accept, "c1", done.bulk_id, decided_by="cy") == 0
    states = {
        d: domain_state(read(engine, domain_history, "c1", d), [lei[d]]).status
        for d in sorted(sites)
    }
    assert states == {
        "site0.com": QaStatus.REJECTED,  # decided by hand since: left alone
        "site1.com": QaStatus.ACCEPTED,
        "site2.com": QaStatus.NO_MATCH,
        "site3.com": QaStatus.UNDECIDED,  # withdrawn
    }
    history = read(engine, domain_history, "c1", "site3.com")
    assert [(h.action, h.decided_by, h.bulk_id) for h in history] == [
        (Action.ACCEPT, "ana", done.bulk_id),
        (Action.WITHDRAW, "cy", None),
    ]
    assert [(b.accepted, b.in_force) for b in read(engine, bulk_accepts, "c1")] == [(4, 0)]
    with pytest.raises(GleifDataError, match="no bulk accept 999"):
        write(engine, undo_bulk_accept, "c1", 999, decided_by="cy")


def test_decisions_move_between_databases(batch, tmp_path):
    decide(batch, "two.co.uk", Action.REJECT, GERMAN, note='a "quoted", note; with commas')
    decide(batch, "two.co.uk", Action.ACCEPT, BRITISH, who="bo")
    out = io.StringIO()
    assert read(batch, export_decisions, out, batch="b1") == 2
    path = tmp_path / "decisions.csv"
    path.write_text(out.getvalue(), encoding="utf-8")

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    assert import_decisions(other, path) == (2, 0)
    assert import_decisions(other, path) == (0, 2)
    copied = read(other, domain_history, "b1", "two.co.uk")
    original = read(batch, domain_history, "b1", "two.co.uk")
    assert [(h.action, h.lei_code, h.note, h.decided_by, h.decided_at) for h in copied] == [
        (h.action, h.lei_code, h.note, h.decided_by, h.decided_at) for h in original
    ]
    other.dispose()


def test_a_decisions_file_exported_before_bulk_ids_still_imports(batch, tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        "batch,domain,action,lei_code,legal_name,note,decided_by,decided_at\n"
        f"b1,two.co.uk,accept,{GERMAN},Access Microfinance Holding AG,,ana,"
        "2026-11-02T09:30:00+00:00\n"
        f"b1,two.co.uk,reject,{BRITISH},JOHNSON MATTHEY PLC,,ana,2026-11-02T09:31:00+00:00\n",
        encoding="utf-8",
    )
    assert import_decisions(batch, path) == (2, 0)
    now = state(batch, "two.co.uk")
    assert (now.status, now.accepted_lei) == (QaStatus.ACCEPTED, GERMAN)
    assert [h.bulk_id for h in read(batch, domain_history, "b1", "two.co.uk")] == [None, None]


def test_bulk_ids_travel_with_the_decisions_and_are_numbered_anew(clean, tmp_path):
    engine, _ = clean
    first = write(engine, bulk_accept, "c1", DomainFilter(), decided_by="ana", min_name_score=70)
    write(engine, bulk_accept, "c1", DomainFilter(), decided_by="bo")
    out = io.StringIO()
    assert read(engine, export_decisions, out, batch="c1") == 4
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(",decided_at,bulk_id")
    assert lines[1].endswith(f",{first.bulk_id}")
    path = tmp_path / "decisions.csv"
    path.write_text(out.getvalue(), encoding="utf-8")

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    with other.begin() as connection:  # bulk 1 and 2 are taken here by other decisions
        connection.execute(
            text(
                "INSERT INTO qa_decisions (batch_id, domain, action, decided_by, decided_at, "
                "bulk_id) VALUES ('x', 'x.com', 'accept', 'cy', '2026-11-02 09:30:00', 2)"
            )
        )
    assert import_decisions(other, path) == (4, 0)
    groups = {
        d: read(other, domain_history, "c1", d)[0].bulk_id for d in ("site0.com", "site2.com")
    }
    assert groups == {"site2.com": 3, "site0.com": 4}
    assert [(b.bulk_id, b.accepted) for b in read(other, bulk_accepts, "c1")] == [(4, 2), (3, 2)]
    other.dispose()
