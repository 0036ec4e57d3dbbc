"""The decision rule: SQL filters, exports and counts give what the plain-Python model gives.

`decisions.domain_state` is the rule in Python; every place that shows a QA state in SQL
(the qa_status filter, the export's QA columns, the candidate layout's decision, the
Overview's counts) must agree with it, on PostgreSQL and on SQLite, for every sequence of
decisions, and for logs written by the code before decisions were about candidates.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text

from gleif_data.decisions import DomainState, domain_history, domain_state, record_decision
from gleif_data.explore import count_domains, explore_page
from gleif_data.export import ExportLayout, ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.models import Domain, GleifCandidate, LeiRecord, QaDecision
from gleif_data.overview import qa_overview
from gleif_data.qa_state import Action, CandidateState, QaStatus
from tests import test_query_plans
from tests.test_query_plans import LATER, plan, rows_read, scans_of
from tests.transactions import read, write

BATCH = "rule"
DOMAIN = "three.example"
OTHER = "other.example"  # never decided: undecided in every count
CANDIDATES = {
    "529900AAAAAAAAAAAA01": "Alpha AG",
    "529900BBBBBBBBBBBB02": "Beta GmbH",
    "529900CCCCCCCCCCCC03": "Gamma SE",
}
OUTSIDE = "529900DDDDDDDDDDDD04"  # in the reference data, not a candidate
OUTSIDE_NAME = "Delta Holding"
A, B, C = CANDIDATES


@pytest.fixture
def three(engine):
    """A batch with a three-candidate domain, an undecided one, and an LEI outside both."""
    with engine.begin() as connection:
        connection.execute(
            insert(Domain),
            [
                {"id": 1, "domain": DOMAIN, "batch_id": BATCH},
                {"id": 2, "domain": OTHER, "batch_id": BATCH},
            ],
        )
        connection.execute(
            insert(GleifCandidate),
            [
                {"domain_id": 1, "lei_code": lei, "legal_name": name}
                for lei, name in CANDIDATES.items()
            ]
            + [{"domain_id": 2, "lei_code": A, "legal_name": "Alpha AG"}],
        )
        connection.execute(insert(LeiRecord), [{"lei": OUTSIDE, "legal_name": OUTSIDE_NAME}])
    return engine


def export_rows(engine, layout: ExportLayout) -> list[dict[str, str]]:
    """The QA export of the batch as dicts, in file order."""
    options = ExportOptions(layout=layout, with_qa=True)
    text = export_bytes(engine, BATCH, options).decode()
    return list(csv.DictReader(io.StringIO(text)))


def assert_sql_agrees(engine, expected: DomainState) -> None:
    """Filters, both export layouts and the Overview's counts say what `expected` says."""
    # One status filter, and the state Explore shows (the same SQL expression) for the rest.
    wanted = 1 + (expected.status is QaStatus.UNDECIDED)
    assert read(engine, count_domains, BATCH, DomainFilter(qa_status=expected.status)) == wanted
    shown = {
        row.domain: row.qa_status for row in read(engine, explore_page, BATCH, DomainFilter()).rows
    }
    assert shown == {DOMAIN: expected.status.value, OTHER: QaStatus.UNDECIDED.value}
    domain_row = export_rows(engine, ExportLayout.DOMAIN)[0]
    assert domain_row["domain"] == DOMAIN
    assert (
        domain_row["qa_status"],
        domain_row["accepted_lei"],
        domain_row["accepted_legal_name"],
    ) == (
        expected.status.value,
        expected.accepted_lei or "",
        expected.accepted_legal_name or "",
    )
    decisions = {
        row["lei_code"]: row["decision"]
        for row in export_rows(engine, ExportLayout.CANDIDATE)
        if row["domain"] == DOMAIN
    }
    assert decisions == {lei: state.value for lei, state in expected.candidates.items()}
    by_status = dict.fromkeys((s.value for s in QaStatus), 0)
    by_status[expected.status.value] += 1
    by_status[QaStatus.UNDECIDED.value] += 1
    assert read(engine, qa_overview, BATCH).by_status == by_status


