"""Explore and Overview in Debian's Chromium, clicked as an analyst clicks them.

The Explore grid is a canvas: a row is clicked on its checkbox cell, by position. The demo is
served from SQLite; the flows do not differ on PostgreSQL (the library tests cover both).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from gleif_data.db import make_engine
from gleif_data.explore import explore_page
from gleif_data.filters import DomainFilter
from tests.browser_kit import settle, shot
from tests.transactions import read

pytestmark = pytest.mark.browser
# A fresh server's first page, on a busy CI machine, takes longer than expect's 5 s.
expect.set_options(timeout=30_000)

HEADER_HEIGHT = 35
ROW_HEIGHT = 35
CHECKBOX_X = 18


def open_page(browser, width: int = 1400, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser)
    yield page
    page.context.close()


def grid_box(page) -> dict[str, float] | None:
    """Where the Explore grid is, once it has drawn."""
    grid = page.get_by_test_id("stDataFrame")
    grid.locator("canvas").first.wait_for()
    return grid.bounding_box()


def click_row(page, index: int) -> None:
    """Tick the checkbox cell of a row of the Explore grid."""
    box = grid_box(page)
    assert box is not None
    page.mouse.click(
        box["x"] + CHECKBOX_X, box["y"] + HEADER_HEIGHT + ROW_HEIGHT * index + ROW_HEIGHT / 2
    )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def position(page):
    """The position line under the grid; written last, once the page's run has finished."""
    return page.get_by_text(re.compile(r"^Rows \d"))


def test_a_deep_link_is_a_fresh_servers_first_request_and_app_py_serves_it(
    browser, seeded_url, tmp_path
):
    """/explore before any other page: app.py runs it, with its navigation and sign-in.

    Guards the PagesManager patch in app.py: without it, Streamlit takes pages/ for its older
    folder-based pages and runs pages/explore.py alone, under a sidebar of file names.
    """
    from tests.support import running_app

    with running_app(seeded_url, tmp_path / "streamlit.log") as app:
        page = open_page(browser)
        try:
            page.goto(f"{app.base}/explore")
            expect(page.get_by_role("heading", name="Explore")).to_be_visible()
            grid_box(page)
            settle(page)
            # The top navigation that app.py's st.navigation draws, with the pages' titles.
            nav = page.get_by_test_id("stTopNavLink")
            expect(nav).to_contain_text(["Overview", "Explore", "Review", "Domain", "Export"])
            expect(page.get_by_test_id("stSidebar")).to_have_count(0)
            expect(page.get_by_text("Page not found")).to_have_count(0)
        finally:
            page.context.close()


def test_clicking_a_row_opens_its_domain_and_back_returns_to_the_same_page(
    page, server, seeded_url
):
    filters = DomainFilter(name_contains="a")
    engine = make_engine(seeded_url)
    first = read(engine, explore_page, "demo-small", filters)
    second = read(engine, explore_page, "demo-small", filters, after=first.next_after)
    engine.dispose()
    page.goto(f"{server}/explore?batch=demo-small&name_contains=a")
    expect(position(page)).to_contain_text("Rows 1-50 of ")
    page.get_by_role("button", name="Next").click()
    expect(position(page)).to_contain_text("Rows 51-100 of ")
    settle(page)
    explore_url = page.url
    assert "after=" in explore_url

    click_row(page, 2)
    page.wait_for_url("**/domain?**")
    page.get_by_text("QA:").first.wait_for()
    settle(page)
    chosen = second.rows[2].domain
    assert query(page.url) == {"batch": ["demo-small"], "domain": [chosen]}
    assert page.get_by_role("heading", name=chosen).is_visible()

    page.go_back()
    page.wait_for_url(explore_url)
    expect(position(page)).to_contain_text("Rows 51-100 of ")
    expect(page.get_by_label("Legal name contains")).to_have_value("a")
    assert page.url == explore_url

    # The filters followed the analyst to the Domain page and on to Export.
    page.go_forward()
    page.get_by_text("QA:").first.wait_for()
    settle(page)
    page.get_by_role("link", name="Export").click()
    page.get_by_text("rows (Legal name contains").wait_for()
    assert query(page.url)["batch"] == ["demo-small"]


def test_a_header_click_does_not_reorder_the_page(page, server, seeded_url):
    engine = make_engine(seeded_url)
    rows = read(engine, explore_page, "demo-large", DomainFilter()).rows
    engine.dispose()
    page.goto(f"{server}/explore?batch=demo-large")
    expect(position(page)).to_have_text("Rows 1-50 of 6,000 matching")
    settle(page)
    for x in (100, 260):  # the Domain and Candidates headers
        box = grid_box(page)
        assert box is not None
        page.mouse.click(box["x"] + x, box["y"] + HEADER_HEIGHT / 2)
        settle(page)
    click_row(page, 0)
    page.wait_for_url("**/domain?**")
    assert query(page.url)["domain"] == [rows[0].domain]


