"""Every text filter, fuzzed: SQL metacharacters, LIKE wildcards, quotes, backslashes, Unicode.

Through the library, the CLI, the HTTP route and the dashboard, a filter never raises and
selects exactly the domains that a plain-Python substring test selects over the same rows.
"""

import csv
import io

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gleif_data.cli import main
from gleif_data.explore import count_domains
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.http_export import export_routes
from gleif_data.import_batch import import_batch
from gleif_data.text_fold import fold_text
from tests.support import app, sample_records, url_of, write_csv
from tests.transactions import read

METACHARACTERS = [
    *"%_'\"\\;-*/()[]^$.|?+{}#=@\t\r\n`~!&:,<> ",
    "--",
    "/*",
    "*/",
    "' OR '1'='1",
    "'; DROP TABLE domains; --",
    "\\%",
    "\\_",
    "%%",
    "E'\\x41'",
    "$$",
]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _names() -> list[str]:
    names = [r["Entity.LegalName"] for r in sample_records()]
    chosen = [n for n in names if not n.isascii()][:50]
    chosen += [n for n in names if any(ch in n for ch in "%_'\"\\;&")][:15]
    chosen += [
        "100% Pure_Ltd",
        "O'Brien \\ Co",
        'Quote "Ltd"',
        "a%b_c",
        "=SUM(A1)",
        "LIKE '%' ESCAPE '\\'",
        # The sample has capital sigma only: final sigma, σ and dotted capital I from here.
        "Ελληνικός Οργανισμός Τουρισμού",
        "ΑΝΩΝΥΜΟΣ ΕΤΑΙΡΕΙΑ Σ.Α.",
        "TÜRKİYE İŞ BANKASI A.Ş.",
        "İstanbul Ticaret",
    ]
    return chosen


NAMES = _names()
LEIS = ["5493001KJTIIGC8Y1R12", "0292001130A2Q5CDA023", "579100EKDEGDFEHDC086"]
ALPHABET = sorted({ch for name in NAMES for ch in name}) + list("%_'\"\\")


def _rows() -> list[list[str]]:
    rows = []
    for index, name in enumerate(NAMES):
        domain = f"d{index}-{'x_y' if index % 3 == 0 else 'xy'}.com"
        rows.append([domain, LEIS[index % 3], name, "", ""])
        if index % 4 == 0:
            rows.append([domain, LEIS[(index + 1) % 3], NAMES[-index - 1], "", ""])
    rows.append(["no-candidates.org", "", "", "", ""])
    return rows


ROWS = _rows()


def expected_domains(field: str, needle: str) -> list[str]:
    """The plain-Python filter: substring under fold_text, every character literal."""
    needle = needle.strip() or (" " if " " in needle else "")
    if not needle:
        return list(dict.fromkeys(row[0] for row in ROWS))  # an empty box filters nothing
    column = {"domain_contains": 0, "lei_contains": 1, "name_contains": 2}[field]
    folded = fold_text(needle)
    return list(dict.fromkeys(row[0] for row in ROWS if folded in fold_text(row[column])))


needles = st.one_of(
    st.sampled_from(METACHARACTERS),
    st.lists(st.sampled_from(ALPHABET + METACHARACTERS), max_size=8).map("".join),
    st.sampled_from(NAMES).flatmap(
        lambda name: st.tuples(st.integers(0, len(name)), st.integers(1, 8), st.booleans()).map(
            lambda t: _cut(name, *t)
        )
    ),
)
fields = st.sampled_from(["domain_contains", "lei_contains", "name_contains"])


def _cut(name: str, start: int, length: int, upper: bool) -> str:
    piece = name[start : start + length]
    return piece.upper() if upper else piece.lower()


def domains_of(csv_bytes: bytes) -> list[str]:
    return [row[0] for row in list(csv.reader(io.StringIO(csv_bytes.decode())))[1:]]


@pytest.fixture
def batch(engine, tmp_path):
    import_batch(engine, write_csv(tmp_path / "fuzz.csv", ROWS), "fuzz")
    return engine


