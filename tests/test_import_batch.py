import gzip
import random
import string
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from gleif_data.domains import _normalise_fully, normalise_domain
from gleif_data.errors import GleifDataError, InputError
from gleif_data.import_batch import import_batch
from gleif_data.lei import has_valid_check_digits
from gleif_data.models import Domain, GleifCandidate
from gleif_data.queries import data_version
from tests.support import ACME, BAD_CHECK, ZETA, batch_rows, data_rows, sample_records, write_csv
from tests.transactions import read


def test_rows_become_domains_in_file_order_with_their_candidates_in_file_order(engine, tmp_path):
    path = write_csv(
        tmp_path / "b.csv",
        [
            ["zeta.de", ZETA, "Zeta GmbH", "0.5", "fuzzy"],
            ["acme.com", ACME, 'ACME; "Inc"', "0.9", "exact"],
            ["none.org", "", "", "", ""],
            ["zeta.de", ACME, 'ACME; "Inc"', "", ""],
        ],
    )
    report = import_batch(engine, path, "b1")
    assert (report.domains, report.candidates) == (3, 3)
    assert batch_rows(engine, "b1") == [
        ("zeta.de", ZETA, "Zeta GmbH", 0.5, "fuzzy"),
        ("zeta.de", ACME, 'ACME; "Inc"', None, None),
        ("acme.com", ACME, 'ACME; "Inc"', 0.9, "exact"),
        ("none.org", None, None, None, None),
    ]


def test_pasted_urls_and_mixed_case_name_the_same_domain(engine, tmp_path):
    path = write_csv(
        tmp_path / "b.csv",
        [
            ["https://www.ACME.com/about", ACME, "ACME", "", ""],
            [" www.acme.com ", ZETA, "Z", "", ""],
        ],
    )
    import_batch(engine, path, "b1")
    assert [row[:2] for row in batch_rows(engine, "b1")] == [
        ("www.acme.com", ACME),
        ("www.acme.com", ZETA),
    ]


def test_a_repeated_domain_and_lei_pair_is_kept_once_and_reported(engine, tmp_path):
    path = write_csv(
        tmp_path / "b.csv",
        [["acme.com", ACME, "first", "", ""], ["acme.com", ACME.lower(), "second", "", ""]],
    )
    report = import_batch(engine, path, "b1")
    assert report.duplicates_skipped == 1
    assert [row[2] for row in batch_rows(engine, "b1")] == ["first"]


def _shuffled_file_rows(count: int, seed: int) -> list[list[str]]:
    """Rows of `count` domains with 0-3 candidates each, some pairs twice, in random order."""
    rng = random.Random(seed)
    leis = [record["LEI"] for record in sample_records()[:40]]
    rows = []
    for n in range(count):
        chosen = rng.sample(leis, rng.randrange(4))
        rows += [[f"d{n}.com", lei, f"Name {lei}", "", ""] for lei in chosen] or [
            [f"d{n}.com", "", "", "", ""]
        ]
        if chosen and n % 5 == 0:
            rows.append([f"d{n}.com", chosen[0], "again", "", ""])
    rng.shuffle(rows)
    return rows


def _expected_from(rows: list[list[str]]) -> list[tuple[str, str | None]]:
    """Domains by first appearance, each with its LEIs in file order, a repeated pair once."""
    by_domain: dict[str, list[str]] = {}
    for domain, lei, *_rest in rows:
        leis = by_domain.setdefault(domain, [])
        if lei and lei not in leis:
            leis.append(lei)
    return [(d, lei) for d, leis in by_domain.items() for lei in leis or [None]]


def test_a_domain_whose_rows_are_scattered_over_the_file_is_one_domain(engine, tmp_path):
    # A file sorted by LEI, or shuffled, names most domains in several separate runs.
    rows = _shuffled_file_rows(300, seed=7)
    report = import_batch(engine, write_csv(tmp_path / "b.csv", rows), "b1")
    expected = _expected_from(rows)
    assert [row[:2] for row in batch_rows(engine, "b1")] == expected
    assert report.domains == len({domain for domain, _lei in expected}) == 300
    assert report.candidates == sum(lei is not None for _d, lei in expected)
    assert report.duplicates_skipped == sum(bool(row[1]) for row in rows) - report.candidates


