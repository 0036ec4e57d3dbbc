"""Flag reasons in words, and the ccTLD country rule in Python agreeing with the SQL one."""

import dataclasses

import pytest
from sqlalchemy import literal, select

from gleif_data.domain_detail import CandidateDetail
from gleif_data.flag_reasons import candidate_reason, domain_country, domain_reasons
from gleif_data.flags import domain_country as sql_domain_country

US_CANDIDATE = CandidateDetail(
    candidate_id=1,
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
DOMAINS = [
    "acme.de",
    "shop.acme.co.uk",
    "acme.com.br",
    "acme.com",
    "acme.io",
    "acme.eu",
    "ACME.FR",
    "acme.d1",
    "acme.xn--p1ai",
    "localhost",
    "acme.a",
]


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


def test_the_python_country_rule_agrees_with_the_sql_one(engine):
    with engine.connect() as connection:
        in_sql = [
            connection.execute(select(sql_domain_country(literal(domain)))).scalar_one()
            for domain in DOMAINS
        ]
    assert [domain_country(domain) for domain in DOMAINS] == in_sql
    assert in_sql[:4] == ["DE", "GB", "BR", None]
