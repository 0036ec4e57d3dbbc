import gzip
import shutil
import zipfile
from collections import Counter

import pytest
from sqlalchemy import select

from gleif_data.demo import GOLDEN_COPY_SAMPLE
from gleif_data.errors import InputError
from gleif_data.import_gleif import import_gleif
from gleif_data.models import LeiRecord
from tests.support import sample_records, write_csv


def records(engine):
    with engine.connect() as connection:
        return {r.lei: r for r in connection.execute(select(LeiRecord))}


def test_the_golden_copy_sample_imports_with_its_statuses(engine):
    assert import_gleif(engine, GOLDEN_COPY_SAMPLE) == 6450
    stored = records(engine)
    assert Counter(r.registration_status for r in stored.values()) == {
        "ISSUED": 3868,
        "LAPSED": 2546,
        "DUPLICATE": 24,
        "ANNULLED": 11,
        "RETIRED": 1,
    }
    assert sum(r.entity_status == "NULL" for r in stored.values()) == 37
    gti = stored["0292001130A2Q5CDA023"]
    assert (gti.legal_name, gti.legal_address_country, gti.legal_jurisdiction) == (
        "GTI SECURITIES LIMTED",
        "NG",
        "NG",
    )
    assert gti.next_renewal.strftime("%Y-%m-%d %H:%M") == "2026-03-22 16:00"


def test_names_in_every_script_arrive_unchanged(engine):
    import_gleif(engine, GOLDEN_COPY_SAMPLE)
    stored = records(engine)
    assert {r["LEI"]: r["Entity.LegalName"] for r in sample_records()} == {
        lei: r.legal_name for lei, r in stored.items()
    }


def test_a_second_import_updates_records_by_lei(engine, tmp_path):
    import_gleif(engine, GOLDEN_COPY_SAMPLE)
    header = ["LEI", "Entity.LegalName", "Registration.RegistrationStatus"]
    update = write_csv(
        tmp_path / "u.csv", [["0292001130A2Q5CDA023", "GTI SECURITIES LIMITED", "LAPSED"]], header
    )
    assert import_gleif(engine, update) == 1
    stored = records(engine)
    assert len(stored) == 6450
    assert stored["0292001130A2Q5CDA023"].registration_status == "LAPSED"
    assert stored["0292001130A2Q5CDA023"].legal_name == "GTI SECURITIES LIMITED"


@pytest.mark.parametrize("kind", ["gz", "zip"])
def test_compressed_golden_copies_are_read(engine, tmp_path, kind):
    plain = tmp_path / "golden.csv"
    with gzip.open(GOLDEN_COPY_SAMPLE, "rb") as source, plain.open("wb") as target:
        shutil.copyfileobj(source, target)
    if kind == "gz":
        path = GOLDEN_COPY_SAMPLE
    else:
        path = tmp_path / "golden.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(plain, "20260123-gleif-concatenated-file-lei2.csv")
    assert import_gleif(engine, path) == 6450


def test_a_file_without_the_lei_column_is_refused_and_nothing_changes(engine, tmp_path):
    path = write_csv(tmp_path / "x.csv", [["ACME"]], ["Entity.LegalName"])
    with pytest.raises(InputError, match=r"x.csv:1: no 'LEI' column"):
        import_gleif(engine, path)
    assert records(engine) == {}


def test_a_bad_record_names_its_line_and_imports_nothing(engine, tmp_path):
    header = ["LEI", "Entity.LegalName", "Registration.LastUpdateDate"]
    rows = [
        ["0292001130A2Q5CDA023", "GTI", "2025-11-24T11:43:28Z"],
        ["0292001130A2Q5CDA024", "X", "yesterday"],
    ]
    with pytest.raises(InputError, match=r"x.csv:3: Registration.LastUpdateDate: "):
        import_gleif(engine, write_csv(tmp_path / "x.csv", rows, header))
    assert records(engine) == {}
