import csv
import io
import json
import random
import re
from collections import OrderedDict

import openpyxl
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from gleif_data.errors import GleifDataError
from gleif_data.export import (
    ExportFormat,
    ExportLayout,
    ExportOptions,
    count_export_rows,
    export_bytes,
    export_file_name,
    export_query,
    preview_rows,
)
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from tests.support import ACME, ZETA, sample_records, write_csv
from tests.transactions import read


def export_text(engine, batch="b1", **options):
    return export_bytes(engine, batch, ExportOptions(**options)).decode("utf-8")


def parsed(csv_text):
    return list(csv.reader(io.StringIO(csv_text)))


@pytest.fixture
def small_batch(engine, tmp_path):
    rows = [
        ["acme.com", ACME, 'ACME; "Inc", Holdings', "0.9", "exact"],
        ["acme.com", ZETA, "Zeta GmbH", "0.4", "fuzzy"],
        ["empty.org", "", "", "", ""],
        ["zeta.de", ZETA, "Zeta GmbH", "1", "exact"],
    ]
    import_batch(engine, write_csv(tmp_path / "small.csv", rows), "b1")
    return engine


def test_the_domain_layout_is_exactly_the_legacy_columns(small_batch):
    assert export_text(small_batch) == (
        "domain,gleif_candidate_count,all_lei_codes,all_legal_names\n"
        f'acme.com,2,{ACME}; {ZETA},"ACME; ""Inc"", Holdings; Zeta GmbH"\n'
        "empty.org,0,,\n"
        f"zeta.de,1,{ZETA},Zeta GmbH\n"
    )


def test_the_candidate_layout_has_one_row_per_candidate(small_batch):
    assert export_text(small_batch, layout=ExportLayout.CANDIDATE) == (
        "domain,lei_code,legal_name,match_score,match_method\n"
        f'acme.com,{ACME},"ACME; ""Inc"", Holdings",0.9,exact\n'
        f"acme.com,{ZETA},Zeta GmbH,0.4,fuzzy\n"
        "empty.org,,,,\n"
        f"zeta.de,{ZETA},Zeta GmbH,1.0,exact\n"
    )


def test_the_export_equals_an_independent_aggregation_of_a_real_gleif_batch(engine, tmp_path):
    records = sample_records()
    rng = random.Random(7)
    tricky = [r for r in records if any(ch in r["Entity.LegalName"] for ch in ';",&')]
    scripts = [r for r in records if not r["Entity.LegalName"].isascii()]
    pool = tricky[:40] + scripts[:80] + rng.sample(records, 200)
    rows = []
    for index in range(600):
        domain = f"site{index}.example.com"
        chosen = rng.sample(pool, rng.choice([0, 0, 1, 1, 1, 2, 3, 7]))
        rows += [[domain, r["LEI"], r["Entity.LegalName"], "", ""] for r in chosen] or [
            [domain, "", "", "", ""]
        ]
    rng.shuffle(rows)
    import_batch(engine, write_csv(tmp_path / "real.csv", rows), "real")

    expected: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
    for domain, lei, name, _score, _method in rows:
        expected.setdefault(domain, [])
        if lei and (lei, name) not in expected[domain]:
            expected[domain].append((lei, name))
    exported = parsed(export_text(engine, "real", formula_guard=False))
    assert exported[0] == ["domain", "gleif_candidate_count", "all_lei_codes", "all_legal_names"]
    assert exported[1:] == [
        [domain, str(len(pairs)), "; ".join(p[0] for p in pairs), "; ".join(p[1] for p in pairs)]
        for domain, pairs in expected.items()
    ]
    assert any(row[1] == "0" for row in exported[1:])
    assert any(not row[3].isascii() for row in exported[1:])


def test_codes_and_names_stay_aligned_when_a_legacy_name_is_missing(engine):
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (1, 'a.com', 'b1')")
        )
        connection.execute(
            text(
                "INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name) VALUES "
                f"(20, 1, '{ZETA}', 'Second'), (10, 1, '{ACME}', NULL)"
            )
        )
    assert parsed(export_text(engine))[1] == ["a.com", "2", f"{ACME}; {ZETA}", "; Second"]