def test_the_fuzz_data_has_hits_and_every_script(batch):
    assert expected_domains("name_contains", "%") != []
    assert expected_domains("name_contains", "'") != []
    assert len({ch for name in NAMES for ch in name if not ch.isascii()}) > 100


def test_library_text_filters_equal_a_python_filter(batch):
    @FUZZ
    @given(field=fields, needle=needles)
    # Random needles seldom hold these letters; the two folds used to differ on them.
    @example(field="name_contains", needle="ος")
    @example(field="name_contains", needle="iş")
    def check(field, needle):
        filters = DomainFilter(**{field: needle})
        exported = export_bytes(batch, "fuzz", ExportOptions(filters=filters, formula_guard=False))
        expected = expected_domains(field, needle)
        assert domains_of(exported) == expected
        assert read(batch, count_domains, "fuzz", filters) == len(expected)

    check()


def test_cli_text_filters_equal_a_python_filter(batch, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", batch.url.render_as_string(hide_password=False))
    out = tmp_path / "out.csv"

    @settings(FUZZ, max_examples=15)
    @given(field=fields, needle=needles)
    def check(field, needle):
        option = "--" + field.replace("_", "-")
        code = main(["export", "--batch", "fuzz", "--out", str(out), f"{option}={needle}"])
        assert code == 0, capsys.readouterr().err
        assert domains_of(out.read_bytes()) == expected_domains(field, needle)

    check()


def test_route_text_filters_equal_a_python_filter(batch):
    http = TestClient(Starlette(routes=export_routes(lambda: batch, lambda: None)))

    @settings(FUZZ, max_examples=20)
    @given(field=fields, needle=needles)
    def check(field, needle):
        response = http.get("/api/export/fuzz", params={field: needle, "formula_guard": "false"})
        assert response.status_code == 200, response.text
        assert domains_of(response.content) == expected_domains(field, needle)

    check()


def test_dashboard_text_filters_equal_a_python_filter(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/explore.py")
    total = len(expected_domains("domain_contains", ""))

    @settings(FUZZ, max_examples=8)
    @given(field=fields, needle=needles.filter(str.strip))
    def check(field, needle):
        for other in ("domain_contains", "lei_contains", "name_contains"):
            at.text_input(key=other).set_value(needle if other == field else "")
        at.run()
        assert not at.exception
        expected = expected_domains(field, needle)
        if expected:
            caption = next(c.value for c in at.caption if "domains match" in c.value)
            assert caption.startswith(f"{len(expected):,} of {total:,} domains match")
            assert at.dataframe[0].value["domain"].tolist() == expected[:50]
        else:
            assert at.info[0].value.startswith("No domain of this batch matches the filters")

    check()


@pytest.mark.parametrize(
    ("name", "typed"),
    [("ΑΝΩΝΥΜΟΣ ΕΤΑΙΡΕΙΑ", "ανωνυμος"), ("TİCARET A.Ş.", "ticaret")],
    ids=["greek final sigma", "turkish dotted capital i"],
)
def test_text_filters_fold_greek_and_turkish_letters_alike_on_both_databases(
    engine, tmp_path, name, typed
):
    rows = [["greek-or-turkish.com", LEIS[0], name, "", ""], ["other.com", LEIS[1], "X", "", ""]]
    import_batch(engine, write_csv(tmp_path / "f.csv", rows), "b1")
    assert read(engine, count_domains, "b1", DomainFilter(name_contains=typed)) == 1
    assert read(engine, count_domains, "b1", DomainFilter(name_contains=typed.upper())) == 1


@pytest.mark.parametrize("field", ["domain_contains", "lei_contains", "name_contains"])
def test_a_nul_character_in_a_filter_matches_nothing_and_raises_nothing(batch, request, field):
    # PostgreSQL text cannot hold NUL, so no stored value contains one; the driver refuses
    # to send it as a parameter.
    filters = DomainFilter(**{field: "a\x00"})
    assert read(batch, count_domains, "fuzz", filters) == 0
    http = TestClient(Starlette(routes=export_routes(lambda: batch, lambda: None)))
    response = http.get("/api/export/fuzz", params={field: "a\x00"})
    assert response.status_code == 200
    assert domains_of(response.content) == []
