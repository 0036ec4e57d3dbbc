"""name_score on real legal names from the GLEIF sample."""

import unicodedata

import pytest

from gleif_data.names import _fold, name_score, name_words, registrable_label
from tests.support import sample_records
from tests.transactions import read


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("acme.com", "acme"),
        ("www.acme.com", "acme"),
        ("shop.acme.co.uk", "acme"),
        ("acme.com.br", "acme"),
        ("johnson-matthey.co.uk", "johnsonmatthey"),
        ("münchen.de", "munchen"),
        ("co.uk", "co"),
    ],
)
def test_the_registrable_label_drops_subdomains_and_public_suffixes(domain, expected):
    assert registrable_label(domain) == expected


@pytest.mark.parametrize(
    ("legal_name", "words"),
    [
        ("VOLEX PLC", ["volex"]),
        ("Rožák, s. r. o.", ["rozak"]),
        ("Access Microfinance Holding AG", ["access", "microfinance", "holding"]),
        ("PALMAR DE ALTAMIRA S A S", ["palmar", "de", "altamira"]),
        ("Công ty Cổ phần Vinpearl", ["vinpearl"]),
        (
            "BANCA MONTE DEI PASCHI DI SIENA S.p.A.",
            ["banca", "monte", "dei", "paschi", "di", "siena"],
        ),
    ],
)
def test_legal_forms_accents_and_dots_go(legal_name, words):
    assert name_words(legal_name) == words


@pytest.mark.parametrize(
    ("domain", "legal_name", "low", "high"),
    [
        ("volex.com", "VOLEX PLC", 100, 100),
        ("johnson-matthey.co.uk", "JOHNSON MATTHEY PLC", 100, 100),
        ("rozak.cz", "Rožák, s. r. o.", 100, 100),
        ("gti-securities.ng", "GTI SECURITIES LIMTED", 100, 100),
        ("mps.it", "BANCA MONTE DEI PASCHI DI SIENA S.p.A.", 40, 70),
        ("шпаркасе-банка.mk", "Шпаркасе Банка Македонија АД Скопје", 100, 100),
        ("sankyu.net", "STUDIO MICHELI DI MICHELI MIVIO E C. S.A.S.", 0, 35),
        ("acme.com", "S.p.A.", 0, 0),
    ],
)
def test_scores_rank_real_names_sensibly(domain, legal_name, low, high):
    assert low <= name_score(domain, legal_name) <= high


def test_the_score_is_deterministic_and_bounded():
    scores = {name_score("first-national.zm", "FIRST NATIONAL BANK OF NAMIBIA") for _ in range(5)}
    assert len(scores) == 1
    assert 0 <= scores.pop() <= 100


def test_imports_store_each_candidates_score_and_filters_use_the_best(engine, tmp_path):
    from sqlalchemy import text

    from gleif_data.explore import count_domains
    from gleif_data.filters import DomainFilter
    from gleif_data.import_batch import import_batch
    from tests.support import write_csv

    rows = [
        ["volex.com", "213800HBLQNH5FXXGE63", "VOLEX PLC", "", ""],
        ["volex.com", "0292001130A2Q5CDA023", "GTI SECURITIES LIMTED", "", ""],
        ["other.com", "0292001130A2Q5CDA023", "GTI SECURITIES LIMTED", "", ""],
        ["none.com", "", "", "", ""],
    ]
    import_batch(engine, write_csv(tmp_path / "b.csv", rows), "b1")
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT legal_name, name_score FROM gleif_candidates ORDER BY id")
        ).all()
    assert [tuple(row) for row in stored] == [
        ("VOLEX PLC", 100),
        ("GTI SECURITIES LIMTED", name_score("volex.com", "GTI SECURITIES LIMTED")),
        ("GTI SECURITIES LIMTED", name_score("other.com", "GTI SECURITIES LIMTED")),
    ]
    assert read(engine, count_domains, "b1", DomainFilter(min_name_score=90)) == 1
    assert read(engine, count_domains, "b1", DomainFilter(max_name_score=50)) == 1


def test_the_fast_fold_equals_the_plain_definition_for_every_sample_name():
    # _fold skips NFKD for ASCII and deletes combining marks with a translate table; both
    # shortcuts must give what the definition in the module docstring gives.
    def plain(text):
        decomposed = unicodedata.normalize("NFKD", text.lower())
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    names = [record["Entity.LegalName"] for record in sample_records()]
    names += ["Ærø Ñandú Ŀ İstanbul ΣΟΦΊΑ", "ﬁnance ｆｕｌｌ", "Ca\u0301fe\u0301"]
    assert [_fold(name) for name in names] == [plain(name) for name in names]
