"""The Domain page under AppTest: finding a domain, deciding per candidate, the error panel."""

import csv
import io

import pytest
from sqlalchemy import insert, text

from gleif_data.decisions import domain_history
from gleif_data.export import ExportLayout, ExportOptions, export_bytes
from gleif_data.import_batch import import_batch
from gleif_data.models import Domain, GleifCandidate
from tests.support import ACME, ZETA, app, url_of, write_csv
from tests.transactions import read

OTHER = "579100EKDEGDFEHDC086"


@pytest.fixture
def batch(engine, tmp_path):
    rows = [[f"site{i:03}.com", ACME, f"ACME {i} Ltd", "", ""] for i in range(15)]
    rows += [["three.de", ACME, "Acme", "", ""], ["three.de", ZETA, "Zeta", "", ""]]
    rows += [["three.de", OTHER, "Other", "", ""]]
    import_batch(engine, write_csv(tmp_path / "a.csv", rows), "alpha")
    # What another program wrote: a mixed-case name and a domain on two rows.
    with engine.begin() as connection:
        connection.execute(
            insert(Domain),
            [
                {"id": 100, "domain": "Legacy.COM", "batch_id": "alpha"},
                {"id": 101, "domain": "twice.org", "batch_id": "alpha"},
                {"id": 102, "domain": "twice.org", "batch_id": "alpha"},
            ],
        )
        connection.execute(
            insert(GleifCandidate),
            [
                {"id": 100, "domain_id": 100, "lei_code": ZETA, "legal_name": "Zeta"},
                {"id": 101, "domain_id": 101, "lei_code": ACME, "legal_name": "Acme"},
                {"id": 102, "domain_id": 102, "lei_code": OTHER, "legal_name": "Other"},
            ],
        )
    return engine


def heading(at) -> str:
    return at.subheader[0].value if at.subheader else ""


def state_line(at) -> str:
    return next(m.value for m in at.markdown if "**QA:**" in m.value)


