"""The dashboard pages, run headless with Streamlit's AppTest against a real database."""

import pytest
import streamlit as st

from dashboard.view_state import stamped_position, view_fingerprint
from gleif_data.explore import SortOrder
from gleif_data.export import ExportFormat, ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.import_batch import import_batch
from gleif_data.import_gleif import import_gleif
from tests.support import ACME, ZETA, app, url_of, write_csv
from tests.transactions import read

ANNULLED = "579100EKDEGDFEHDC086"


@pytest.fixture
def downloads(monkeypatch):
    """What the pages hand to st.download_button, so a test can run the download."""
    calls = []
    original = st.download_button

    def recording(label, data, *args, **kwargs):
        calls.append({"label": label, "data": data, **kwargs})
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    return calls


def matching(at):
    return next(c.value for c in at.caption if "domains match" in c.value)


@pytest.fixture
def two_batches(engine, tmp_path):
    rows = [[f"site{i:03}.com", ACME, f"ACME {i} Ltd", "", ""] for i in range(120)]
    rows += [["bare.org", "", "", "", ""], ["site003.com", ZETA, "Zeta; GmbH", "", ""]]
    rows += [["annulled.dk", ANNULLED, "Annulled A/S", "0.5", "fuzzy"]]
    import_batch(engine, write_csv(tmp_path / "a.csv", rows), "alpha")
    import_batch(
        engine, write_csv(tmp_path / "b.csv", [["other.com", ZETA, "Zeta", "", ""]]), "beta"
    )
    return engine