@pytest.mark.parametrize(
    ("filters", "expected_domains"),
    [
        (DomainFilter(), ["a_b.com", "axb.com", "pure.com", "obrien.ie", "unlu.com.tr"]),
        (DomainFilter(domain_contains="A_B"), ["a_b.com"]),
        (DomainFilter(domain_contains="%"), []),
        (DomainFilter(name_contains="100%"), ["pure.com"]),
        (DomainFilter(name_contains="o'b"), ["unlu.com.tr"]),
        (DomainFilter(name_contains="ünlü portföy"), ["unlu.com.tr"]),
        (DomainFilter(name_contains="A_B"), ["a_b.com"]),
        (DomainFilter(lei_contains="q5cda"), ["axb.com", "unlu.com.tr"]),
        (DomainFilter(min_candidates=2), ["unlu.com.tr"]),
        (DomainFilter(max_candidates=0), ["obrien.ie"]),
        (DomainFilter(min_candidates=1, max_candidates=1), ["a_b.com", "axb.com", "pure.com"]),
        (DomainFilter(domain_contains=".com", name_contains="holdings"), ["a_b.com", "axb.com"]),
    ],
)
def test_filters_select_domains_with_literal_wildcards_and_any_case(
    engine, tmp_path, filters, expected_domains
):
    rows = [
        ["a_b.com", ACME, "A_B Holdings", "", ""],
        ["axb.com", ZETA, "AXB Holdings", "", ""],
        ["pure.com", ACME, "100% Pure Ltd", "", ""],
        ["obrien.ie", "", "", "", ""],
        ["unlu.com.tr", ACME, "ÜNLÜ PORTFÖY A.Ş.", "", ""],
        ["unlu.com.tr", ZETA, "O'Brien Trading", "", ""],
    ]
    import_batch(engine, write_csv(tmp_path / "f.csv", rows), "b1")
    exported = parsed(export_text(engine, filters=filters))
    assert [row[0] for row in exported[1:]] == expected_domains
    assert read(engine, count_export_rows, "b1", ExportOptions(filters=filters)) == len(
        expected_domains
    )


def test_a_selected_domain_lists_all_its_candidates(engine, tmp_path):
    rows = [["a.com", ACME, "Acme", "", ""], ["a.com", ZETA, "Zeta", "", ""]]
    import_batch(engine, write_csv(tmp_path / "f.csv", rows), "b1")
    exported = parsed(export_text(engine, filters=DomainFilter(name_contains="zeta")))
    assert exported[1] == ["a.com", "2", f"{ACME}; {ZETA}", "Acme; Zeta"]


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.fixture
def formula_batch(engine, tmp_path):
    rows = [[f"f{i}.com", ACME, name, "", ""] for i, name in enumerate(FORMULAS)]
    rows.append(["safe.com", ZETA, "a=b", "", ""])
    import_batch(engine, write_csv(tmp_path / "f.csv", rows), "b1")
    return engine


@pytest.mark.parametrize("layout", list(ExportLayout))
def test_the_formula_guard_neutralises_every_formula_cell_in_csv(formula_batch, layout):
    column = 3 if layout is ExportLayout.DOMAIN else 2
    names = [row[column] for row in parsed(export_text(formula_batch, layout=layout))[1:]]
    assert names == ["'" + f for f in FORMULAS] + ["a=b"]
    raw = parsed(export_text(formula_batch, layout=layout, formula_guard=False))[1:]
    assert [row[column] for row in raw] == [*FORMULAS, "a=b"]


