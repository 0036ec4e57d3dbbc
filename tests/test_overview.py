"""The Overview's counts, checked against the same rows counted in plain Python.

The rows include what a legacy database may hold besides imports: candidates without an LEI
code or with an empty one, a domain name twice in a batch, a domain without a name, the same
LEI twice on one domain, and decisions for domains that have left the batch.
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from gleif_data.decisions import Decision, domain_state
from gleif_data.explore import count_domains
from gleif_data.filters import DomainFilter
from gleif_data.flags import GENERIC_COUNTRY_TLDS, TLD_COUNTRIES, Flag
from gleif_data.lei import has_valid_check_digits
from gleif_data.models import Domain, GleifCandidate, LeiRecord, QaDecision
from gleif_data.overview import BUCKETS, NOT_IN_REFERENCE, batch_overview, qa_overview
from gleif_data.qa_state import Action, QaStatus
from gleif_data.queries import list_batch_sizes, list_batches
from tests.transactions import read

_AS_DIGITS = str.maketrans({c: str(int(c, 36)) for c in string.ascii_uppercase})


def lei(prefix: str) -> str:
    """A code with valid ISO 7064 check digits, from an 18-character prefix."""
    check = 98 - int(f"{prefix}00".translate(_AS_DIGITS)) % 97
    return f"{prefix}{check:02d}"


GERMAN = lei("529900GERMAN000001")
FRENCH = lei("529900FRENCH000001")
LAPSED_GB = lei("2138LAPSEDGB000001")
INACTIVE = lei("5493INACTIVE000001")
NULL_STATUS = lei("635400NULLSTATUS01")
LUXEMBOURG = lei("222100LUXEMBOURG01")
SHARED_WITH_OTHER_BATCH = lei("529900OTHERBATCH01")
UNKNOWN = lei("5493UNKNOWN0000001")
REPEATED = lei("5493REPEATED000001")  # not in the reference data either
BAD_CHECK = "529900GERMAN000001" + "00"
assert not has_valid_check_digits(BAD_CHECK)

RECORD_COLUMNS = (
    "lei",
    "registration_status",
    "entity_status",
    "legal_address_country",
    "headquarters_country",
    "legal_jurisdiction",
)
RECORDS = [
    (GERMAN, "ISSUED", "ACTIVE", "DE", "DE", "DE"),
    (FRENCH, "ISSUED", "ACTIVE", "FR", "FR", "FR"),
    (LAPSED_GB, "LAPSED", "ACTIVE", "GB", "GB", "GB"),
    (INACTIVE, "ISSUED", "INACTIVE", "US", "US", "US-DE"),
    (NULL_STATUS, None, "NULL", "IE", "IE", "IE"),
    (LUXEMBOURG, "RETIRED", "ACTIVE", "FR", "FR", "LU"),
    (SHARED_WITH_OTHER_BATCH, "ISSUED", "ACTIVE", "DE", "DE", "DE"),
    (BAD_CHECK, "ANNULLED", "NULL", "AR", "AR", "AR"),
]
# Each batch: domains in id order, each with its candidates' LEI codes.
BATCHES = {
    "qa": [
        ("acme.de", [GERMAN]),
        ("acme.fr", [GERMAN]),  # shared_lei with acme.de, country_mismatch
        ("bad.com", [BAD_CHECK]),
        ("lapsed.co.uk", [LAPSED_GB]),
        ("inactive.io", [INACTIVE]),  # a generic TLD: no country verdict
        ("null-status.ie", [NULL_STATUS]),
        ("none.org", []),
        ("two.com", [SHARED_WITH_OTHER_BATCH, FRENCH]),
        ("null-code.net", [None]),
        ("null-code-too.net", [None]),  # two NULL codes are not one shared LEI
        ("empty.net", [""]),
        ("empty-too.net", [""]),  # but two empty ones are
        ("repeat.com", [REPEATED, REPEATED]),  # one domain twice with an LEI: no share
        ("acme.de", [FRENCH]),  # the same name again, a legacy duplicate
        (None, [GERMAN]),
        ("kallisto.lu", [LUXEMBOURG]),
        ("many.com", [lei(f"5493MANY{n:010d}") for n in range(12)]),
        ("several.com", [lei(f"5493SEVERAL{n:07d}") for n in range(6)]),
        ("three.bank", [FRENCH, GERMAN, INACTIVE]),
        ("four.co", [UNKNOWN, GERMAN, FRENCH, LAPSED_GB]),
        ("lone.org", []),
    ],
    "other": [
        ("other.de", [SHARED_WITH_OTHER_BATCH]),
        ("acme.de", [GERMAN]),
        ("bare.org", []),
    ],
    "empty-handed": [("nobody.org", []), ("nobody-else.org", [])],
}
# batch, domain, action, LEI, in this order: replayed by the rule of decisions.domain_state.
DECISIONS = [
    ("qa", "acme.de", Action.ACCEPT, GERMAN),
    ("qa", "acme.de", Action.REJECT, GERMAN),
    ("qa", "acme.de", Action.REJECT, FRENCH),  # the second acme.de's only candidate
    ("qa", "bad.com", Action.NO_MATCH, None),
    ("qa", "two.com", Action.ACCEPT, SHARED_WITH_OTHER_BATCH),
    ("qa", "lapsed.co.uk", Action.ACCEPT, LAPSED_GB),
    ("qa", "lapsed.co.uk", Action.RESET, None),
    ("qa", "three.bank", Action.REJECT, FRENCH),  # one of three: in review
    ("qa", "four.co", Action.ACCEPT, GERMAN),
    ("qa", "four.co", Action.REJECT, FRENCH),  # another candidate: still accepted
    ("qa", "null-code.net", Action.ACCEPT, None),  # a legacy bulk accept of a NULL code
    ("qa", "kallisto.lu", Action.REJECT, None),  # names no candidate: changes nothing
    ("qa", "gone.com", Action.ACCEPT, GERMAN),  # the domain left the batch in a re-import
    ("other", "inactive.io", Action.ACCEPT, INACTIVE),  # another batch's domain of that name
    ("other", "acme.de", Action.NO_MATCH, None),
]


@pytest.fixture
def loaded(engine):
    """The batches, reference records and decisions above, inserted as rows."""
    return load_dataset(engine)


def load_dataset(engine):
    """Insert the batches, reference records and decisions above; return the engine."""
    domain_rows, candidate_rows = [], []
    for batch, domains in BATCHES.items():
        for name, codes in domains:
            domain_id = len(domain_rows) + 1
            domain_rows.append({"id": domain_id, "domain": name, "batch_id": batch})
            candidate_rows += [
                {"domain_id": domain_id, "lei_code": code, "legal_name": f"Entity {code}"}
                for code in codes
            ]
    record_rows = [dict(zip(RECORD_COLUMNS, record, strict=True)) for record in RECORDS]
    now = datetime(2026, 1, 26, tzinfo=UTC)
    decision_rows = [
        {
            "batch_id": b,
            "domain": d,
            "action": a.value,
            "lei_code": code,
            "decided_by": "ana",
            "decided_at": now,
        }
        for b, d, a, code in DECISIONS
    ]
    with engine.begin() as connection:
        connection.execute(insert(Domain), domain_rows)
        connection.execute(insert(GleifCandidate), candidate_rows)
        connection.execute(insert(LeiRecord), record_rows)
        connection.execute(insert(QaDecision), decision_rows)
    return engine


@dataclass
class Rows:
    """Every row of the four tables, as plain tuples."""

    domains: list[tuple[int, str | None, str | None]]
    candidates: list[tuple[int, int, str | None]]
    records: dict[str, tuple[str | None, ...]]
    decisions: list[Decision]

    @classmethod
    def read(cls, engine) -> Rows:
        with engine.connect() as connection:
            return cls(
                domains=connection.execute(select(Domain.id, Domain.domain, Domain.batch_id)).all(),
                candidates=connection.execute(
                    select(GleifCandidate.id, GleifCandidate.domain_id, GleifCandidate.lei_code)
                ).all(),
                records={
                    row[0]: tuple(row[1:])
                    for row in connection.execute(
                        select(*(LeiRecord.__table__.c[name] for name in RECORD_COLUMNS))
                    )
                },
                decisions=[
                    Decision.from_row(row)
                    for row in connection.execute(select(*QaDecision.__table__.c))
                ],
            )

    def batch_domains(self, batch: str) -> list[tuple[int, str | None]]:
        return [(i, name) for i, name, b in self.domains if b == batch]

    def codes_by_domain(self, batch: str) -> dict[int, list[str | None]]:
        ids = {i for i, _ in self.batch_domains(batch)}
        codes: dict[int, list[str | None]] = defaultdict(list)
        for _, domain_id, code in sorted(self.candidates):
            if domain_id in ids:
                codes[domain_id].append(code)
        return codes


def bucket(n: int) -> str:
    return "10+" if n >= 10 else "5-9" if n >= 5 else str(n)


def expected_overview(rows: Rows, batch: str) -> dict[str, object]:
    codes = rows.codes_by_domain(batch)
    counts = [len(codes.get(i, [])) for i, _ in rows.batch_domains(batch)]
    histogram = Counter(bucket(n) for n in counts)
    statuses = Counter(
        (rows.records[code][0] or NOT_IN_REFERENCE) if code in rows.records else NOT_IN_REFERENCE
        for domain_codes in codes.values()
        for code in domain_codes
    )
    return {
        "domains": len(counts),
        "with_candidates": sum(1 for n in counts if n),
        "without_candidates": sum(1 for n in counts if not n),
        "ambiguous": sum(1 for n in counts if n > 1),
        "candidates": sum(counts),
        "max_candidates": max(counts, default=0),
        "histogram": {b: histogram.get(b, 0) for b in BUCKETS},
        "registration_statuses": dict(statuses),
    }


def country_of(domain: str | None) -> str | None:
    """The ISO country of a domain's country-code TLD, None for generic TLDs."""
    if domain is None or len(domain) < 3 or domain[-3] != ".":
        return None
    tld = domain[-2:].lower()
    if not re.fullmatch("[a-z]{2}", tld) or tld in GENERIC_COUNTRY_TLDS:
        return None
    return TLD_COUNTRIES.get(tld, tld.upper())


