"""Export safety: the formula guard on every cell, XLSX limits, and names in every script."""

import csv
import io
import json
import re

import openpyxl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gleif_data import export_writers
from gleif_data.cli import main
from gleif_data.export import (
    FORMULA_PREFIXES,
    ExportFormat,
    ExportLayout,
    ExportOptions,
    export_bytes,
)
from gleif_data.import_batch import import_batch
from tests.support import ACME, ZETA, sample_records, write_csv

texts = st.tuples(
    st.sampled_from([*FORMULA_PREFIXES, "", " ", "'", "=="]),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
).map("".join)


def _unescape(value):
    """XLSX stores control characters as _xHHHH_; a spreadsheet shows the character."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def _runs_as_formula(value) -> bool:
    return isinstance(value, str) and value[:1] in FORMULA_PREFIXES


def csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode())) for cell in row]


def xlsx_cells(data: bytes) -> list[openpyxl.cell.Cell]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def test_the_formula_guard_holds_for_every_cell_of_csv_and_xlsx_in_both_layouts(engine, tmp_path):
    count = iter(range(1_000_000))

    @settings(
        max_examples=6,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(names=st.lists(texts, min_size=1, max_size=12), methods=st.lists(texts, max_size=12))
    def check(names, methods):
        batch = f"f{next(count)}"
        rows = [
            [f"d{i}.com", (ACME, ZETA)[i % 2], name, "", methods[i] if i < len(methods) else ""]
            for i, name in enumerate(names)
        ]
        import_batch(engine, write_csv(tmp_path / f"{batch}.csv", rows), batch)
        for layout in ExportLayout:
            data = export_bytes(engine, batch, ExportOptions(layout=layout))
            assert not [cell for cell in csv_cells(data) if _runs_as_formula(cell)]
            options = ExportOptions(format=ExportFormat.XLSX, layout=layout)
            for cell in xlsx_cells(export_bytes(engine, batch, options)):
                assert cell.data_type != "f"
                assert not _runs_as_formula(
                    _unescape(cell.value) if cell.data_type == "s" else None
                )

    check()


@pytest.fixture
def long_names(engine, tmp_path):
    """One name that alone, and three that together, pass the 32,767 characters of a cell."""
    rows = [["alone.com", ACME, "A" * 40_000, "", ""]]
    rows += [
        ["joined.com", code, "B" * 12_000, "", ""] for code in (ACME, ZETA, "579100EKDEGDFEHDC086")
    ]
    import_batch(engine, write_csv(tmp_path / "long.csv", rows), "long")
    return engine


@pytest.mark.parametrize(
    ("layout", "domain", "column", "size"),
    [
        ("domain", "alone", "all_legal_names", "40,000"),
        ("candidate", "alone", "legal_name", "40,000"),
        ("domain", "joined", "all_legal_names", "36,004"),
    ],
)
def test_a_cell_over_the_xlsx_limit_is_refused_with_a_clear_message_and_no_file(
    long_names, tmp_path, monkeypatch, capsys, layout, domain, column, size
):
    monkeypatch.setenv("DATABASE_URL", long_names.url.render_as_string(hide_password=False))
    out = tmp_path / "out" / "long.xlsx"
    code = main(["export", "--batch", "long", "--format", "xlsx", "--layout", layout,
                 "--domain-contains", domain, "--out", str(out)])  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert lines == [
        f"error: row 1: column {column!r} has {size} characters, more than the 32,767 an XLSX "
        "cell holds; export CSV or Parquet"
    ]
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_more_rows_than_a_sheet_holds_are_refused_with_a_clear_message_and_no_file(
    engine, tmp_path, monkeypatch, capsys
):
    assert export_writers.XLSX_MAX_ROWS == 1_048_576  # Excel's limit, header included
    rows = [[f"d{i}.com", ACME, "A", "", ""] for i in range(10)]
    import_batch(engine, write_csv(tmp_path / "rows.csv", rows), "rows")
    # A sheet of 1,048,576 rows takes a minute to write; the check is the same at 10.
    monkeypatch.setattr(export_writers, "XLSX_MAX_ROWS", 10)
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    out = tmp_path / "out" / "rows.xlsx"
    code = main(["export", "--batch", "rows", "--format", "xlsx", "--out", str(out)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert lines == [
        "error: more than 9 rows do not fit one XLSX sheet; narrow the filters or export CSV "
        "or Parquet"
    ]
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    monkeypatch.setattr(export_writers, "XLSX_MAX_ROWS", 11)
    assert main(["export", "--batch", "rows", "--format", "xlsx", "--out", str(out)]) == 0
    assert len(xlsx_cells(out.read_bytes())) == 11 * 4


def test_names_in_every_script_survive_import_and_export_byte_for_byte(engine, tmp_path):
    # Every record whose name is not plain ASCII, and those with quotes or separators.
    records = [
        r for r in sample_records()
        if not r["Entity.LegalName"].isascii() or any(ch in r["Entity.LegalName"] for ch in ';"\'')
    ]  # fmt: skip
    names = [r["Entity.LegalName"] for r in records]
    assert len({ch for name in names for ch in name if not ch.isascii()}) > 200
    rows = [
        [f"e{i}.example.com", r["LEI"], r["Entity.LegalName"], "", ""]
        for i, r in enumerate(records)
    ]
    import_batch(engine, write_csv(tmp_path / "all.csv", rows), "scripts")

    def exported(export_format):
        options = ExportOptions(
            format=export_format, layout=ExportLayout.CANDIDATE, formula_guard=False
        )
        return export_bytes(engine, "scripts", options)

    from_csv = [row[2] for row in csv.reader(io.StringIO(exported(ExportFormat.CSV).decode()))][1:]
    sheet = openpyxl.load_workbook(io.BytesIO(exported(ExportFormat.XLSX))).active
    from_xlsx = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    from_parquet = pq.read_table(io.BytesIO(exported(ExportFormat.PARQUET))).column("legal_name")
    from_json = [row["legal_name"] for row in json.loads(exported(ExportFormat.JSON))]
    assert from_csv == names
    assert from_xlsx == names
    assert from_parquet.to_pylist() == names
    assert from_json == names
    encoded = [name.encode() for name in names]
    assert [name.encode() for name in from_json] == encoded