def largest_ids(engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return (
            connection.execute(select(func.max(Domain.id))).scalar_one(),
            connection.execute(select(func.max(GleifCandidate.id))).scalar_one(),
        )


def test_an_import_numbers_its_rows_above_every_id_before_it(engine, tmp_path):
    # Ids of a replaced batch are not reused: a decision export or a log naming an old id
    # never points at a new row. And the dashboard's cache key moves on.
    first = write_csv(tmp_path / "a.csv", [["acme.com", ACME, "ACME", "", ""]])
    import_batch(engine, first, "b1")
    before, version_before = largest_ids(engine), read(engine, data_version)
    import_batch(engine, first, "b1", replace=True)
    after = largest_ids(engine)
    assert after[0] > before[0]
    assert after[1] > before[1]
    assert read(engine, data_version).generation > version_before.generation
    # The sequences moved on too: a row added without an id does not collide.
    with engine.begin() as connection:
        connection.execute(insert(Domain).values(domain="later.com", batch_id="b2"))
        ids = connection.execute(select(Domain.id).order_by(Domain.id)).scalars().all()
    assert len(set(ids)) == 2
    assert ids[-1] > after[0]


def test_two_imports_at_once_both_land_whole(engine, tmp_path):
    files = {
        name: write_csv(tmp_path / f"{name}.csv", _shuffled_file_rows(200, seed=seed))
        for seed, name in enumerate(("left", "right"))
    }
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(name: str) -> None:
        barrier.wait(timeout=60)
        try:
            import_batch(engine, files[name], name)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), f"import {thread.name} still running after 300 s"
    assert errors == []
    for name, path in files.items():
        rows = [line.split(",")[:2] for line in path.read_text().splitlines()[1:]]
        expected = _expected_from([[d, lei] for d, lei in rows])
        assert [row[:2] for row in batch_rows(engine, name)] == expected


def test_an_lei_with_failing_check_digits_is_imported_and_reported_invalid(engine, tmp_path):
    path = write_csv(tmp_path / "b.csv", [["annulled.dk", BAD_CHECK, "Annulled A/S", "", ""]])
    report = import_batch(engine, path, "b1")
    assert report.invalid_leis == {BAD_CHECK}
    assert "1 LEIs fail their ISO 7064 check digits" in report.summary()
    assert batch_rows(engine, "b1")[0][1] == BAD_CHECK


def test_columns_can_be_mapped_from_other_names(engine, tmp_path):
    path = write_csv(
        tmp_path / "b.csv", [["acme.com", ACME, "ACME"]], header=["Website", "LEI", "Company"]
    )
    import_batch(
        engine,
        path,
        "b1",
        column_map={"domain": "Website", "lei_code": "LEI", "legal_name": "Company"},
    )
    assert batch_rows(engine, "b1") == [("acme.com", ACME, "ACME", None, None)]


def test_gzip_files_and_a_byte_order_mark_are_read(engine, tmp_path):
    path = tmp_path / "b.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(
            "\ufeffdomain,lei_code,legal_name\r\nacme.com,".encode() + ACME.encode() + b",ACME\r\n"
        )
    import_batch(engine, path, "b1")
    assert batch_rows(engine, "b1") == [("acme.com", ACME, "ACME", None, None)]


def test_a_semicolon_separated_file_as_excel_writes_it_is_read(engine, tmp_path):
    path = tmp_path / "b.csv"
    path.write_text(f'domain;lei_code;legal_name\nacme.com;{ACME};"ACME; Inc"\n', encoding="utf-8")
    import_batch(engine, path, "b1")
    assert batch_rows(engine, "b1") == [("acme.com", ACME, "ACME; Inc", None, None)]


def test_an_existing_batch_is_refused_without_replace_and_replaced_with_it(engine, tmp_path):
    import_batch(engine, write_csv(tmp_path / "a.csv", [["acme.com", ACME, "ACME", "", ""]]), "b1")
    second = write_csv(tmp_path / "b.csv", [["zeta.de", ZETA, "Zeta", "", ""]])
    with pytest.raises(GleifDataError, match=r"already exists.*--replace"):
        import_batch(engine, second, "b1")
    report = import_batch(engine, second, "b1", replace=True)
    assert report.replaced_domains == 1
    assert batch_rows(engine, "b1") == [("zeta.de", ZETA, "Zeta", None, None)]


def test_other_batches_are_left_alone_by_a_replace(engine, tmp_path):
    import_batch(
        engine, write_csv(tmp_path / "a.csv", [["acme.com", ACME, "ACME", "", ""]]), "keep"
    )
    import_batch(engine, write_csv(tmp_path / "b.csv", [["zeta.de", ZETA, "Z", "", ""]]), "b1")
    import_batch(
        engine, write_csv(tmp_path / "c.csv", [["new.de", ZETA, "Z", "", ""]]), "b1", replace=True
    )
    assert batch_rows(engine, "keep") == [("acme.com", ACME, "ACME", None, None)]