def candidate_flags(rows: Rows, batch: str, domain_id: int, domain: str | None, code: str | None):
    codes = rows.codes_by_domain(batch)
    record = rows.records.get(code) if code is not None else None
    flags = set()
    if code is None or not has_valid_check_digits(code):
        flags.add(Flag.INVALID_LEI)
    if record is None:
        flags.add(Flag.UNKNOWN_LEI)
    else:
        registration, entity, legal, headquarters, jurisdiction = record
        if registration != "ISSUED":
            flags.add(Flag.NOT_ISSUED)
        if entity in ("INACTIVE", "NULL"):
            flags.add(Flag.INACTIVE_ENTITY)
        country = country_of(domain)
        if country is not None and country not in (legal, headquarters, (jurisdiction or "")[:2]):
            flags.add(Flag.COUNTRY_MISMATCH)
    if code is not None and any(
        code in other_codes for other, other_codes in codes.items() if other != domain_id
    ):
        flags.add(Flag.SHARED_LEI)
    return flags


def expected_qa(rows: Rows, batch: str) -> dict[str, object]:
    codes = rows.codes_by_domain(batch)
    by_flag = Counter()
    for domain_id, name in rows.batch_domains(batch):
        flags = set()
        domain_codes = codes.get(domain_id, [])
        if not domain_codes:
            flags.add(Flag.NO_CANDIDATE)
        if len(domain_codes) > 1:
            flags.add(Flag.AMBIGUOUS)
        for code in domain_codes:
            flags |= candidate_flags(rows, batch, domain_id, name, code)
        by_flag.update(flags)
    histories: dict[str | None, list[Decision]] = defaultdict(list)
    for decision in rows.decisions:
        if decision.batch == batch:
            histories[decision.domain].append(decision)
    by_status = Counter(
        domain_state(histories[name], codes.get(domain_id, [])).status
        for domain_id, name in rows.batch_domains(batch)
    )
    return {
        "domains": len(rows.batch_domains(batch)),
        "by_status": {s.value: by_status.get(s, 0) for s in QaStatus},
        "by_flag": {f.value: by_flag.get(f, 0) for f in Flag},
    }


