"""The Domain page in Debian's Chromium: finding a domain, deciding, the name, the error panel.

Screenshots: domain.png (1400 px, the README's) and domain-800.png, in tests/screenshots/ or
GLEIF_SCREENSHOT_DIR (`make screenshots` writes docs/screenshots/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from gleif_data.db import make_engine
from gleif_data.decisions import domain_history
from gleif_data.import_batch import import_batch
from gleif_data.migrate import upgrade
from tests.browser_kit import settle, shot
from tests.support import require_browser, running_app, write_csv
from tests.transactions import read

pytestmark = pytest.mark.browser
# Streamlit loads each kind of widget's code on first use: on a busy machine a fresh page's
# first buttons take longer than expect's 5 s (run alone, this module has no other setting).
expect.set_options(timeout=30_000)
NAME_BOX = "Your name, recorded with your decisions"


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def open_domain_page(page, server: str, domain: str = "") -> None:
    query = f"&domain={quote(domain)}" if domain else ""
    page.goto(f"{server}/domain?batch=demo-small{query}")
    page.get_by_role("heading", name="Domain", exact=True).wait_for()
    settle(page)


def search(page, typed: str) -> None:
    box = page.get_by_role("textbox", name="Domain", exact=True)
    box.fill(typed)
    box.press("Enter")
    settle(page)


def give_name(page, name: str) -> None:
    box = page.get_by_role("textbox", name=NAME_BOX)
    box.fill(name)
    box.press("Enter")
    if name:
        page.get_by_text(f"Deciding as {name}").wait_for()
    settle(page)


def qa_line(page) -> str:
    """The domain's QA state line, without its icon's name."""
    line = page.get_by_test_id("stMarkdownContainer").filter(has_text="QA:").first.inner_text()
    return line[line.index("QA:") :]


def card_titles(page):
    """The title line of each candidate card."""
    return page.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile(r"^\d+\. "))


def decide(page, button: str, number: int, then: str) -> None:
    """Click a card's Accept or Reject and wait until the card says `then`."""
    page.get_by_role("button", name=button).nth(number).click()
    expect(card_titles(page).nth(number)).to_contain_text(then)
    settle(page)


def card_states(page) -> list[str]:
    """Each candidate card's state badge, in order."""
    titles = card_titles(page)
    return [
        re.search(r"(Accepted|Rejected|Undecided)\s*$", title).group(1)
        for title in titles.all_inner_texts()
    ]


def test_part_of_a_domain_suggests_domains_and_a_click_opens_one(page, server):
    open_domain_page(page, server)
    search(page, "AMERICAN")
    expect(page.get_by_text("No domain is exactly")).to_be_visible()
    page.get_by_role("button", name="north-american.com").click()
    settle(page)
    expect(page.get_by_role("heading", name="north-american.com")).to_be_visible()
    expect(page.get_by_role("textbox", name="Domain", exact=True)).to_have_value(
        "north-american.com"
    )
    assert "domain=north-american.com" in page.url
    page.reload()
    page.get_by_role("heading", name="north-american.com").wait_for()


def test_a_pasted_web_address_opens_its_domain(page, server):
    open_domain_page(page, server)
    search(page, "https://North-American.COM/about-us?lang=en#team")
    expect(page.get_by_role("heading", name="north-american.com")).to_be_visible()
    expect(page.get_by_text("7 candidates, in the order")).to_be_visible()
    # The www. host is not stored: the domain behind it is suggested.
    search(page, "https://www.opec-fund.at/")
    page.get_by_role("button", name="opec-fund.at").click()
    settle(page)
    expect(page.get_by_role("heading", name="opec-fund.at")).to_be_visible()


def test_accept_one_candidate_reject_another_and_a_reload_keeps_both(page, server, seeded_url):
    open_domain_page(page, server, "capricorn.ai")
    give_name(page, "Browser Ana")
    decide(page, "Accept", 1, "Accepted")
    decide(page, "Reject", 0, "Rejected")
    page.reload()
    page.get_by_text("QA:").wait_for()
    settle(page)
    assert qa_line(page).startswith("QA: Accepted: ")
    assert "last decision by Browser Ana" in qa_line(page)
    assert card_states(page)[:3] == ["Rejected", "Accepted", "Undecided"]
    expect(page.get_by_role("button", name="Accept").nth(1)).to_be_disabled()
    expect(page.get_by_role("button", name="Reject").nth(0)).to_be_disabled()
    engine = make_engine(seeded_url)
    history = read(engine, domain_history, "demo-small", "capricorn.ai")
    engine.dispose()
    assert [(h.action.value, h.decided_by) for h in history] == [
        ("accept", "Browser Ana"),
        ("reject", "Browser Ana"),
    ]
    assert history[0].lei_code != history[1].lei_code


