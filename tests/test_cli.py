"""The command line as analysts run it: a real process, real files, a real database."""

import subprocess
import sys

import pytest
from sqlalchemy import text

from gleif_data.export import ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from gleif_data.overview import batch_overview
from tests.conftest import database_env
from tests.support import ACME, write_csv
from tests.support import run_cli as run
from tests.transactions import read, write


@pytest.fixture
def batch(engine, tmp_path):
    rows = [[f"site{i}.com", ACME, f"ACME {i} Ltd", "", ""] for i in range(30)] + [
        ["bare.org", "", "", "", ""]
    ]
    import_batch(engine, write_csv(tmp_path / "in.csv", rows), "b1")
    return engine


def test_import_batch_reports_what_it_imported(engine, tmp_path):
    path = write_csv(tmp_path / "in.csv", [["acme.com", ACME, "ACME", "", ""]])
    result = run(engine, "import-batch", str(path), "--batch", "cli")
    assert result.returncode == 0, result.stderr
    assert "batch 'cli': 1 domains, 1 candidates imported" in result.stderr.decode()
    listing = run(engine, "batches").stdout.decode()
    assert "cli" in listing
    assert listing.splitlines()[1].split() == ["cli", "1", "1"]


def test_bad_input_is_one_line_without_a_traceback_and_a_non_zero_exit(engine, tmp_path):
    path = write_csv(tmp_path / "in.csv", [["acme.com", "TOO-SHORT", "ACME", "", ""]])
    result = run(engine, "import-batch", str(path), "--batch", "cli")
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert lines == [f"error: {path}:2: LEI 'TOO-SHORT' is not 20 letters and digits"]
    assert run(engine, "batches").stderr.decode().startswith("no batches yet")


def test_export_writes_the_file_the_library_produces(batch, tmp_path):
    out = tmp_path / "out.csv"
    result = run(batch, "export", "--batch", "b1", "--out", str(out), "--name-contains", "acme 1")
    assert result.returncode == 0, result.stderr
    expected = export_bytes(
        batch, "b1", ExportOptions(filters=DomainFilter(name_contains="acme 1"))
    )
    assert out.read_bytes() == expected
    assert f"11 rows written to {out}" in result.stderr.decode()


def test_export_to_standard_output(batch):
    result = run(batch, "export", "--batch", "b1", "--out", "-", "--max-candidates", "0")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == b"domain,gleif_candidate_count,all_lei_codes,all_legal_names\nbare.org,0,,\n"
    )


def test_export_without_out_writes_a_dated_file_in_the_current_folder(batch, tmp_path):
    result = run(batch, "export", "--batch", "b1", "--format", "parquet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [written] = list(tmp_path.glob("gleif-export_b1_*.parquet"))
    assert written.stat().st_size > 0


def test_a_failed_export_leaves_no_file(batch, tmp_path):
    folder = tmp_path / "exports"
    result = run(batch, "export", "--batch", "nope", "--out", str(folder / "out.csv"))
    assert result.returncode == 1
    assert result.stderr.decode().strip() == "error: no batch named 'nope' (batches: b1)"
    assert not folder.exists() or list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-candidates", "-1"], "Candidates at least: -1 is less than 0"),
        (["--min-candidates", "many"], 'Candidates at least: "many" is not a whole number'),
        (["--format", "pdf"], "invalid choice"),
    ],
)
def test_bad_options_are_refused_by_the_parser(batch, args, message):
    result = run(batch, "export", "--batch", "b1", *args)
    assert result.returncode == 2
    assert message in result.stderr.decode()


def test_min_above_max_is_refused(batch):
    result = run(batch, "export", "--batch", "b1", "--min-candidates", "3", "--max-candidates", "1")
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "error: Candidates at least (3) is more than Candidates at most (1)"
    )


def test_an_unreachable_database_is_named_without_its_password(tmp_path):
    env = {"DATABASE_URL": "postgresql://analyst:s3cr3t-pw@127.0.0.1:1/gleif", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "gleif_data", "batches"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert stderr.startswith("error: cannot reach PostgreSQL database 'gleif' on 127.0.0.1:1")
    assert "s3cr3t-pw" not in stderr
    assert "Traceback" not in stderr


def test_export_filters_by_qa_flag(batch):
    result = run(batch, "export", "--batch", "b1", "--out", "-", "--flag", "no_candidate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[1:] == ["bare.org,0,,"]
    refused = run(batch, "export", "--batch", "b1", "--flag", "nope")
    assert refused.returncode == 2
    assert "invalid choice: 'nope'" in refused.stderr.decode()


def test_decisions_move_from_one_database_to_another_through_the_cli(batch, tmp_path):
    from gleif_data.db import make_engine
    from gleif_data.decisions import domain_history, record_decision
    from gleif_data.migrate import upgrade
    from gleif_data.qa_state import Action

    write(
        batch,
        record_decision,
        batch="b1",
        domain="site1.com",
        action=Action.ACCEPT,
        decided_by="ana",
        lei_code=ACME,
    )
    path = tmp_path / "decisions.csv"
    exported = run(batch, "decisions", "export", "--out", str(path))
    assert exported.returncode == 0, exported.stderr
    assert "1 decisions exported" in exported.stderr.decode()

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    imported = run(other, "decisions", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "1 decisions imported, 0 already there" in imported.stderr.decode()
    assert [h.lei_code for h in read(other, domain_history, "b1", "site1.com")] == [ACME]
    other.dispose()


def test_an_exported_file_gets_the_usual_mode_for_new_files(batch, tmp_path):
    import os

    out = tmp_path / "out.csv"
    assert run(batch, "export", "--batch", "b1", "--out", str(out)).returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_count_batches_counts_what_another_program_made_stale(batch, tmp_path):
    import_batch(batch, write_csv(tmp_path / "b2.csv", [["zeta.de", ACME, "Z", "", ""]]), "b2")
    # The imports counted both batches; a write by another program makes b1's stale.
    with batch.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM gleif_candidates WHERE lei_code IS NOT NULL"
                " AND domain_id IN (SELECT id FROM domains WHERE batch_id = 'b1')"
            )
        )
    first = run(batch, "count-batches")
    assert first.returncode == 0, first.stderr
    assert first.stderr.decode().splitlines() == [
        "batch 'b1': counted",
        "batch 'b2': already current",
    ]
    assert read(batch, batch_overview, "b1").candidates == 0
    again = run(batch, "count-batches", "--batch", "b1")
    assert again.stderr.decode().splitlines() == ["batch 'b1': already current"]
    unknown = run(batch, "count-batches", "--batch", "nope")
    assert unknown.returncode == 1
    assert "no batch named 'nope'" in unknown.stderr.decode()


def test_count_batches_on_a_read_only_database_says_where_to_run_it(batch):
    if batch.dialect.name != "postgresql":
        pytest.skip("default_transaction_read_only is a PostgreSQL setting")
    read_only = batch.url.update_query_dict({"options": "-c default_transaction_read_only=on"})
    result = subprocess.run(
        [sys.executable, "-m", "gleif_data", "count-batches"],
        env={**database_env(batch), "DATABASE_URL": read_only.render_as_string(False)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"error: the PostgreSQL database {batch.url.database!r} on "
        f"{batch.url.host}:{batch.url.port} is read-only (a hot standby?), so counts cannot be "
        "stored there: run count-batches against the primary"
    ]
