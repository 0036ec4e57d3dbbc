"""The filter object's own rules: spaces around text filters, a filter of only spaces."""

import csv
import io

import pytest

from gleif_data.cli import main
from gleif_data.explore import count_domains
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.fields import trimmed_needle
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from tests.support import write_csv
from tests.transactions import read

ROWS = [
    ["spaced.com", "5493001KJTIIGC8Y1R12", "First Bank Ltd", "", ""],
    ["joined.com", "0292001130A2Q5CDA023", "BANKHAUS", "", ""],
    ["other.com", "579100EKDEGDFEHDC086", "Acme", "", ""],
]


@pytest.mark.parametrize(
    ("typed", "needle"),
    [
        ("bank", "bank"),
        ("   bank   ", "bank"),
        ("\tbank\n", "bank"),
        ("first bank", "first bank"),
        (" ", " "),
        ("    ", " "),
        (" \t ", " "),
        ("", None),
        ("\t", None),
    ],
)
def test_text_filters_lose_surrounding_blanks_and_only_spaces_mean_a_space(typed, needle):
    assert trimmed_needle(typed) == needle
    assert DomainFilter(name_contains=typed).name_contains == needle


def _domains(csv_bytes: bytes) -> list[str]:
    return [row[0] for row in list(csv.reader(io.StringIO(csv_bytes.decode())))[1:]]


@pytest.mark.parametrize(
    ("typed", "domains"),
    [
        (" ", ["spaced.com"]),
        ("   ", ["spaced.com"]),
        ("   bank   ", ["spaced.com", "joined.com"]),
        ("", ["spaced.com", "joined.com", "other.com"]),
    ],
)
def test_a_space_filter_finds_names_with_a_space_on_both_databases(
    engine, tmp_path, monkeypatch, typed, domains
):
    import_batch(engine, write_csv(tmp_path / "b.csv", ROWS), "b")
    filters = DomainFilter(name_contains=typed)
    assert _domains(export_bytes(engine, "b", ExportOptions(filters=filters))) == domains
    assert read(engine, count_domains, "b", filters) == len(domains)
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    out = tmp_path / "out.csv"
    assert main(["export", "--batch", "b", "--out", str(out), f"--name-contains={typed}"]) == 0
    assert _domains(out.read_bytes()) == domains


def test_a_legacy_domain_stored_in_ace_form_is_found_by_either_spelling(engine):
    from sqlalchemy import insert

    from gleif_data.models import Domain

    # The legacy matching process may have written the ACE (xn--) form; imports store Unicode.
    with engine.begin() as connection:
        connection.execute(
            insert(Domain),
            [
                {"id": 1, "domain": "xn--bcher-kva.de", "batch_id": "legacy"},
                {"id": 2, "domain": "bücher.at", "batch_id": "legacy"},
            ],
        )
    # An ACE filter finds both spellings; a Unicode one finds the Unicode rows only.
    for typed, expected in (("xn--bcher-kva", 2), ("bücher", 1), ("xn--bcher", 1), ("cher", 2)):
        assert (
            read(engine, count_domains, "legacy", DomainFilter(domain_contains=typed)) == expected
        )
