"""The Review page, run headless with Streamlit's AppTest against a real database."""

import time

import pytest

from gleif_data.decisions import domain_history
from gleif_data.domain_detail import find_domain
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from tests.support import ACME, BRITISH, ZETA, app, url_of, write_csv, write_gleif_subset
from tests.transactions import read


@pytest.fixture
def batch(engine, tmp_path):
    rows = [
        ["two.com", ACME, "ACME Ltd", "", ""],
        ["two.com", ZETA, "Zeta GmbH", "", ""],
        ["none.org", "", "", "", ""],
        ["three.com", ACME, "ACME Ltd", "", ""],
    ]
    import_batch(engine, write_csv(tmp_path / "a.csv", rows), "alpha")
    return engine


def review(monkeypatch, engine, **query):
    return app(monkeypatch, url_of(engine), "pages/review.py", batch="alpha", **query)


def heading(at):
    return at.subheader[0].value


def button(at, engine, domain, kind, number):
    domain_id = read(engine, find_domain, "alpha", domain).domain_id
    return at.button(key=f"{kind}_{domain_id}_{number}")


def test_the_queue_starts_at_its_first_domain_and_says_where_it_stands(batch, monkeypatch):
    at = review(monkeypatch, batch)
    assert not at.exception
    assert heading(at) == "two.com"
    # The page waits COUNT_WAIT for the count, then shows it once it is done (a fragment
    # that reruns every second in a browser; here the next run). A busy machine needs the
    # second way: the promise is the line, not how soon it comes.
    deadline = time.monotonic() + 30
    while not any(c.value == "1 of 3 left in this queue" for c in at.caption):
        assert time.monotonic() < deadline, [c.value for c in at.caption]
        time.sleep(0.2)
        at.run()
    assert heading(at) == "two.com"


def test_without_a_name_nothing_is_recorded(batch, monkeypatch):
    at = review(monkeypatch, batch)
    button(at, batch, "two.com", "accept", 1).click().run()
    assert any("Type your name first" in i.value for i in at.info)
    assert heading(at) == "two.com"
    assert read(batch, domain_history, "alpha", "two.com") == []


def test_accept_moves_on_and_a_reject_stays_while_a_candidate_is_undecided(batch, monkeypatch):
    at = review(monkeypatch, batch)
    at.text_input(key="analyst").input("Ana").run()
    button(at, batch, "two.com", "reject", 2).click().run()
    assert heading(at) == "two.com"
    button(at, batch, "two.com", "accept", 1).click().run()
    assert heading(at) == "none.org"
    assert [
        (h.action.value, h.lei_code, h.decided_by)
        for h in read(batch, domain_history, "alpha", "two.com")
    ] == [
        ("reject", ZETA, "Ana"),
        ("accept", ACME, "Ana"),
    ]


def test_a_domain_in_the_url_is_shown_and_an_unknown_one_says_so(batch, monkeypatch):
    assert heading(review(monkeypatch, batch, domain="three.com")) == "three.com"
    at = review(monkeypatch, batch, domain="gone.com")
    assert heading(at) == "two.com"
    assert any("has no domain 'gone.com'" in i.value for i in at.info)


def test_an_empty_queue_says_nothing_is_left(batch, monkeypatch):
    at = review(monkeypatch, batch, domain_contains="nothing-like-it")
    assert any(s.value.startswith("Nothing left to review in this queue") for s in at.success)


def test_back_without_a_history_goes_to_the_previous_domain_of_the_queue(batch, monkeypatch):
    at = review(monkeypatch, batch, domain="three.com")
    labelled(at, "Back").click().run()
    assert heading(at) == "none.org"


def test_skip_past_the_last_domain_starts_the_queue_again(batch, monkeypatch):
    at = review(monkeypatch, batch, domain="three.com")
    labelled(at, "Skip").click().run()
    assert heading(at) == "two.com"
    assert any("End of the queue" in i.value for i in at.info)


def labelled(at, label):
    return next(b for b in at.button if b.label == label)


def test_a_domain_is_matched_to_an_lei_found_by_search(batch, monkeypatch, tmp_path):
    import_gleif(batch, write_gleif_subset(tmp_path / "g.csv", [BRITISH]))
    at = review(monkeypatch, batch, domain="none.org")
    at.text_input(key="analyst").input("Ana").run()
    domain_id = read(batch, find_domain, "alpha", "none.org").domain_id
    at.text_input(key=f"reference_query_{domain_id}").input("johnson matthey").run()
    at.button(key=f"accept_other_{domain_id}_{BRITISH}").click().run()
    assert not at.exception
    assert heading(at) == "three.com"
    history = read(batch, domain_history, "alpha", "none.org")
    assert [(h.action.value, h.lei_code, h.legal_name) for h in history] == [
        ("accept", BRITISH, "JOHNSON MATTHEY PLC")
    ]
