"""QA columns in exports: after the legacy ones, the same from the library, CLI and route."""

import io

import pyarrow.parquet as pq
import pytest

from gleif_data.decisions import record_decision
from gleif_data.export import ExportFormat, ExportLayout, ExportOptions, export_bytes
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from gleif_data.names import name_score
from gleif_data.qa_state import Action
from tests.support import BAD_CHECK, BRITISH, GERMAN, write_csv, write_gleif_subset
from tests.transactions import write


@pytest.fixture
def decided(engine, tmp_path):
    rows = [
        ["microfinance.de", GERMAN, "Access Microfinance Holding AG", "0.9", "exact"],
        ["matthey.co.uk", BRITISH, "JOHNSON MATTHEY PLC", "", ""],
        ["matthey.co.uk", BAD_CHECK, "=BANCO SAENZ S A", "", ""],
        ["nothing.org", "", "", "", ""],
    ]
    import_batch(engine, write_csv(tmp_path / "b.csv", rows), "b1")
    import_gleif(engine, write_gleif_subset(tmp_path / "g.csv", [GERMAN, BRITISH, BAD_CHECK]))
    write(
        engine,
        record_decision,
        batch="b1",
        domain="matthey.co.uk",
        action=Action.REJECT,
        decided_by="ana",
        lei_code=BAD_CHECK,
    )
    write(
        engine,
        record_decision,
        batch="b1",
        domain="matthey.co.uk",
        action=Action.ACCEPT,
        decided_by="ana",
        lei_code=BRITISH,
    )
    write(
        engine,
        record_decision,
        batch="b1",
        domain="nothing.org",
        action=Action.NO_MATCH,
        decided_by="bo",
    )
    return engine


def test_the_default_export_keeps_exactly_the_legacy_columns(decided):
    header = export_bytes(decided, "b1", ExportOptions()).decode().splitlines()[0]
    assert header == "domain,gleif_candidate_count,all_lei_codes,all_legal_names"


def test_domain_layout_appends_qa_status_accepted_candidate_and_flags(decided):
    text = export_bytes(decided, "b1", ExportOptions(with_qa=True)).decode()
    assert text == (
        "domain,gleif_candidate_count,all_lei_codes,all_legal_names,"
        "qa_status,accepted_lei,accepted_legal_name,flags\n"
        f"microfinance.de,1,{GERMAN},Access Microfinance Holding AG,undecided,,,\n"
        f"matthey.co.uk,2,{BRITISH}; {BAD_CHECK},JOHNSON MATTHEY PLC; =BANCO SAENZ S A,"
        f"accepted,{BRITISH},JOHNSON MATTHEY PLC,"
        "invalid_lei; not_issued; inactive_entity; country_mismatch; ambiguous\n"
        "nothing.org,0,,,no match,,,no_candidate\n"
    )


def test_candidate_layout_appends_flags_name_score_and_decision(decided):
    text = export_bytes(
        decided, "b1", ExportOptions(layout=ExportLayout.CANDIDATE, with_qa=True)
    ).decode()
    german = name_score("microfinance.de", "Access Microfinance Holding AG")
    bad = name_score("matthey.co.uk", "=BANCO SAENZ S A")
    matthey = name_score("matthey.co.uk", "JOHNSON MATTHEY PLC")
    assert text == (
        "domain,lei_code,legal_name,match_score,match_method,flags,name_score,decision\n"
        f"microfinance.de,{GERMAN},Access Microfinance Holding AG,0.9,exact,,{german},\n"
        f"matthey.co.uk,{BRITISH},JOHNSON MATTHEY PLC,,,,{matthey},accepted\n"
        f"matthey.co.uk,{BAD_CHECK},'=BANCO SAENZ S A,,,"
        f"invalid_lei; not_issued; inactive_entity; country_mismatch,{bad},rejected\n"
        "nothing.org,,,,,,,\n"
    )


def test_parquet_keeps_scores_as_numbers(decided):
    data = export_bytes(
        decided,
        "b1",
        ExportOptions(format=ExportFormat.PARQUET, layout=ExportLayout.CANDIDATE, with_qa=True),
    )
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names[-3:] == ["flags", "name_score", "decision"]
    assert str(table.schema.field("name_score").type) == "int64"
    assert table.column("decision").to_pylist() == ["", "accepted", "rejected", ""]


def test_the_cli_and_the_route_add_the_same_qa_columns(decided, tmp_path):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from gleif_data.http_export import export_routes
    from tests.test_cli import run

    expected = export_bytes(decided, "b1", ExportOptions(with_qa=True))
    cli = run(decided, "export", "--batch", "b1", "--with-qa", "--out", "-")
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == expected
    client = TestClient(Starlette(routes=export_routes(lambda: decided, lambda: None)))
    assert client.get("/api/export/b1", params={"qa": "true"}).content == expected


def test_a_match_to_another_lei_is_the_accepted_one_and_rejecting_others_keeps_it(decided):
    write(
        decided,
        record_decision,
        batch="b1",
        domain="nothing.org",
        action=Action.ACCEPT,
        decided_by="bo",
        lei_code=GERMAN,
    )
    write(
        decided,
        record_decision,
        batch="b1",
        domain="matthey.co.uk",
        action=Action.REJECT,
        decided_by="bo",
        lei_code=BAD_CHECK,
    )
    text = export_bytes(decided, "b1", ExportOptions(with_qa=True)).decode()
    assert text.splitlines()[2:] == [
        f"matthey.co.uk,2,{BRITISH}; {BAD_CHECK},JOHNSON MATTHEY PLC; =BANCO SAENZ S A,"
        f"accepted,{BRITISH},JOHNSON MATTHEY PLC,"
        "invalid_lei; not_issued; inactive_entity; country_mismatch; ambiguous",
        f"nothing.org,0,,,accepted,{GERMAN},Access Microfinance Holding AG,no_candidate",
    ]
