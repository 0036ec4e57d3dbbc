"""Where `--out` writes (links, FIFOs, devices, folders) and filter values out of range."""

import os
import stat
import threading

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gleif_data.fields import ViewError
from gleif_data.filters import FILTER_FIELDS, DomainFilter
from gleif_data.http_export import export_routes
from gleif_data.import_batch import import_batch
from tests.support import ACME, app, url_of, write_csv
from tests.support import run_cli as run


@pytest.fixture
def batch(engine, tmp_path):
    rows = [[f"site{i}.com", ACME, f"ACME {i} Ltd", "", ""] for i in range(30)]
    import_batch(engine, write_csv(tmp_path / "in.csv", rows), "b1")
    return engine


@pytest.fixture
def expected(batch):
    result = run(batch, "export", "--batch", "b1", "--out", "-")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_symlink_stays_a_link_and_its_target_gets_the_export(batch, expected, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "real.csv"
    target.write_text("old")
    link = folder / "link.csv"
    link.symlink_to(target)
    result = run(batch, "export", "--batch", "b1", "--out", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert link.readlink() == target
    assert target.read_bytes() == expected
    assert sorted(p.name for p in folder.iterdir()) == ["link.csv", "real.csv"]


def test_a_dangling_symlink_creates_its_target(batch, expected, tmp_path):
    target = tmp_path / "later" / "real.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    result = run(batch, "export", "--batch", "b1", "--out", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert target.read_bytes() == expected


def test_a_fifo_is_written_into_and_its_reader_gets_the_bytes(batch, expected, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as source:  # blocks until the CLI opens the other end
            received.append(source.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        result = run(batch, "export", "--batch", "b1", "--out", str(fifo), timeout=60)
    finally:
        if reader.is_alive() and not received:
            # Unblock the reader if the CLI never opened the FIFO (a failing run).
            with open(fifo, "wb", opener=lambda p, _f: os.open(p, os.O_WRONLY | os.O_NONBLOCK)):
                pass
        reader.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert received == [expected]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dev_null_is_written_into(batch):
    result = run(batch, "export", "--batch", "b1", "--out", "/dev/null")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dev_stdout_gives_the_bytes_of_out_dash_and_stays_a_device(batch, expected):
    result = run(batch, "export", "--batch", "b1", "--out", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    node = os.lstat("/dev/stdout").st_mode  # usually a link to /proc/self/fd/1
    assert stat.S_ISLNK(node) or stat.S_ISCHR(node)


def test_a_directory_is_refused_in_one_line_before_the_export(batch, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    result = run(batch, "export", "--batch", "b1", "--out", str(folder))
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [f"error: --out {folder} is a directory"]
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_candidates", 2_147_483_648),
        ("max_candidates", 2**63),
        ("min_name_score", 101),
        ("max_name_score", 1000),
    ],
)
def test_out_of_range_numbers_are_refused_naming_the_field(name, value):
    label = {f.name: f.label for f in FILTER_FIELDS}[name]
    with pytest.raises(ViewError, match=f"^{label}: {value:,} is more than "):
        DomainFilter(**{name: value})
    assert DomainFilter(**{name: 100}).active() == {name: 100}


@pytest.mark.parametrize(
    ("option", "value"),
    [("--min-candidates", "2147483648"), ("--max-name-score", "101")],
)
def test_the_cli_refuses_out_of_range_numbers_as_a_bad_option(batch, option, value):
    result = run(batch, "export", "--batch", "b1", "--out", "-", option, value)
    assert result.returncode == 2
    label = {f.option: f.label for f in FILTER_FIELDS}[option]
    last = result.stderr.decode().splitlines()[-1]
    assert f"argument {option}: {label}: {int(value):,} is more than " in last
    assert result.stdout == b""


def test_the_largest_count_still_filters_on_both_databases(batch):
    result = run(batch, "export", "--batch", "b1", "--out", "-", "--min-candidates", "2147483647")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"\n") == 1  # the header: no domain has that many


@pytest.mark.parametrize("params", [{"min_candidates": "2147483648"}, {"max_name_score": "101"}])
def test_the_route_answers_400_naming_the_parameter(batch, params):
    app = Starlette(routes=export_routes(lambda: batch, lambda: None))
    response = TestClient(app).get("/api/export/b1", params=params)
    assert response.status_code == 400
    name = next(iter(params))
    label = {f.name: f.label for f in FILTER_FIELDS}[name]
    assert response.text.startswith(f"bad parameter {name}: {label}: ")
    assert "is more than" in response.text


def test_decisions_export_of_an_unknown_batch_fails(batch, tmp_path):
    out = tmp_path / "decisions.csv"
    result = run(batch, "decisions", "export", "--batch", "nope", "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == ["error: no batch named 'nope' (batches: b1)"]
    assert not out.exists()


def test_the_explore_page_warns_naming_the_field(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/explore.py")
    at.text_input(key="min_candidates").input("2147483648").run()
    assert not at.exception
    assert not at.error
    assert [w.value for w in at.warning] == [
        "Check the filters: Candidates at least: 2,147,483,648 is more than 2,147,483,647."
    ]
    assert not at.dataframe  # no rows shown as if unfiltered
