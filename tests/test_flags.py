"""QA flags on real GLEIF records, computed in SQL on PostgreSQL and SQLite alike."""

import pytest
from sqlalchemy import select

from gleif_data.domain_detail import find_domain
from gleif_data.explore import count_domains, explore_page
from gleif_data.filters import DomainFilter
from gleif_data.flags import CANDIDATE_FLAGS, Flag, domain_condition, domain_flags, flag_counts
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from gleif_data.models import Domain
from tests.support import BRITISH, GERMAN, sample_records, write_csv, write_gleif_subset
from tests.transactions import read

ANNULLED_BAD_CHECK = "579100EKDEGDFEHDC086"  # AR, entity status NULL
RETIRED = "529900QX3EUYVX04CV86"  # LU, entity status NULL
DUPLICATE = "0292001478B3R6B8HI82"  # NG, entity status NULL
NULL_ENTITY_ISSUED = "635400VTGLW8SE6ZFQ40"  # IE
LU_WITH_FRENCH_HQ = "2138001IWQ81EEDCE857"  # LU, HQ FR
NOT_IN_SAMPLE = "5493001KJTIIGC8Y1R12"  # valid check digits, absent from the reference data


@pytest.fixture
def flagged(engine, tmp_path):
    names = {r["LEI"]: r["Entity.LegalName"] for r in sample_records()}
    rows = [
        ("bad-check.ar", ANNULLED_BAD_CHECK),
        ("retired.lu", RETIRED),
        ("duplicate.com", DUPLICATE),
        ("null-entity.ie", NULL_ENTITY_ISSUED),
        ("microfinance.de", GERMAN),
        ("microfinance-two.de", GERMAN),
        ("johnson-matthey.co.uk", BRITISH),
        ("johnson-matthey.de", BRITISH),
        ("johnson-matthey.io", BRITISH),
        ("kallisto.fr", LU_WITH_FRENCH_HQ),
        ("unknown.com", NOT_IN_SAMPLE),
        ("nothing.org", ""),
        ("two.com", BRITISH),
        ("two.com", LU_WITH_FRENCH_HQ),
    ]
    csv_rows = [[d, lei, names.get(lei, "Bloomberg" if lei else ""), "", ""] for d, lei in rows]
    import_batch(engine, write_csv(tmp_path / "flags.csv", csv_rows), "qa")
    # The real records of these LEIs only: the whole sample would slow every test down.
    import_gleif(engine, write_gleif_subset(tmp_path / "gleif.csv", (lei for _, lei in rows)))
    return engine


def flagged_domains(engine, flag):
    rows = read(engine, explore_page, "qa", DomainFilter(flags={flag}), size=100).rows
    return sorted(row.domain for row in rows)


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (Flag.INVALID_LEI, ["bad-check.ar"]),
        (Flag.NOT_ISSUED, ["bad-check.ar", "duplicate.com", "retired.lu"]),
        (Flag.INACTIVE_ENTITY, ["bad-check.ar", "duplicate.com", "null-entity.ie", "retired.lu"]),
        (Flag.UNKNOWN_LEI, ["unknown.com"]),
        (
            Flag.SHARED_LEI,
            [
                "johnson-matthey.co.uk",
                "johnson-matthey.de",
                "johnson-matthey.io",
                "kallisto.fr",
                "microfinance-two.de",
                "microfinance.de",
                "two.com",
            ],
        ),
        (Flag.COUNTRY_MISMATCH, ["johnson-matthey.de"]),
        (Flag.NO_CANDIDATE, ["nothing.org"]),
        (Flag.AMBIGUOUS, ["two.com"]),
    ],
)
def test_each_flag_marks_exactly_the_domains_it_should(flagged, flag, expected):
    assert flagged_domains(flagged, flag) == expected
    assert read(flagged, count_domains, "qa", DomainFilter(flags={flag})) == len(expected)


def test_flags_combine_as_all_of(flagged):
    both = DomainFilter(flags={Flag.NOT_ISSUED, Flag.INVALID_LEI})
    assert read(flagged, count_domains, "qa", both) == 1


def test_the_domain_view_lists_each_candidates_flags(flagged):
    detail = read(flagged, find_domain, "qa", "two.com")
    assert [c.flags for c in detail.candidates] == [["shared_lei"], ["shared_lei"]]
    detail = read(flagged, find_domain, "qa", "bad-check.ar")
    # The annulled record also has GLEIF's literal NULL entity status.
    assert detail.candidates[0].flags == ["invalid_lei", "not_issued", "inactive_entity"]
    assert detail.candidates[0].check_digits_valid is False


def test_without_reference_data_every_lei_is_unknown_never_guessed(engine, tmp_path):
    import_batch(engine, write_csv(tmp_path / "b.csv", [["acme.de", GERMAN, "X", "", ""]]), "qa")
    assert read(engine, count_domains, "qa", DomainFilter(flags={Flag.UNKNOWN_LEI})) == 1
    for flag in (Flag.NOT_ISSUED, Flag.INACTIVE_ENTITY, Flag.COUNTRY_MISMATCH):
        assert read(engine, count_domains, "qa", DomainFilter(flags={flag})) == 0


def per_domain_flags(engine, batch):
    """Each domain's flags by the per-domain form (one correlated EXISTS per flag)."""
    d = Domain.__table__.alias("d")
    query = select(d.c.id, *(domain_condition(flag, d) for flag in Flag)).where(
        d.c.batch_id == batch
    )
    with engine.connect() as connection:
        return {
            row[0]: {flag for flag, has in zip(Flag, row[1:], strict=True) if has}
            for row in connection.execute(query)
        }


def set_based_flags(engine, batch):
    """Each domain's flags by the set-based form (one pass over the batch's candidates)."""
    flags = domain_flags(batch)
    with engine.connect() as connection:
        domain_ids = connection.execute(select(Domain.id).where(Domain.batch_id == batch)).scalars()
        found = {row.domain_id: row for row in connection.execute(select(flags))}
    result = {}
    for domain_id in domain_ids:
        row = found.get(domain_id)
        if row is None:
            result[domain_id] = {Flag.NO_CANDIDATE}
            continue
        result[domain_id] = {flag for flag in CANDIDATE_FLAGS if getattr(row, flag.value)}
        if row.candidates > 1:
            result[domain_id].add(Flag.AMBIGUOUS)
    return result


def test_the_set_based_flags_agree_with_the_per_domain_conditions(flagged):
    expected = per_domain_flags(flagged, "qa")
    assert set_based_flags(flagged, "qa") == expected
    assert all(any(flag in flags for flags in expected.values()) for flag in Flag)
    with flagged.connect() as connection:
        counts = connection.execute(flag_counts("qa")).one()._asdict()
    ids = {flag: counts.pop(f"{flag.value}_ids") for flag in Flag}
    assert counts == {
        "domains": len(expected),
        **{flag.value: sum(flag in flags for flags in expected.values()) for flag in Flag},
    }
    # Every flag of this small batch is rare: each comes with its domains' ids.
    assert {
        flag: set(map(int, (text or "").split(",") if text else [])) for flag, text in ids.items()
    } == {flag: {domain for domain, flags in expected.items() if flag in flags} for flag in Flag}