def test_the_name_survives_a_reload_and_a_new_tab(context, page, server):
    open_domain_page(page, server, "opec-fund.at")
    expect(page.get_by_role("button", name="Accept").first).to_be_disabled()
    give_name(page, "Zoë O'Brien; <b>")
    expect(page.get_by_text("Deciding as Zoë O'Brien; <b>")).to_be_visible()
    # The script that writes the cookie opens no sidebar and takes no room on the page.
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    expect(page.locator(".st-key-analyst_cookie")).to_be_hidden()
    page.reload()
    page.get_by_text("Deciding as Zoë O'Brien; <b>").wait_for()
    expect(page.get_by_role("button", name="Accept").first).to_be_enabled()
    second = context.new_page()
    open_domain_page(second, server, "kalamar.fk")
    expect(second.get_by_text("Deciding as Zoë O'Brien; <b>")).to_be_visible()
    # Changed in one tab, the next tab gets the new name.
    second.get_by_role("button", name="Change name").click()
    settle(second)
    give_name(second, "Bo")
    third = context.new_page()
    open_domain_page(third, server, "kalamar.fk")
    expect(third.get_by_text("Deciding as Bo")).to_be_visible()
    cleared = context.new_page()
    open_domain_page(cleared, server, "kalamar.fk")
    cleared.get_by_role("button", name="Change name").click()
    settle(cleared)
    give_name(cleared, "")
    fresh = context.new_page()
    open_domain_page(fresh, server, "kalamar.fk")
    expect(fresh.get_by_role("textbox", name=NAME_BOX)).to_have_value("")
    expect(fresh.get_by_role("button", name="Accept").first).to_be_disabled()


@pytest.mark.parametrize(("width", "name"), [(1400, "domain"), (800, "domain-800")])
def test_screenshots_of_a_decided_domain(browser, server, width, name):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_domain_page(page, server, "north-american.com")
        give_name(page, "Ana Silva")
        reset = page.get_by_role("button", name="Reset")
        if reset.is_enabled():  # decided at the other width
            reset.click()
            expect(page.get_by_text("QA: Undecided")).to_be_visible()
            settle(page)
        decide(page, "Reject", 1, "Rejected")
        decide(page, "Accept", 0, "Accepted")
        assert qa_line(page).startswith("QA: Accepted: ")
        assert card_states(page)[:3] == ["Accepted", "Rejected", "Undecided"]
        page.wait_for_timeout(4000)  # the toasts fade
        shot(page, name)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    finally:
        context.close()


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database whose schema another program broke after the dashboard migrated it."""
    require_browser()
    folder = tmp_path_factory.mktemp("broken")
    url = f"sqlite:///{folder / 'broken.db'}"
    engine = make_engine(url)
    upgrade(engine)
    rows = [["acme.com", "5493001KJTIIGC8Y1R12", "Acme Ltd", "", ""]]
    import_batch(engine, write_csv(folder / "b.csv", rows), "b1")
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE domains RENAME COLUMN batch_id TO batch_name"))
    engine.dispose()
    with running_app(url, folder / "streamlit.log") as app:
        yield app.base


def test_an_unexpected_error_shows_the_apps_own_panel_and_nothing_spins(page, broken_server):
    page.goto(f"{broken_server}/domain?batch=b1&domain=acme.com")
    panel = page.get_by_text("The Domain page failed")
    panel.wait_for()
    settle(page)
    body = page.locator("body").inner_text()
    assert "quote the reference" in body
    for absent in ("Traceback", "Ask Google", "Ask ChatGPT", "This app has encountered an error"):
        assert absent not in body
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_test_id("stSpinner").count() == 0
    assert page.get_by_test_id("stStatusWidget").count() == 0
