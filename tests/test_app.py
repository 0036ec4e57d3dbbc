"""The dashboard page, run headless with Streamlit's AppTest against a real database."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from gleif_data.config import PROJECT_DIR
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from tests.support import write_csv

ACME = "5493001KJTIIGC8Y1R12"
ZETA = "0292001130A2Q5CDA023"


@pytest.fixture
def downloads(monkeypatch):
    """What the page hands to st.download_button, so a test can run the download."""
    calls = []
    original = st.download_button

    def recording(label, data, *args, **kwargs):
        calls.append({"label": label, "data": data, **kwargs})
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    return calls


def app_on(engine, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=60)


@pytest.fixture
def two_batches(engine, tmp_path):
    rows = [[f"site{i}.com", ACME, f"ACME {i} Ltd", "", ""] for i in range(80)]
    rows += [["bare.org", "", "", "", ""], ["site3.com", ZETA, "Zeta; GmbH", "", ""]]
    import_batch(engine, write_csv(tmp_path / "a.csv", rows), "alpha")
    import_batch(
        engine, write_csv(tmp_path / "b.csv", [["other.com", ZETA, "Zeta", "", ""]]), "beta"
    )
    return engine


def test_the_page_shows_the_chosen_batch_and_its_counts(two_batches, monkeypatch, downloads):
    at = app_on(two_batches, monkeypatch).run()
    assert not at.exception
    assert at.selectbox(key="batch").options == ["alpha (81 domains)", "beta (1 domains)"]
    assert [m.value for m in at.metric] == ["81", "81"]
    assert "81 domains match" in at.caption[0].value
    assert len(at.dataframe[0].value) == 50

    at.selectbox(key="batch").set_value("beta").run()
    assert [m.value for m in at.metric] == ["1", "1"]
    assert at.dataframe[0].value["domain"].tolist() == ["other.com"]


def test_filters_change_the_count_and_the_download_equals_the_cli_export(
    two_batches, monkeypatch, downloads
):
    at = app_on(two_batches, monkeypatch).run()
    at.text_input(key="name_contains").input("acme 1").run()
    assert "11 domains match" in at.caption[0].value
    at.text_input(key="name_contains").input("GMBH").run()
    at.number_input(key="min_candidates").set_value(2).run()
    assert "1 domains match" in at.caption[0].value
    assert at.dataframe[0].value["domain"].tolist() == ["site3.com"]

    download = downloads[-1]
    assert download["file_name"].startswith("gleif-export_alpha_")
    expected = export_bytes(
        two_batches,
        "alpha",
        ExportOptions(filters=DomainFilter(name_contains="GMBH", min_candidates=2)),
    )
    assert download["data"]() == expected


def test_no_match_says_which_filters_are_active(two_batches, monkeypatch, downloads):
    at = app_on(two_batches, monkeypatch).run()
    at.text_input(key="domain_contains").input("no-such-domain").run()
    assert "No domain of this batch matches the filters" in at.info[0].value
    assert "domain contains: 'no-such-domain'" in at.info[0].value


def test_an_empty_database_says_how_to_load_data(engine, monkeypatch):
    at = app_on(engine, monkeypatch).run()
    assert "python -m gleif_data demo" in at.info[0].value


def test_an_unreachable_database_shows_a_panel_without_the_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://analyst:s3cr3t-pw@127.0.0.1:1/gleif")
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=60).run()
    assert not at.exception
    panel = at.error[0].value
    assert "PostgreSQL database 'gleif' on 127.0.0.1:1" in panel
    assert "s3cr3t-pw" not in panel
