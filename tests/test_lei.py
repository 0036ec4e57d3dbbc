import pytest

from gleif_data.lei import has_valid_check_digits, normalise_lei
from tests.support import sample_records

FAILING_IN_SAMPLE = {"579100EKDEGDFEHDC086", "579100KKDKKHFCBKB093"}


def test_every_real_lei_passes_its_check_digits_except_the_two_known_failures():
    failing = {r["LEI"] for r in sample_records() if not has_valid_check_digits(r["LEI"])}
    assert failing == FAILING_IN_SAMPLE


def test_a_changed_character_breaks_the_check_digits():
    assert has_valid_check_digits("0292001130A2Q5CDA023")
    assert not has_valid_check_digits("0292001130A2Q5CDA024")
    assert not has_valid_check_digits("1292001130A2Q5CDA023")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0292001130A2Q5CDA023", "0292001130A2Q5CDA023"),
        (" 0292001130a2q5cda023 ", "0292001130A2Q5CDA023"),
    ],
)
def test_an_lei_is_trimmed_and_upper_cased(raw, expected):
    assert normalise_lei(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "0292001130A2Q5CDA02", "0292001130A2Q5CDA0234", "0292001130A2Q5CDA-23", "ÄÖÜ"]
)
def test_an_lei_that_is_not_twenty_letters_and_digits_is_refused(raw):
    with pytest.raises(ValueError, match="not 20 letters and digits"):
        normalise_lei(raw)


def test_a_malformed_lei_never_passes_the_check():
    assert not has_valid_check_digits("short")