def card_titles(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**") and "-badge[" in m.value]


def buttons(at, label):
    return [b for b in at.button if b.label == label]


def test_part_of_a_name_lists_suggestions_that_open_the_domain(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py")
    at.text_input(key="domain").input("SITE01").run()
    assert not at.subheader
    suggested = [b.label for b in at.button if (b.key or "").startswith("suggestion_")]
    assert suggested == [f"site{i:03}.com" for i in range(10, 15)]
    at.button(key="suggestion_2").click().run()
    assert heading(at) == "site012.com"
    assert at.text_input(key="domain").value == "site012.com"


def test_a_pasted_web_address_opens_its_domain(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py")
    at.text_input(key="domain").input("https://Three.DE/impressum?lang=en").run()
    assert heading(at) == "three.de"
    # www. is not stored: its domain is suggested.
    at.text_input(key="domain").input("https://www.three.de/").run()
    assert [b.label for b in at.button if (b.key or "").startswith("suggestion_")] == ["three.de"]


def test_nothing_found_says_so_and_keeps_the_text(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py")
    at.text_input(key="domain").input("nowhere*").run()
    assert "is or contains “nowhere\\*”" in at.warning[0].value
    assert at.text_input(key="domain").value == "nowhere*"
    assert not any("Explore" in b.label for b in at.button)


@pytest.mark.parametrize("typed", ["legacy.com", "Legacy.COM", "https://LEGACY.com/x"])
def test_a_legacy_mixed_case_domain_is_found_and_decided_under_its_stored_name(
    batch, monkeypatch, typed
):
    at = app(monkeypatch, url_of(batch), "pages/domain.py", domain=typed)
    assert heading(at) == "Legacy.COM"
    at.text_input(key="analyst").input("Ana").run()
    buttons(at, "Accept")[0].click().run()
    assert not at.exception
    assert [h.domain for h in read(batch, domain_history, "alpha", "Legacy.COM")] == ["Legacy.COM"]
    exported = export_bytes(batch, "alpha", ExportOptions(with_qa=True)).decode()
    row = next(r for r in csv.DictReader(io.StringIO(exported)) if r["domain"] == "Legacy.COM")
    assert (row["qa_status"], row["accepted_lei"]) == ("accepted", ZETA)


def test_another_spelling_of_the_domain_opens_with_a_click(batch, monkeypatch):
    with batch.begin() as connection:
        connection.execute(insert(Domain).values(id=103, domain="LEGACY.com", batch_id="alpha"))
    at = app(monkeypatch, url_of(batch), "pages/domain.py", domain="legacy.com")
    assert heading(at) == "Legacy.COM"
    at.button(key="spelling_0").click().run()
    assert heading(at) == "LEGACY.com"


def test_a_domain_stored_twice_shows_every_rows_candidates_and_says_so(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py", domain="twice.org")
    assert heading(at) == "twice.org"
    assert any("Stored **2 times**" in c.value for c in at.caption)
    cards = card_titles(at)
    assert [c.split("**")[1] for c in cards] == ["1. Acme", "2. Other"]
    assert cards[1].endswith("· row 2")


def test_accepting_one_candidate_and_rejecting_another_keeps_the_acceptance(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py", domain="three.de")
    at.text_input(key="analyst").input("Ana").run()
    buttons(at, "Accept")[1].click().run()
    buttons(at, "Reject")[2].click().run()
    assert not at.exception
    assert "Accepted: **Zeta** (0292001130A2Q5CDA023)" in state_line(at)
    badges = card_titles(at)
    assert [b.split("** ")[1] for b in badges] == [
        ":gray-badge[Undecided]",
        ":green-badge[:material/check_circle: Accepted]",
        ":red-badge[:material/cancel: Rejected]",
    ]
    assert [b.disabled for b in buttons(at, "Accept")] == [False, True, False]
    assert [b.disabled for b in buttons(at, "Reject")] == [False, False, True]
    # The export says what the page says.
    options = ExportOptions(layout=ExportLayout.CANDIDATE, with_qa=True)
    exported = export_bytes(batch, "alpha", options).decode()
    rows = [r for r in csv.DictReader(io.StringIO(exported)) if r["domain"] == "three.de"]
    assert [r["decision"] for r in rows] == ["", "accepted", "rejected"]
    buttons(at, "No match")[0].click().run()
    assert state_line(at).startswith(":material/block: **QA:** No match")
    buttons(at, "Reset")[0].click().run()
    assert state_line(at) == ":material/pending: **QA:** Undecided"
    actions = [h.action.value for h in read(batch, domain_history, "alpha", "three.de")]
    assert actions == ["accept", "reject", "no_match", "reset"]


def test_rejecting_some_candidates_puts_the_domain_in_review(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py", domain="three.de")
    at.text_input(key="analyst").input("Ana").run()
    buttons(at, "Reject")[0].click().run()
    assert "In review (1 of 3 candidates rejected)" in state_line(at)
    buttons(at, "Reject")[1].click().run()
    buttons(at, "Reject")[2].click().run()
    assert "Rejected (3 of 3 candidates rejected)" in state_line(at)


def test_without_a_name_no_decision_can_be_made(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py", domain="three.de")
    decision_buttons = [b for b in at.button if b.label in ("Accept", "Reject", "No match")]
    assert decision_buttons
    assert all(b.disabled for b in decision_buttons)
    assert any(c.value == "Decisions need your name: type it above." for c in at.caption)
    at.text_input(key="analyst").input("   ").run()
    assert all(b.disabled for b in buttons(at, "Accept"))
    assert read(batch, domain_history, "alpha", "three.de") == []


def test_the_name_is_kept_for_the_session_and_can_be_changed(batch, monkeypatch):
    at = app(monkeypatch, url_of(batch), "pages/domain.py", domain="three.de")
    at.text_input(key="analyst").input("Ana").run()
    assert any(c.value == "Deciding as **Ana**" for c in at.caption)
    at.text_input(key="domain").input("site001.com").run()
    assert any(c.value == "Deciding as **Ana**" for c in at.caption)
    buttons(at, "Change name")[0].click().run()
    at.text_input(key="analyst").input("Bo").run()
    buttons(at, "Accept")[0].click().run()
    assert [h.decided_by for h in read(batch, domain_history, "alpha", "site001.com")] == ["Bo"]


def test_a_broken_schema_shows_the_apps_own_panel_without_details(batch, monkeypatch):
    # AppTest runs a switched-to page without app.py; the first run goes through app.py,
    # as every run of a served page does (the browser test covers the Domain page).
    with batch.begin() as connection:
        connection.execute(text("ALTER TABLE domains RENAME COLUMN batch_id TO batch_name"))
    try:
        at = app(monkeypatch, url_of(batch))
        assert not at.exception, "no Streamlit exception panel"
        [panel] = [e.value for e in at.error]
        assert panel.startswith("**The Overview page failed**: the database refused a query: ")
        assert "batch" in panel
        assert "quote the reference **" in panel
        assert "Traceback" not in panel
        assert "SELECT" not in panel
    finally:
        with batch.begin() as connection:
            connection.execute(text("ALTER TABLE domains RENAME COLUMN batch_name TO batch_id"))


def test_an_unexpected_error_names_its_type_and_no_message(monkeypatch):
    import streamlit as st

    from dashboard import errors as ui

    shown = []
    monkeypatch.setattr(st, "error", lambda body, **_: shown.append(body))
    ui.show_unexpected_error(KeyError("secret-value"), "the Domain page")
    [panel] = shown
    assert panel.startswith("**The Domain page failed**: an unexpected error (KeyError)")
    assert "secret-value" not in panel


def test_an_error_in_a_button_callback_gets_the_same_panel(monkeypatch):
    import streamlit as st

    from dashboard import errors as ui

    shown = []
    monkeypatch.setattr(st, "error", lambda body, **_: shown.append(body))
    assert ui.on_script_error(ValueError("x")) is True, "Streamlit's own panel is suppressed"
    assert shown[0].startswith("**The last action failed**: an unexpected error (ValueError)")