def test_last_shows_the_final_rows_and_the_position_line_follows(page, server):
    page.goto(f"{server}/explore?batch=demo-large")
    expect(position(page)).to_have_text("Rows 1-50 of 6,000 matching")
    expect(page.get_by_role("button", name="First")).to_be_disabled()
    page.get_by_role("button", name="Last").click()
    expect(position(page)).to_have_text("Rows 5,951-6,000 of 6,000 matching")
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    expect(page.get_by_role("button", name="Last")).to_be_disabled()
    assert query(page.url)["before"] == ["end"]
    page.get_by_role("button", name="Previous").click()
    expect(position(page)).to_have_text("Rows 5,901-5,950 of 6,000 matching")
    page.get_by_role("button", name="First").click()
    expect(position(page)).to_have_text("Rows 1-50 of 6,000 matching")


def test_an_overview_flag_count_opens_explore_filtered_by_that_flag_alone(page, server):
    # A filter set earlier must not narrow what the count promised.
    page.goto(f"{server}/explore?batch=demo-small&name_contains=bank")
    expect(position(page)).to_contain_text("Rows 1-")
    page.get_by_role("link", name="Overview").click()
    page.get_by_text("Domains by flag").wait_for()
    settle(page)
    count = page.locator(".st-key-flag_shared_lei").get_by_role("button").first
    shown = count.inner_text()
    count.click()
    page.wait_for_url("**/explore?**")
    expect(page.get_by_text("domains match")).to_contain_text(f"{shown} of 200 domains match")
    assert query(page.url) == {"batch": ["demo-small"], "flags": ["shared_lei"]}

    page.go_back()
    page.get_by_text("Domains by flag").wait_for()
    settle(page)
    page.locator(".st-key-qa_undecided").get_by_role("button").first.click()
    page.wait_for_url("**/explore?**")
    page.get_by_text("domains match").wait_for()
    assert query(page.url) == {"batch": ["demo-small"], "qa_status": ["undecided"]}


@pytest.mark.parametrize("width", [800, 1400])
def test_overview_and_explore_fit_the_window(browser, server, width):
    page = open_page(browser, width=width, height=1000)
    try:
        for path, name, ready in (
            ("?batch=demo-large", "overview", "Domains by flag"),
            ("explore?batch=demo-large&flags=ambiguous", "explore", " matching"),
        ):
            page.goto(f"{server}/{path}")
            page.get_by_text(ready).wait_for()
            settle(page)
            assert not page.get_by_test_id("stSidebar").is_visible()
            overflowing = page.evaluate(
                """() => [...document.querySelectorAll('button, button *, label, label *, p')]
                    .filter(e => e.offsetParent !== null && e.clientWidth > 1)
                    .filter(e => e.scrollWidth > e.clientWidth + 1
                              || e.getBoundingClientRect().right > window.innerWidth)
                    .map(e => e.innerText.slice(0, 40))"""
            )
            assert overflowing == [], f"{name} at {width} px: cut or off-screen: {overflowing}"
            if width < 1000:
                shot(page, f"{name}-{width}px")
            elif name == "overview":
                # The README's picture, once the charts have loaded their code and drawn.
                charts = page.get_by_test_id("stVegaLiteChart")
                expect(charts).to_have_count(2)
                for chart in charts.all():
                    chart.locator("canvas, svg").first.wait_for()
                shot(page, "overview")
    finally:
        page.context.close()


def test_a_bulk_accept_lists_what_it_accepted_and_undoes_exactly_that(page, server, seeded_url):
    from gleif_data.decisions import bulk_accept_result, bulk_accepts, domain_history

    page.goto(f"{server}/explore?batch=demo-small")
    expect(position(page)).to_contain_text("Rows 1-50 of ")
    page.get_by_text("Bulk QA").click()
    clean = page.get_by_text("have exactly one candidate")
    clean.wait_for()
    score = page.get_by_role("spinbutton", name="Name score at least (optional)")
    score.fill("90")
    score.press("Enter")
    expect(clean).to_contain_text("a name score of at least 90")
    name = page.get_by_label("Your name, recorded with your decisions")
    name.fill("Bulk Analyst")
    name.press("Enter")
    accept = page.get_by_role("button", name="Accept their single candidates...")
    expect(accept).to_be_enabled()
    accept.click()
    page.get_by_role("button", name="Accept them").click()
    undo = page.get_by_role("button", name="Undo this bulk accept")
    undo.wait_for()
    settle(page)
    undo.scroll_into_view_if_needed()
    shot(page, "explore-bulk-accept")

    engine = make_engine(seeded_url)
    try:
        (summary,) = read(engine, bulk_accepts, "demo-small")
        accepted = read(engine, bulk_accept_result, "demo-small", summary.bulk_id).accepted
        assert summary.accepted == len(accepted) > 0
        assert page.get_by_text(f"accepted {len(accepted):,} domains").is_visible()
        domain, lei, _ = accepted[0]
        page.get_by_role("button", name="Undo this bulk accept").click()
        expect(page.get_by_text("acceptances withdrawn")).to_contain_text(
            f"{len(accepted):,} acceptances withdrawn"
        )
        history = read(engine, domain_history, "demo-small", domain)
        assert [(h.action.value, h.lei_code, h.decided_by) for h in history] == [
            ("accept", lei, "Bulk Analyst"),
            ("withdraw", lei, "Bulk Analyst"),
        ]
        assert read(engine, bulk_accepts, "demo-small")[0].in_force == 0
    finally:
        engine.dispose()