def test_xlsx_cells_are_strings_with_the_guard_and_never_formulas(formula_batch):
    data = export_bytes(
        formula_batch, "b1", ExportOptions(format=ExportFormat.XLSX, formula_guard=False)
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [_ooxml_unescape(row[3]) for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert cells == [*FORMULAS, "a=b"]
    types = {row[3].data_type for row in sheet.iter_rows(min_row=2)}
    assert types == {"s"}
    guarded = export_bytes(formula_batch, "b1", ExportOptions(format=ExportFormat.XLSX))
    sheet = openpyxl.load_workbook(io.BytesIO(guarded)).active
    first = next(sheet.iter_rows(min_row=2, values_only=True))
    assert first[3] == "'" + FORMULAS[0]


def _ooxml_unescape(value):
    """Excel decodes control characters that XLSX stores as _xHHHH_; openpyxl leaves them."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)


@pytest.mark.parametrize("layout", list(ExportLayout))
def test_every_format_carries_the_same_rows(small_batch, layout):
    def as_text(values):
        # Numbers compare by value: XLSX and Parquet keep 1.0 as a number, CSV writes "1.0".
        return [_number_or_text(v) for v in values]

    csv_rows = parsed(export_text(small_batch, layout=layout, formula_guard=False))
    header, body = csv_rows[0], [as_text(row) for row in csv_rows[1:]]

    xlsx = export_bytes(small_batch, "b1", ExportOptions(format=ExportFormat.XLSX, layout=layout))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert [as_text(r) for r in sheet.iter_rows(values_only=True)] == [header, *body]

    parquet = export_bytes(
        small_batch, "b1", ExportOptions(format=ExportFormat.PARQUET, layout=layout)
    )
    table = pq.read_table(io.BytesIO(parquet))
    assert table.column_names == header
    assert [as_text(r.values()) for r in table.to_pylist()] == body

    data = json.loads(
        export_bytes(small_batch, "b1", ExportOptions(format=ExportFormat.JSON, layout=layout))
    )
    assert [list(r) for r in data] == [header] * len(body)
    assert [as_text(r.values()) for r in data] == body


def _number_or_text(value):
    if value is None:
        return ""
    try:
        return float(value)
    except ValueError:
        return str(value)


def test_an_empty_selection_still_writes_a_valid_file_in_every_format(small_batch):
    options = {"filters": DomainFilter(domain_contains="nothing-matches")}
    assert (
        export_text(small_batch, **options)
        == "domain,gleif_candidate_count,all_lei_codes,all_legal_names\n"
    )
    assert (
        json.loads(
            export_bytes(small_batch, "b1", ExportOptions(format=ExportFormat.JSON, **options))
        )
        == []
    )
    parquet = export_bytes(small_batch, "b1", ExportOptions(format=ExportFormat.PARQUET, **options))
    assert pq.read_table(io.BytesIO(parquet)).num_rows == 0


def test_the_candidate_layout_reimports_to_the_same_batch(small_batch, tmp_path):
    candidate_csv = tmp_path / "candidates.csv"
    candidate_csv.write_bytes(
        export_bytes(
            small_batch, "b1", ExportOptions(layout=ExportLayout.CANDIDATE, formula_guard=False)
        )
    )
    import_batch(small_batch, candidate_csv, "copy")
    assert export_text(small_batch, "copy") == export_text(small_batch, "b1")


def test_an_unknown_batch_is_named_with_the_batches_there_are(small_batch):
    with pytest.raises(GleifDataError, match=r"no batch named 'nope' \(batches: b1\)"):
        export_text(small_batch, "nope")


def test_the_file_name_carries_batch_and_time():
    from datetime import datetime

    stamp = datetime(2026, 11, 26, 9, 5)
    assert (
        export_file_name("Q4 batch/1", ExportFormat.XLSX, stamp)
        == "gleif-export_Q4_batch_1_20261126-0905.xlsx"
    )


@pytest.mark.parametrize("layout", list(ExportLayout))
@pytest.mark.parametrize(
    "filters",
    [
        DomainFilter(),
        DomainFilter(domain_contains="7"),
        DomainFilter(name_contains="zeta"),
        DomainFilter(min_candidates=2),
        DomainFilter(max_candidates=0),
        DomainFilter(min_candidates=1, max_candidates=1, domain_contains="1"),
    ],
)
def test_a_preview_is_the_first_rows_of_the_export(engine, tmp_path, layout, filters):
    rows = []
    for index in range(40):
        chosen = [(ACME, "Acme; Inc"), (ZETA, "Zeta GmbH"), (ACME, "=Acme")][: index % 4]
        rows += [[f"d{index}.com", code, name, "0.5", "exact"] for code, name in chosen] or [
            [f"d{index}.com", "", "", "", ""]
        ]
    import_batch(engine, write_csv(tmp_path / "other.csv", rows[:30]), "b0")
    import_batch(engine, write_csv(tmp_path / "p.csv", rows), "b1")
    options = ExportOptions(layout=layout, filters=filters)
    with engine.connect() as connection:
        everything = connection.execute(export_query(engine.dialect.name, "b1", options)).all()
    assert everything
    assert read(engine, preview_rows, "b1", options, limit=7) == [
        tuple(row) for row in everything[:7]
    ]


# Values a legacy database may hold that CSV text could blur: NULL beside an empty string and
# the COPY NULL marker as text, a line break, quotes, a formula, a non-Latin script.
AWKWARD_NAMES = [None, "", "\\N", "Line\nbreak", '"Quoted", Inc', "=1+1", "Ελληνική Α.Ε."]


@pytest.mark.parametrize("layout", list(ExportLayout))
@pytest.mark.parametrize("with_qa", [False, True])
def test_parquet_holds_exactly_the_rows_of_the_export_query(engine, layout, with_qa):
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (1, 'a.com', 'b1'),"
                 " (2, NULL, 'b1'), (3, 'c.com', 'b1')")
        )  # fmt: skip
        for i, name in enumerate(AWKWARD_NAMES):
            connection.execute(
                text(
                    "INSERT INTO gleif_candidates (id, domain_id, lei_code, legal_name,"
                    " match_score, name_score) VALUES (:id, :domain_id, :lei, :name, :score, :fit)"
                ),
                {
                    "id": i + 1,
                    "domain_id": 1 + i % 2,
                    "lei": None if i == 0 else f"{ACME[:-2]}{i:02d}",
                    "name": name,
                    "score": None if i % 3 == 0 else 1 / (i + 2),
                    "fit": None if i % 2 else i * 10,
                },
            )
    options = ExportOptions(format=ExportFormat.PARQUET, layout=layout, with_qa=with_qa)
    table = pq.read_table(io.BytesIO(export_bytes(engine, "b1", options)))
    with engine.connect() as connection:
        expected = connection.execute(export_query(engine.dialect.name, "b1", options)).all()
    assert table.column_names == list(options.columns)
    assert table.to_pylist() == [dict(zip(options.columns, row, strict=True)) for row in expected]
    assert len(expected) == (3 if layout is ExportLayout.DOMAIN else len(AWKWARD_NAMES) + 1)


def test_a_domain_without_a_name_exports_as_an_empty_field(engine):
    # Legacy rows may have no domain name; COPY would write its NULL marker, \N.
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO domains (id, domain, batch_id) VALUES (1, NULL, 'b1'), (2, 'a.com', 'b1')")
        )  # fmt: skip
    assert export_text(engine) == (
        "domain,gleif_candidate_count,all_lei_codes,all_legal_names\n,0,,\na.com,0,,\n"
    )


NULL_MARKER_ROWS = [
    ["null.com", ACME, "\\N", "", ""],
    ["lines.com", ZETA, "Two\nLines\nLtd", "", ""],
    ["none.org", "", "", "", ""],
]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (
            ExportLayout.DOMAIN,
            "domain,gleif_candidate_count,all_lei_codes,all_legal_names\n"
            f'null.com,1,{ACME},"\\N"\n'
            f'lines.com,1,{ZETA},"Two\nLines\nLtd"\n'
            "none.org,0,,\n",
        ),
        (
            ExportLayout.CANDIDATE,
            "domain,lei_code,legal_name,match_score,match_method\n"
            f'null.com,{ACME},"\\N",,\n'
            f'lines.com,{ZETA},"Two\nLines\nLtd",,\n'
            "none.org,,,,\n",
        ),
    ],
)
def test_a_legal_name_that_is_copys_null_marker_exports_the_same_bytes_on_both_databases(
    engine, tmp_path, layout, expected
):
    # COPY quotes a text equal to its NULL marker \N; the Python writer does the same.
    import_batch(engine, write_csv(tmp_path / "n.csv", NULL_MARKER_ROWS), "b1")
    assert export_text(engine, layout=layout) == expected
    parquet = export_bytes(engine, "b1", ExportOptions(layout=layout, format=ExportFormat.PARQUET))
    names = pq.read_table(io.BytesIO(parquet)).column(
        "all_legal_names" if layout is ExportLayout.DOMAIN else "legal_name"
    )
    assert names.to_pylist()[0] == "\\N"


@pytest.mark.parametrize("layout", list(ExportLayout))
@pytest.mark.parametrize("export_format", [ExportFormat.CSV, ExportFormat.PARQUET])
def test_rows_written_counts_rows_not_newlines_inside_names(
    engine, tmp_path, layout, export_format
):
    from gleif_data.export import write_export

    import_batch(engine, write_csv(tmp_path / "n.csv", NULL_MARKER_ROWS), "b1")
    steps = []
    options = ExportOptions(layout=layout, format=export_format)
    assert write_export(engine, "b1", io.BytesIO(), options, steps.append) == 3
    assert sum(steps) == 3


def test_the_cli_says_how_many_rows_it_wrote_not_how_many_lines(
    engine, tmp_path, monkeypatch, capsys
):
    from gleif_data.cli import main

    import_batch(engine, write_csv(tmp_path / "n.csv", NULL_MARKER_ROWS), "b1")
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert main(["export", "--batch", "b1", "--out", str(tmp_path / "out.csv")]) == 0
    assert "3 rows written" in capsys.readouterr().err
