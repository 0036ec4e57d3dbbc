"""Flag reasons in words, and the ccTLD country rule in Python agreeing with the SQL one."""

import dataclasses

import pytest

from gleif_data.domain_detail import CandidateDetail, find_domain
from gleif_data.flag_reasons import (
    SharedLei,
    candidate_reason,
    domain_reasons,
    domains_sharing_lei,
)
from gleif_data.import_batch import import_batch
from tests.support import write_csv
from tests.transactions import read

US_CANDIDATE = CandidateDetail(
    candidate_id=1,
    domain_id=1,
    lei_code="5493001KJTIIGC8Y1R12",
    legal_name="ACME INC",
    match_score=None,
    match_method=None,
    check_digits_valid=True,
    in_reference_data=True,
    reference_legal_name="ACME INC",
    registration_status="LAPSED",
    entity_status="NULL",
    legal_address_country="US",
    headquarters_country="US",
    legal_jurisdiction="US-DE",
    last_update=None,
    next_renewal=None,
    name_score=100,
    flags=["not_issued", "inactive_entity", "country_mismatch"],
)


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        (
            "country_mismatch",
            "country_mismatch: .de domain, candidate registered in US "
            "(legal address US, HQ US, jurisdiction US-DE)",
        ),
        ("not_issued", "not_issued: GLEIF registration status is LAPSED, not ISSUED"),
        ("inactive_entity", "inactive_entity: GLEIF publishes no entity status (NULL)"),
        ("unknown_lei", "unknown_lei: the LEI is not in the imported GLEIF reference data"),
        ("some_new_flag", "some_new_flag"),
    ],
)
def test_each_candidate_flag_has_its_reason_in_words(flag, reason):
    assert candidate_reason(flag, "shop.acme.de", US_CANDIDATE) == reason


def test_a_missing_country_reads_unknown():
    nowhere = dataclasses.replace(
        US_CANDIDATE, legal_address_country=None, headquarters_country=None
    )
    assert candidate_reason("country_mismatch", "acme.fr", nowhere) == (
        "country_mismatch: .fr domain, candidate registered in US-DE "
        "(legal address unknown, HQ unknown, jurisdiction US-DE)"
    )


def test_domain_flags_say_how_many_candidates():
    assert domain_reasons(0) == [
        "no_candidate: the matching found no GLEIF candidate for this domain"
    ]
    assert domain_reasons(1) == []
    assert domain_reasons(3) == ["ambiguous: 3 candidates, and at most one can be the match"]


def test_shared_lei_names_the_other_domains_of_the_batch(engine, tmp_path):
    lei = "5493001KJTIIGC8Y1R12"
    rows = [[f"d{i}.com", lei, "ACME INC", "", ""] for i in range(6)]
    rows.append(["other.com", "0292001130A2Q5CDA023", "ZETA SA", "", ""])
    import_batch(engine, write_csv(tmp_path / "b.csv", rows), "b1")
    import_batch(engine, write_csv(tmp_path / "c.csv", rows[:1]), "b2")
    first = read(engine, find_domain, "b1", "d0.com")
    shared = read(engine, domains_sharing_lei, "b1", lei, besides=first.domain_id)
    assert shared == SharedLei(domains=["d1.com", "d2.com", "d3.com"], count=5)
    assert candidate_reason("shared_lei", "d0.com", first.candidates[0], shared) == (
        "shared_lei: the LEI is also a candidate of d1.com, d2.com, d3.com and 2 more domains "
        "in this batch"
    )
    alone = read(engine, find_domain, "b2", "d0.com")
    assert read(engine, domains_sharing_lei, "b2", lei, besides=alone.domain_id) == SharedLei([], 0)