def test_overview_counts_the_chosen_batch(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches))
    assert not at.exception
    assert at.selectbox(key="batch").options == ["alpha", "beta"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Domains"] == "122"
    assert metrics["Without candidates"] == "1"
    assert metrics["Ambiguous"] == "1"
    assert metrics["Candidates"] == "122"
    assert "No GLEIF reference data yet" in at.info[0].value

    at.selectbox(key="batch").set_value("beta").run()
    assert {m.label: m.value for m in at.metric}["Domains"] == "1"


def test_overview_breaks_candidates_down_by_registration_status(two_batches, monkeypatch):
    from gleif_data.demo import GOLDEN_COPY_SAMPLE

    import_gleif(two_batches, GOLDEN_COPY_SAMPLE)
    at = app(monkeypatch, url_of(two_batches))
    assert not at.exception
    assert not at.info
    assert any("have an LEI that the reference data lacks" in c.value for c in at.caption)


def test_explore_filters_change_the_count_and_live_in_the_url(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    assert "122 of 122 domains match" in matching(at)
    at.text_input(key="name_contains").input("acme 1").run()
    assert "31 of 122 domains match" in matching(at)
    at.text_input(key="min_candidates").input("2").run()
    assert at.info[0].value.startswith("No domain of this batch matches the filters")
    assert 'Legal name contains "acme 1", Candidates at least 2' in at.info[0].value
    at.button(key="clear_empty").click().run()
    assert "122 of 122 domains match" in matching(at)


def test_explore_pages_forward_and_back_with_a_cursor_in_the_url(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    first = at.dataframe[0].value["domain"].tolist()
    assert len(first) == 50
    next_button = next(b for b in at.button if b.label == "Next")
    next_button.click().run()
    second = at.dataframe[0].value["domain"].tolist()
    assert second[0] == "site050.com"
    assert "after" in at.query_params
    previous = next(b for b in at.button if b.label == "Previous")
    previous.click().run()
    assert at.dataframe[0].value["domain"].tolist() == first


def test_explore_sorts_by_candidate_count(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    at.button_group(key="sort").set_value("Most candidates first").run()
    table = at.dataframe[0].value
    assert table["domain"].tolist()[0] == "site003.com"
    assert table["candidates"].tolist()[0] == 2


def test_filters_survive_a_rerun(two_batches, monkeypatch):
    # The URL side (links, reloads, page switches) lives in the browser: see test_browser.py.
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    at.selectbox(key="batch").set_value("beta").run()
    at.text_input(key="domain_contains").input("other").run()
    at.run()
    assert at.selectbox(key="batch").value == "beta"
    assert at.dataframe[0].value["domain"].tolist() == ["other.com"]


def test_domain_view_shows_candidates_and_invalid_check_digits(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/domain.py")
    at.text_input(key="domain").input(" Annulled.DK ").run()
    assert not at.exception
    card = next(m.value for m in at.markdown if m.value.startswith("LEI "))
    assert card.startswith(f"LEI [{ANNULLED}](https://search.gleif.org/#/record/{ANNULLED})")
    assert "check digits INVALID" in card
    # Each flag with its reason in words, as the Review page gives it (one card component).
    assert any(
        ":orange-badge[unknown_lei] the LEI is not in the imported GLEIF reference data" in m.value
        for m in at.markdown
    )

    at.text_input(key="domain").input("nowhere.com").run()
    assert "No domain of the batch 'alpha' is or contains “nowhere\\.com”" in at.warning[0].value


def test_export_counts_rows_and_downloads_the_cli_bytes(two_batches, monkeypatch, downloads):
    at = app(monkeypatch, url_of(two_batches), "pages/export.py")
    assert "**123 rows**" not in at.markdown[0].value
    at.text_input(key="name_contains").input("GMBH").run()
    assert at.markdown[0].value.startswith("**1 rows**")
    at.selectbox(key="format").set_value("xlsx").run()
    download = downloads[-1]
    assert download["file_name"].startswith("gleif-export_alpha_")
    assert download["file_name"].endswith(".xlsx")
    expected = export_bytes(
        two_batches,
        "alpha",
        ExportOptions(format=ExportFormat.XLSX, filters=DomainFilter(name_contains="GMBH")),
    )
    assert download["data"]() == expected

    at.selectbox(key="format").set_value("csv").run()
    at.radio(key="scope").set_value("whole batch").run()
    assert at.markdown[0].value.startswith("**122 rows**")
    assert downloads[-1]["data"]() == export_bytes(two_batches, "alpha", ExportOptions())


def test_an_empty_database_says_how_to_load_data(engine, monkeypatch):
    at = app(monkeypatch, url_of(engine))
    assert "python -m gleif_data demo" in at.info[0].value


def test_an_unreachable_database_shows_a_panel_without_the_password(monkeypatch):
    at = app(monkeypatch, "postgresql://analyst:s3cr3t-pw@127.0.0.1:1/gleif")
    assert not at.exception
    panel = at.error[0].value
    assert "PostgreSQL database 'gleif' on 127.0.0.1:1" in panel
    assert "s3cr3t-pw" not in panel


def test_an_analyst_accepts_a_candidate_and_sees_it_in_the_history(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/domain.py")
    at.text_input(key="domain").input("site003.com").run()
    accept = [b for b in at.button if b.label == "Accept"]
    assert len(accept) == 2
    assert all(b.disabled for b in accept), "no decision without a name"
    at.text_input(key="analyst").input("Ana").run()
    at.text_input(key="decision_note").input("the GmbH runs the site").run()
    [b for b in at.button if b.label == "Accept"][1].click().run()
    assert not at.exception
    state = next(m.value for m in at.markdown if "**QA:**" in m.value)
    assert f"Accepted: **Zeta\\; GmbH** ({ZETA}), last decision by Ana on " in state
    history = at.dataframe[-1].value
    assert history[["who", "decision", "lei", "note"]].values.tolist() == [
        ["Ana", "accept", ZETA, "the GmbH runs the site"]
    ]

    at.switch_page("pages/explore.py").run()
    at.selectbox(key="qa_status").set_value("accepted").run()
    assert at.dataframe[0].value["domain"].tolist() == ["site003.com"]


def test_the_bulk_accept_asks_first_and_then_decides_each_domain(engine, monkeypatch, tmp_path):
    from gleif_data.decisions import domain_history
    from tests.support import sample_records, write_gleif_subset

    issued = [r for r in sample_records() if r["Registration.RegistrationStatus"] == "ISSUED"]
    issued = [r for r in issued if r["Entity.EntityStatus"] == "ACTIVE"][:6]
    rows = [
        [f"clean{i}.com", r["LEI"], r["Entity.LegalName"], "", ""] for i, r in enumerate(issued)
    ]
    rows.append(["two.com", issued[0]["LEI"], issued[0]["Entity.LegalName"], "", ""])
    import_batch(engine, write_csv(tmp_path / "b.csv", rows), "clean")
    import_gleif(engine, write_gleif_subset(tmp_path / "g.csv", [r["LEI"] for r in issued]))

    at = app(monkeypatch, url_of(engine), "pages/explore.py")
    assert not any("among these filters" in c.value for c in at.caption), "counted only on demand"
    at.toggle(key="bulk_qa").set_value(True).run()
    caption = next(c.value for c in at.caption if "among these filters" in c.value)
    assert caption.startswith("5 domains"), "clean0 and two.com share an LEI"
    at.text_input(key="analyst").input("Bo").run()
    at.button(key="bulk").click().run()
    assert not at.exception
    assert read(engine, domain_history, "clean", "clean1.com") == [], (
        "nothing before the confirmation"
    )
    next(b for b in at.button if b.label == "Accept them").click().run()
    assert not at.exception
    decided = [read(engine, domain_history, "clean", f"clean{i}.com") for i in range(6)]
    assert [len(h) for h in decided] == [0, 1, 1, 1, 1, 1]
    assert {h[0].decided_by for h in decided[1:]} == {"Bo"}
    assert at.success[0].value.startswith("Bulk accept 1 accepted 5 domains")
    listed = at.dataframe[-1].value
    assert listed["domain"].tolist() == [f"clean{i}.com" for i in range(1, 6)]
    assert listed["lei"].tolist() == [r["LEI"] for r in issued[1:6]]

    at.button(key="undo_last_bulk").click().run()
    assert not at.exception
    assert any("5 acceptances withdrawn" in s.value for s in at.success)
    decided = [read(engine, domain_history, "clean", f"clean{i}.com") for i in range(6)]
    assert [[h.action.value for h in d] for d in decided[1:]] == [["accept", "withdraw"]] * 5
    caption = next(c.value for c in at.caption if "among these filters" in c.value)
    assert caption.startswith("5 domains"), "undecided again"

    assert at.button(key="undo_last_bulk").disabled, "nothing of it stands any more"
    at.number_input(key="bulk_min_name_score").set_value(100).run()
    caption = next(c.value for c in at.caption if "among these filters" in c.value)
    assert "a name score of at least 100" in caption

    # A second one: the first now shows among the earlier ones, with its own undo.
    at.number_input(key="bulk_min_name_score").set_value(None).run()
    at.button(key="bulk").click().run()
    next(b for b in at.button if b.label == "Accept them").click().run()
    assert at.success[0].value.startswith("Bulk accept 2 accepted 5 domains")
    assert any(m.value.startswith("Bulk accept 1 by Bo on ") for m in at.markdown)
    assert at.button(key="undo_bulk_1").disabled


# The view in the URL: batch, filters and page position (the browser's side, history and
# copied links, is in test_browser_view.py).


def warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def test_a_url_without_a_batch_is_completed_with_the_batch_shown(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    assert at.selectbox(key="batch").value == "alpha"
    scripts = [element.proto.body for element in at.html]
    assert any('"batch": ["alpha"]' in script and "replaceState" in script for script in scripts)


def test_a_url_with_its_batch_is_left_alone(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py", batch="beta")
    assert at.selectbox(key="batch").value == "beta"
    assert not any("replaceState" in element.proto.body for element in at.html)
    assert at.dataframe[0].value["domain"].tolist() == ["other.com"]


def test_an_unknown_batch_lists_the_batches_and_shows_no_data(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py", batch="nope")
    assert not at.exception
    assert [e.value for e in at.error] == ['There is no batch named "nope". Choose one of these:']
    links = at.markdown[-1].value
    assert 'href="?batch=alpha"' in links
    assert 'href="?batch=beta"' in links
    assert not at.dataframe
    assert not at.get("selectbox")


@pytest.mark.parametrize(
    ("typed", "warning"),
    [
        ({"min_candidates": "abc"}, 'Candidates at least: "abc" is not a whole number'),
        ({"max_name_score": "101"}, "Name score at most: 101 is more than 100"),
        (
            {"min_candidates": "5", "max_candidates": "2"},
            "Candidates at least (5) is more than Candidates at most (2)",
        ),
    ],
)
def test_a_bad_number_is_named_by_its_label_and_no_rows_show(
    two_batches, monkeypatch, typed, warning
):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    for key, text in typed.items():
        at.text_input(key=key).input(text).run()
    assert warnings(at) == [f"Check the filters: {warning}."]
    assert not at.dataframe
    assert at.text_input(key=next(iter(typed))).value == next(iter(typed.values()))


def test_a_number_from_the_url_filters_like_a_typed_one(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py", min_candidates="2")
    assert at.dataframe[0].value["domain"].tolist() == ["site003.com"]


def test_a_ten_thousand_character_filter_is_described_shortened(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py", domain_contains="x" * 10_000)
    [info] = at.info
    assert info.value.startswith('No domain of this batch matches the filters (Domain contains "x')
    assert len(info.value) < 120


def test_a_page_position_made_for_other_filters_is_dropped(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    next(b for b in at.button if b.label == "Next").click().run()
    after = at.query_params["after"]
    assert after.startswith(view_fingerprint("alpha", DomainFilter(), SortOrder.FILE.value))

    # Back across a filter change brings this very URL: the filter with the old position.
    at = app(
        monkeypatch, url_of(two_batches), "pages/explore.py", name_contains="acme", after=after
    )
    assert at.dataframe[0].value["domain"].tolist()[0] == "site000.com"
    assert "after" not in at.query_params
    assert any(c.value.startswith("Rows 1-50 of 120 matching") for c in at.caption), [
        c.value for c in at.caption
    ]


def test_a_page_position_of_this_view_is_kept(two_batches, monkeypatch):
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py")
    next(b for b in at.button if b.label == "Next").click().run()
    after = at.query_params["after"]
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py", after=after)
    assert at.dataframe[0].value["domain"].tolist()[0] == "site050.com"


def test_an_unstamped_page_position_is_dropped(two_batches, monkeypatch):
    cursor = stamped_position("W251bGwsNTBd", "0" * 10).split(".", 1)[1]
    at = app(monkeypatch, url_of(two_batches), "pages/explore.py", after=cursor)
    assert at.dataframe[0].value["domain"].tolist()[0] == "site000.com"
