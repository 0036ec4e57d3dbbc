"""The Domain page's lookup: a domain found as the export finds it, and suggestions."""

import csv
import io

import pytest
from sqlalchemy import insert

from gleif_data.domain_detail import find_domain, suggest_domains
from gleif_data.export import ExportLayout, ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.models import Domain, GleifCandidate
from tests.support import ACME, ZETA
from tests.transactions import read

OTHER = "579100EKDEGDFEHDC086"


@pytest.fixture
def legacy(engine):
    """A legacy batch as another program wrote it: mixed case, a domain on two rows."""
    domains = [
        (1, "Acme.COM", "b1"),
        (2, "dup.de", "b1"),
        (3, "shop.acme.co.uk", "b1"),
        (4, "dup.de", "b1"),
        (5, "www.zeta.com", "b1"),
        (6, "zeta.com", "b1"),
        (7, None, "b1"),
        (8, "100%_acme.org", "b1"),
        (9, "acme.com", "b2"),
    ]
    candidates = [
        (1, 1, ACME, "Acme Ltd"),
        (2, 2, ZETA, "Zeta GmbH"),
        (3, 4, OTHER, "Other AG"),
        (4, 4, ACME, "Acme Ltd"),
        (5, 2, OTHER, "Other AG"),
        (6, 9, ZETA, "Zeta"),
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(Domain), [{"id": i, "domain": d, "batch_id": b} for i, d, b in domains]
        )
        connection.execute(
            insert(GleifCandidate),
            [
                {"id": i, "domain_id": d, "lei_code": lei, "legal_name": name}
                for i, d, lei, name in candidates
            ],
        )
    return engine


@pytest.mark.parametrize(
    "typed", ["Acme.COM", "acme.com", "  ACME.com ", "https://Acme.COM/about?x=1", "acme.com."]
)
def test_a_stored_mixed_case_domain_is_found_however_it_is_typed(legacy, typed):
    detail = read(legacy, find_domain, "b1", typed)
    assert detail is not None
    assert detail.domain == "Acme.COM", "decisions and the export name the stored spelling"
    assert [c.lei_code for c in detail.candidates] == [ACME]
    assert detail.stored_times == 1


def test_a_domain_stored_twice_shows_the_candidates_of_every_row_as_the_export_does(legacy):
    detail = read(legacy, find_domain, "b1", "DUP.de")
    assert detail.domain == "dup.de"
    assert detail.domain_ids == [2, 4]
    assert detail.stored_times == 2
    shown = [(c.domain_id, c.lei_code) for c in detail.candidates]
    assert shown == [(2, ZETA), (2, OTHER), (4, OTHER), (4, ACME)]
    exported = export_bytes(
        legacy,
        "b1",
        ExportOptions(layout=ExportLayout.CANDIDATE, filters=DomainFilter(domain_contains="dup.")),
    )
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert [r["lei_code"] for r in rows] == [code for _, code in shown]


def test_the_exact_spelling_wins_and_other_spellings_are_named(legacy):
    with legacy.begin() as connection:
        connection.execute(insert(Domain).values(id=10, domain="ACME.com", batch_id="b1"))
    assert read(legacy, find_domain, "b1", "ACME.com").domain == "ACME.com"
    assert read(legacy, find_domain, "b1", "Acme.COM").domain == "Acme.COM"
    # Neither the text nor its normal form is stored: the case fold finds both, first row first.
    folded = read(legacy, find_domain, "b1", "acme.com")
    assert folded.domain == "Acme.COM"
    assert folded.other_spellings == ["ACME.com"]
    with legacy.begin() as connection:
        connection.execute(insert(Domain).values(id=11, domain="acme.com", batch_id="b1"))
    assert read(legacy, find_domain, "b1", "ACME.COM").domain == "acme.com", "the normal form wins"


def test_a_pasted_url_finds_its_host(legacy):
    detail = read(legacy, find_domain, "b1", "https://www.Zeta.com/about")
    assert detail.domain == "www.zeta.com"
    assert read(legacy, find_domain, "b1", "http://user:pw@shop.acme.co.uk:8080/x").country == "GB"


@pytest.mark.parametrize("typed", ["", "   ", "acme", "nowhere.com", "acme.com\x00", "%"])
def test_what_names_no_domain_of_the_batch_finds_nothing(legacy, typed):
    assert read(legacy, find_domain, "b1", typed) is None


def test_a_domain_of_another_batch_is_not_found(legacy):
    assert read(legacy, find_domain, "b2", "Acme.COM").domain == "acme.com"
    assert read(legacy, find_domain, "b3", "acme.com") is None


def test_suggestions_contain_the_text_earliest_and_shortest_first(legacy):
    assert read(legacy, suggest_domains, "b1", "ACME") == [
        "Acme.COM",
        "100%_acme.org",
        "shop.acme.co.uk",
    ]
    assert read(legacy, suggest_domains, "b1", "acme", limit=2) == ["Acme.COM", "100%_acme.org"]


def test_suggestions_list_a_domain_stored_twice_once(legacy):
    assert read(legacy, suggest_domains, "b1", "dup") == ["dup.de"]


def test_suggestions_for_a_pasted_url_look_for_its_host_without_www(legacy):
    assert read(legacy, suggest_domains, "b1", "https://www.Zeta.com/contact") == [
        "zeta.com",
        "www.zeta.com",
    ]


@pytest.mark.parametrize("typed", ["%", "_", "%_"])
def test_wildcards_in_suggestions_are_literal_characters(legacy, typed):
    assert read(legacy, suggest_domains, "b1", typed) == ["100%_acme.org"]


@pytest.mark.parametrize("typed", ["", "  ", "a\x00"])
def test_no_text_suggests_nothing(legacy, typed):
    assert read(legacy, suggest_domains, "b1", typed) == []


def test_an_internationalised_domain_is_found_and_suggested_from_its_ace_spelling(legacy):
    with legacy.begin() as connection:
        connection.execute(insert(Domain).values(id=20, domain="bücher.de", batch_id="b1"))
    assert read(legacy, find_domain, "b1", "https://XN--BCHER-KVA.de/shop").domain == "bücher.de"
    assert read(legacy, suggest_domains, "b1", "xn--bcher-kva") == ["bücher.de"]
    assert read(legacy, suggest_domains, "b1", "BÜCHER") == ["bücher.de"]
