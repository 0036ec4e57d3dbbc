"""The review queue: the filtered domains still to review, one at a time, in import order."""

import pytest
from sqlalchemy import select

from gleif_data.decisions import record_decision
from gleif_data.filters import DomainFilter
from gleif_data.flags import any_flag
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from gleif_data.models import Domain
from gleif_data.qa_state import Action
from gleif_data.review_queue import (
    QueuePosition,
    ReviewQueue,
    has_any_flag,
    next_domain,
    previous_domain,
    queue_position,
)
from tests.support import BAD_CHECK, BRITISH, GERMAN, write_csv, write_gleif_subset
from tests.transactions import read, write

BOURNE = "2138003IYQ5KYJZQRK54"
# In import order; every domain but bourne.co.uk (one clean candidate) has a flag.
DOMAINS = ["microfinance.de", "two.co.uk", "bourne.co.uk", "bad.ar", "nothing.org", "last.de"]


@pytest.fixture
def batch(engine, tmp_path):
    rows = [
        ["microfinance.de", GERMAN, "Access Microfinance Holding AG", "", ""],
        ["two.co.uk", BRITISH, "JOHNSON MATTHEY PLC", "", ""],
        ["two.co.uk", GERMAN, "Access Microfinance Holding AG", "", ""],
        ["bourne.co.uk", BOURNE, "C J BOURNE (ASSET MANAGEMENT) LIMITED", "", ""],
        ["bad.ar", BAD_CHECK, "BANCO SAENZ S A", "", ""],
        ["nothing.org", "", "", "", ""],
        ["last.de", BRITISH, "JOHNSON MATTHEY PLC", "", ""],
    ]
    import_batch(engine, write_csv(tmp_path / "b.csv", rows), "b1")
    import_gleif(engine, write_gleif_subset(tmp_path / "g.csv", [GERMAN, BRITISH, BOURNE]))
    return engine


def walk_all(engine, queue):
    """Every domain of the queue, by following next_domain from the start."""
    at = None
    while (found := read(engine, next_domain, queue, after=at)) is not None:
        yield found
        at = found.domain_id


def walk(engine, queue):
    return [found.domain for found in walk_all(engine, queue)]


def decide(engine, domain, action, lei=None):
    write(
        engine,
        record_decision,
        batch="b1",
        domain=domain,
        action=action,
        decided_by="ana",
        lei_code=lei,
    )


def test_the_queue_holds_the_flagged_undecided_domains_in_import_order(batch):
    assert walk(batch, ReviewQueue("b1")) == [d for d in DOMAINS if d != "bourne.co.uk"]


def test_every_filtered_domain_when_not_only_those_to_review(batch):
    assert walk(batch, ReviewQueue("b1", pending_only=False)) == DOMAINS
    queue = ReviewQueue("b1", DomainFilter(domain_contains=".de"), pending_only=False)
    assert walk(batch, queue) == ["microfinance.de", "last.de"]


def test_a_decided_domain_leaves_the_queue_and_a_partly_decided_one_stays(batch):
    decide(batch, "microfinance.de", Action.ACCEPT, GERMAN)
    decide(batch, "bad.ar", Action.NO_MATCH)
    decide(batch, "two.co.uk", Action.REJECT, BRITISH)  # in review: GERMAN is undecided
    decide(batch, "last.de", Action.REJECT, BRITISH)  # rejected: its only candidate
    assert walk(batch, ReviewQueue("b1")) == ["two.co.uk", "nothing.org"]
    decide(batch, "two.co.uk", Action.REJECT, GERMAN)
    decide(batch, "microfinance.de", Action.RESET)
    assert walk(batch, ReviewQueue("b1")) == ["microfinance.de", "nothing.org"]


def test_the_filters_narrow_the_queue(batch):
    queue = ReviewQueue("b1", DomainFilter(min_candidates=1, max_candidates=1))
    assert walk(batch, queue) == ["microfinance.de", "bad.ar", "last.de"]
    assert walk(batch, ReviewQueue("b1", DomainFilter(flags=frozenset({"invalid_lei"})))) == [
        "bad.ar"
    ]
    assert walk(batch, ReviewQueue("b1", DomainFilter(name_contains="johnson"))) == [
        "two.co.uk",
        "last.de",
    ]
    assert read(batch, next_domain, ReviewQueue("b2")) is None


def test_previous_walks_the_queue_backwards(batch):
    queue = ReviewQueue("b1")
    ids = [found.domain_id for found in walk_all(batch, queue)]
    backwards, before = [], ids[-1] + 1
    while (found := read(batch, previous_domain, queue, before=before)) is not None:
        backwards.append(found.domain_id)
        before = found.domain_id
    assert backwards == ids[::-1]
    assert read(batch, next_domain, queue, after=ids[-1]) is None


def test_the_position_counts_the_queue_up_to_a_domain(batch):
    queue = ReviewQueue("b1")
    first = read(batch, next_domain, queue)
    second = read(batch, next_domain, queue, after=first.domain_id)
    assert read(batch, queue_position, queue, first.domain_id) == QueuePosition(1, 5, True)
    assert read(batch, queue_position, queue, second.domain_id) == QueuePosition(2, 5, True)
    everything = ReviewQueue("b1", pending_only=False)
    bourne = next(d for d in walk_all(batch, everything) if d.domain == "bourne.co.uk")
    # bourne.co.uk is not to review: it counts as a place between two that are.
    assert read(batch, queue_position, queue, bourne.domain_id) == QueuePosition(2, 5, False)
    assert read(batch, queue_position, everything, bourne.domain_id) == QueuePosition(3, 6, True)


def test_quotes_and_wildcards_in_filters_are_plain_text(batch):
    queue = ReviewQueue("b1", DomainFilter(domain_contains="%' OR 1=1 --"), pending_only=False)
    assert read(batch, next_domain, queue) is None
    assert read(batch, queue_position, queue, 1) == QueuePosition(0, 0, False)


def test_the_one_lookup_form_of_any_flag_agrees_with_any_flag(batch):
    d = Domain.__table__.alias("d")
    with batch.connect() as connection:
        rows = connection.execute(
            select(d.c.domain, any_flag(d), has_any_flag(d)).order_by(d.c.id)
        ).all()
    assert [(name, bool(a)) for name, a, _ in rows] == [(name, bool(b)) for name, _, b in rows]
    assert [name for name, a, _ in rows if not a] == ["bourne.co.uk"]