GOOD_ROW = f"acme.com,{ACME},ACME,0.9,exact\n"
HEADER = "domain,lei_code,legal_name,match_score,match_method\n"


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (b"", 1, "empty"),
        (HEADER.encode(), None, "header but no rows"),
        (b"website,lei_code\nacme.com," + ACME.encode() + b"\n", 1, "no column 'domain'"),
        ((HEADER + GOOD_ROW + "zeta.de,ABC,Zeta,,\n").encode(), 3, "not 20 letters and digits"),
        (
            (HEADER + GOOD_ROW + f"zeta.de,{ZETA}-,Zeta,,\n").encode(),
            3,
            "not 20 letters and digits",
        ),
        ((HEADER + GOOD_ROW + f"not a domain,{ZETA},Zeta,,\n").encode(), 3, "not a domain name"),
        ((HEADER + GOOD_ROW + f",{ZETA},Zeta,,\n").encode(), 3, "domain is empty"),
        (
            (HEADER + f"zeta.de,{ZETA},Zeta,high,\n").encode(),
            2,
            "match_score 'high' is not a number",
        ),
        ((HEADER + "zeta.de,,Zeta GmbH,,\n").encode(), 2, "legal_name without an lei_code"),
        (
            (HEADER + GOOD_ROW).encode() + f"zeta.de,{ZETA},Zeta Müller,,\n".encode("cp1252"),
            3,
            "not UTF-8",
        ),
        ((HEADER + GOOD_ROW).encode() + b"zeta.de,\x00,,,\n", 3, "NUL byte"),
        ((HEADER + GOOD_ROW + f'zeta.de,{ZETA},"Zeta,,\n').encode(), 3, "unterminated quote"),
        ((HEADER + GOOD_ROW + f"zeta.de,{ZETA},Zeta,,,extra\n").encode(), 3, "6 fields"),
        ((HEADER + "zeta.de," + ZETA + ',"' + "x" * 200_000 + '",,\n').encode(), 2, "longer than"),
    ],
    ids=[
        "empty file",
        "header alone",
        "no domain column",
        "short lei",
        "lei with other characters",
        "invalid domain",
        "empty domain",
        "bad score",
        "name without lei",
        "cp1252",
        "nul byte",
        "unterminated quote",
        "too many fields",
        "huge field",
    ],
)
def test_bad_input_names_file_and_line_and_leaves_the_database_unchanged(
    engine, tmp_path, content, line, reason
):
    import_batch(
        engine, write_csv(tmp_path / "first.csv", [["keep.com", ACME, "K", "", ""]]), "keep"
    )
    before = data_rows(engine)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        import_batch(engine, path, "b1")
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert reason in message
    assert "\n" not in message
    assert data_rows(engine) == before


def test_a_bad_row_after_many_good_ones_leaves_nothing_behind(engine, tmp_path):
    rows = [[f"d{i}.com", ACME, "ACME", "", ""] for i in range(25_000)] + [
        ["bad", ACME, "", "", ""]
    ]
    path = write_csv(tmp_path / "big.csv", rows)
    with pytest.raises(InputError, match=r":25002: "):
        import_batch(engine, path, "b1")
    assert data_rows(engine) == {"domains": [], "gleif_candidates": [], "lei_records": []}


def test_a_missing_file_is_reported_by_name(engine, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        import_batch(engine, Path(tmp_path / "nope.csv"), "b1")


def test_an_unknown_mapping_target_is_refused(engine, tmp_path):
    path = write_csv(tmp_path / "b.csv", [["acme.com", ACME, "ACME", "", ""]])
    with pytest.raises(GleifDataError, match="unknown target"):
        import_batch(engine, path, "b1", column_map={"website": "domain"})


@pytest.mark.parametrize(
    "raw",
    [
        "acme.com",
        "www.acme.co.uk",
        "a-b.c-d.io",
        "x1.com",
        "1.2.3.4",
        "acme.123",
        "acme.com.",
        "-acme.com",
        "acme-.com",
        "Acme.com",
        "acme..com",
        "acme",
        "a" * 64 + ".com",
        "a" * 63 + ".com",
        ".".join(["abcdefghi"] * 26),
        "acme_x.com",
        " acme.com",
    ],
)
def test_the_shortcut_for_plain_domains_agrees_with_the_full_rules(raw):
    try:
        expected = _normalise_fully(raw)
    except ValueError:
        with pytest.raises(ValueError, match="domain"):
            normalise_domain(raw)
    else:
        assert normalise_domain(raw) == expected


def test_the_import_check_digit_test_agrees_with_the_lei_module():
    codes = [record["LEI"] for record in sample_records()]
    rng = random.Random(3)
    codes += [
        "".join(rng.choices(string.digits + string.ascii_uppercase, k=20)) for _ in range(500)
    ]
    # The ISO 7064 definition, one character at a time, against the fast translate.
    assert [int("".join(str(int(ch, 36)) for ch in code)) % 97 == 1 for code in codes] == [
        has_valid_check_digits(code) for code in codes
    ]


def test_the_unicode_and_ascii_spellings_of_a_domain_are_one_domain_found_by_either(
    engine, tmp_path
):
    from gleif_data.domain_detail import find_domain
    from gleif_data.explore import count_domains
    from gleif_data.filters import DomainFilter

    path = write_csv(
        tmp_path / "b.csv",
        [["bücher.de", ACME, "ACME", "", ""], ["xn--bcher-kva.de", ZETA, "Z", "", ""]],
    )
    import_batch(engine, path, "b1")
    assert [row[:2] for row in batch_rows(engine, "b1")] == [
        ("bücher.de", ACME),
        ("bücher.de", ZETA),
    ]
    for spelling in ("bücher.de", "xn--bcher-kva.de", "XN--BCHER-KVA.DE"):
        found = read(engine, find_domain, "b1", spelling)
        assert found is not None
        assert [c.lei_code for c in found.candidates] == [ACME, ZETA]
        assert read(engine, count_domains, "b1", DomainFilter(domain_contains=spelling)) == 1
    assert read(engine, count_domains, "b1", DomainFilter(domain_contains="xn--bcher-kva")) == 1