LEIS = [A, B, C, OUTSIDE]
steps = st.one_of(
    st.tuples(
        st.sampled_from([Action.ACCEPT, Action.REJECT, Action.WITHDRAW]), st.sampled_from(LEIS)
    ),
    st.tuples(st.sampled_from([Action.NO_MATCH, Action.RESET]), st.none()),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sequence=st.lists(steps, max_size=8))
def test_every_sequence_of_decisions_gives_the_models_state_everywhere(three, sequence):
    with three.begin() as connection:
        connection.execute(delete(QaDecision))
    for action, lei in sequence:
        write(
            three,
            record_decision,
            batch=BATCH,
            domain=DOMAIN,
            action=action,
            decided_by="ana",
            lei_code=lei,
        )
    expected = domain_state(read(three, domain_history, BATCH, DOMAIN), list(CANDIDATES))
    assert_sql_agrees(three, expected)


def state_after(engine, sequence) -> DomainState:
    for action, lei in sequence:
        write(
            engine,
            record_decision,
            batch=BATCH,
            domain=DOMAIN,
            action=action,
            decided_by="ana",
            lei_code=lei,
        )
    return domain_state(read(engine, domain_history, BATCH, DOMAIN), list(CANDIDATES))


@pytest.mark.parametrize(
    ("sequence", "status", "accepted", "candidates"),
    [
        pytest.param([], QaStatus.UNDECIDED, None, "   ", id="nothing decided"),
        pytest.param(
            [(Action.ACCEPT, A), (Action.REJECT, B)], QaStatus.ACCEPTED, A, "AR ", id="the bug"
        ),
        pytest.param(
            [(Action.ACCEPT, A), (Action.ACCEPT, B)], QaStatus.ACCEPTED, B, " A ", id="replaced"
        ),
        pytest.param(
            [(Action.ACCEPT, A), (Action.REJECT, A)],
            QaStatus.IN_REVIEW,
            None,
            "R  ",
            id="taken back",
        ),
        pytest.param(
            [(Action.REJECT, A), (Action.REJECT, B), (Action.REJECT, C)],
            QaStatus.REJECTED,
            None,
            "RRR",
            id="all rejected",
        ),
        pytest.param(
            [(Action.REJECT, A), (Action.ACCEPT, A)], QaStatus.ACCEPTED, A, "A  ", id="un-rejected"
        ),
        pytest.param(
            [(Action.ACCEPT, A), (Action.NO_MATCH, None)],
            QaStatus.NO_MATCH,
            None,
            "   ",
            id="no match",
        ),
        pytest.param(
            [(Action.NO_MATCH, None), (Action.ACCEPT, C)],
            QaStatus.ACCEPTED,
            C,
            "  A",
            id="match after all",
        ),
        pytest.param(
            [(Action.ACCEPT, A), (Action.WITHDRAW, A)],
            QaStatus.UNDECIDED,
            None,
            "   ",
            id="withdrawn",
        ),
        pytest.param(
            [(Action.ACCEPT, A), (Action.WITHDRAW, B)],
            QaStatus.ACCEPTED,
            A,
            "A  ",
            id="withdraw other",
        ),
        pytest.param(
            [(Action.REJECT, A), (Action.ACCEPT, OUTSIDE)],
            QaStatus.ACCEPTED,
            OUTSIDE,
            "R  ",
            id="outside",
        ),
        pytest.param(
            [(Action.REJECT, B), (Action.RESET, None)], QaStatus.UNDECIDED, None, "   ", id="reset"
        ),
    ],
)
def test_the_rule_by_example(three, sequence, status, accepted, candidates):
    expected = state_after(three, sequence)
    states = {
        "A": CandidateState.ACCEPTED,
        "R": CandidateState.REJECTED,
        " ": CandidateState.UNDECIDED,
    }
    assert (expected.status, expected.accepted_lei) == (status, accepted)
    assert list(expected.candidates.values()) == [states[mark] for mark in candidates]
    assert_sql_agrees(three, expected)