BATCH_NAMES = [*BATCHES, "no-such-batch"]


@pytest.mark.parametrize("batch", BATCH_NAMES)
def test_the_overview_counts_what_plain_python_counts(loaded, batch):
    overview = read(loaded, batch_overview, batch)
    expected = expected_overview(Rows.read(loaded), batch)
    assert {name: getattr(overview, name) for name in expected} == expected


def test_registration_statuses_come_most_frequent_first(loaded):
    counts = list(read(loaded, batch_overview, "qa").registration_statuses.values())
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("batch", BATCH_NAMES)
def test_qa_counts_what_plain_python_counts(loaded, batch):
    qa = read(loaded, qa_overview, batch)
    expected = expected_qa(Rows.read(loaded), batch)
    assert {"domains": qa.domains, "by_status": qa.by_status, "by_flag": qa.by_flag} == expected


def test_the_qa_dataset_exercises_every_flag_and_status(loaded):
    qa = read(loaded, qa_overview, "qa")
    assert all(qa.by_flag.values()), qa.by_flag
    assert all(qa.by_status.values()), qa.by_status
    # Both rows named acme.de are rejected; the decision for gone.com counts nowhere.
    assert qa.by_status[QaStatus.REJECTED.value] == 2
    assert qa.decided == 7


@pytest.mark.parametrize("flag", list(Flag))
def test_the_per_domain_flag_filter_counts_what_plain_python_counts(loaded, flag):
    expected = expected_qa(Rows.read(loaded), "qa")["by_flag"][flag.value]
    assert read(loaded, count_domains, "qa", DomainFilter(flags={flag})) == expected


@pytest.mark.parametrize("status", list(QaStatus))
def test_the_qa_status_filter_counts_what_plain_python_counts(loaded, status):
    expected = expected_qa(Rows.read(loaded), "qa")["by_status"][status.value]
    assert read(loaded, count_domains, "qa", DomainFilter(qa_status=status)) == expected


def test_batches_list_domain_and_candidate_counts(loaded):
    rows = Rows.read(loaded)
    expected = [
        (batch, len(rows.batch_domains(batch)), sum(map(len, rows.codes_by_domain(batch).values())))
        for batch in sorted(BATCHES)
    ]
    assert [(s.batch, s.domains, s.candidates) for s in read(loaded, list_batches)] == expected
    assert [(s.batch, s.domains) for s in read(loaded, list_batch_sizes)] == [
        e[:2] for e in expected
    ]


def test_an_empty_database_has_no_batches(engine):
    assert read(engine, list_batches) == []
    assert read(engine, list_batch_sizes) == []