def test_an_outside_acceptance_carries_the_reference_legal_name(three):
    expected = state_after(three, [(Action.ACCEPT, OUTSIDE)])
    assert expected.accepted_legal_name == OUTSIDE_NAME
    assert_sql_agrees(three, expected)


# Entries as the code before this rule wrote them: record_decision and bulk_accept, with no
# withdraw and no bulk_id. Each: domain's log, then what the domain is now.
LEGACY_LOGS = [
    pytest.param([("accept", A), ("reject", B)], QaStatus.ACCEPTED, A, id="accept A, reject B"),
    pytest.param(
        [("accept", A), ("no_match", None)], QaStatus.NO_MATCH, None, id="accept, no match"
    ),
    pytest.param([("no_match", None), ("accept", B)], QaStatus.ACCEPTED, B, id="no match, accept"),
    pytest.param([("reject", A), ("accept", B)], QaStatus.ACCEPTED, B, id="reject A, accept B"),
    pytest.param([("accept", A), ("reject", A)], QaStatus.IN_REVIEW, None, id="accept A, reject A"),
    pytest.param([("reject", C)], QaStatus.IN_REVIEW, None, id="one reject of three"),
    pytest.param(
        [("reject", A), ("reject", B), ("reject", C)], QaStatus.REJECTED, None, id="all rejected"
    ),
    pytest.param([("accept", A), ("reset", None)], QaStatus.UNDECIDED, None, id="accept, reset"),
    pytest.param(
        [("reject", A), ("reset", None), ("accept", C), ("accept", A)],
        QaStatus.ACCEPTED,
        A,
        id="reset, accept twice",
    ),
]


@pytest.mark.parametrize(("log", "status", "accepted"), LEGACY_LOGS)
def test_a_log_written_by_the_earlier_code_keeps_its_meaning(three, log, status, accepted):
    start = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    rows = [
        {
            "batch_id": BATCH,
            "domain": DOMAIN,
            "action": action,
            "lei_code": lei,
            "legal_name": CANDIDATES.get(lei or ""),
            "note": None,
            "decided_by": "ana",
            "decided_at": start + timedelta(minutes=n),
        }
        for n, (action, lei) in enumerate(log)
    ]
    with three.begin() as connection:
        connection.execute(insert(QaDecision), rows)
    expected = domain_state(read(three, domain_history, BATCH, DOMAIN), list(CANDIDATES))
    assert (expected.status, expected.accepted_lei) == (status, accepted)
    assert expected.accepted_legal_name == (CANDIDATES[accepted] if accepted else None)
    assert_sql_agrees(three, expected)


# The query plans' batches: 20,000 analysed domains (PostgreSQL only).
seeded = test_query_plans.seeded


@pytest.mark.parametrize("status", [QaStatus.UNDECIDED, QaStatus.ACCEPTED])
def test_a_page_filtered_by_qa_state_probes_only_its_domains_decisions(seeded, status):
    with seeded.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO qa_decisions (batch_id, domain, action, lei_code, decided_by, "
                "decided_at) "
                "SELECT batch_id, domain, CASE WHEN id % 2 = 0 THEN 'accept' ELSE 'reject' END, "
                "       lpad(id::text || '1', 20, '0'), 'ana', now() "
                "FROM domains WHERE id % 7 = 0"
            )
        )
    d = Domain.__table__.alias("d")
    page = (
        select(d.c.id)
        .where(d.c.batch_id == LATER, *DomainFilter(qa_status=status).conditions(d))
        .order_by(d.c.id)
        .limit(50)
    )
    try:
        tree = plan(seeded, page)
    finally:
        with seeded.begin() as connection:
            connection.execute(delete(QaDecision))
    scans = scans_of(tree, "qa_decisions")
    assert scans
    assert not [n for n in scans if n["Node Type"] == "Seq Scan"]
    # Each probe reads a domain's few entries; a hashed subplan would read all ~2,800.
    assert sum(rows_read(n) for n in scans) < 1_000
