"""Explore and Overview in Debian's Chromium, clicked as an analyst clicks them.

The Explore grid is a canvas: a row is clicked on its checkbox cell, by position. The demo is
served from SQLite; the flows do not differ on PostgreSQL (the library tests cover both).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from gleif_data.db import make_engine
from gleif_data.demo import load_demo
from gleif_data.explore import explore_page
from gleif_data.filters import DomainFilter
from gleif_data.migrate import upgrade
from tests.browser_kit import settle, shot
from tests.support import require_browser, running_app

pytestmark = pytest.mark.browser

HEADER_HEIGHT = 35
ROW_HEIGHT = 35
CHECKBOX_X = 18


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_explore') / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_demo(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def server(seeded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    with running_app(seeded_url, tmp_path_factory.mktemp("server") / "streamlit.log") as app:
        yield app.base


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


def click_row(page, index: int) -> None:
    """Tick the checkbox cell of a row of the Explore grid."""
    box = page.get_by_test_id("stDataFrame").bounding_box()
    assert box is not None
    page.mouse.click(
        box["x"] + CHECKBOX_X, box["y"] + HEADER_HEIGHT + ROW_HEIGHT * index + ROW_HEIGHT / 2
    )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def position_line(page) -> str:
    return page.get_by_text("Rows ").inner_text()


def test_clicking_a_row_opens_its_domain_and_back_returns_to_the_same_page(
    page, server, seeded_url
):
    filters = DomainFilter(name_contains="a")
    engine = make_engine(seeded_url)
    first = explore_page(engine, "demo-small", filters)
    second = explore_page(engine, "demo-small", filters, after=first.next_after)
    engine.dispose()
    page.goto(f"{server}/explore?batch=demo-small&name_contains=a")
    page.get_by_text("domains match").wait_for()
    settle(page)
    page.get_by_role("button", name="Next").click()
    settle(page)
    explore_url = page.url
    assert position_line(page).startswith("Rows 51-100 of ")

    click_row(page, 2)
    page.wait_for_url("**/domain?**")
    page.get_by_text("QA decision").wait_for()
    settle(page)
    chosen = second.rows[2].domain
    assert query(page.url) == {"batch": ["demo-small"], "domain": [chosen]}
    assert page.get_by_role("heading", name=chosen).is_visible()

    page.go_back()
    page.wait_for_url(explore_url)
    page.get_by_text("Rows ").wait_for()
    settle(page)
    assert page.url == explore_url
    assert position_line(page).startswith("Rows 51-100 of ")
    assert page.get_by_label("Legal name contains").input_value() == "a"

    # The filters followed the analyst to the Domain page and on to Export.
    page.go_forward()
    page.get_by_text("QA decision").wait_for()
    settle(page)
    page.get_by_role("link", name="Export").click()
    page.get_by_text("rows (legal name contains").wait_for()
    assert query(page.url)["batch"] == ["demo-small"]


def test_a_header_click_does_not_reorder_the_page(page, server, seeded_url):
    engine = make_engine(seeded_url)
    rows = explore_page(engine, "demo-large", DomainFilter()).rows
    engine.dispose()
    page.goto(f"{server}/explore?batch=demo-large")
    page.get_by_text("domains match").wait_for()
    settle(page)
    box = page.get_by_test_id("stDataFrame").bounding_box()
    assert box is not None
    for x in (100, 260):  # the Domain and Candidates headers
        page.mouse.click(box["x"] + x, box["y"] + HEADER_HEIGHT / 2)
        settle(page)
    click_row(page, 0)
    page.wait_for_url("**/domain?**")
    assert query(page.url)["domain"] == [rows[0].domain]


def test_last_shows_the_final_rows_and_the_position_line_follows(page, server):
    page.goto(f"{server}/explore?batch=demo-large")
    page.get_by_text("domains match").wait_for()
    settle(page)
    assert position_line(page) == "Rows 1-50 of 6,000 matching"
    assert page.get_by_role("button", name="First").is_disabled()
    page.get_by_role("button", name="Last").click()
    settle(page)
    assert position_line(page) == "Rows 5,951-6,000 of 6,000 matching"
    assert page.get_by_role("button", name="Next").is_disabled()
    assert page.get_by_role("button", name="Last").is_disabled()
    page.get_by_role("button", name="Previous").click()
    settle(page)
    assert position_line(page) == "Rows 5,901-5,950 of 6,000 matching"
    page.get_by_role("button", name="First").click()
    settle(page)
    assert position_line(page) == "Rows 1-50 of 6,000 matching"


def test_an_overview_flag_count_opens_explore_filtered_by_that_flag_alone(page, server):
    # A filter set earlier must not narrow what the count promised.
    page.goto(f"{server}/explore?batch=demo-small&name_contains=bank")
    page.get_by_text("domains match").wait_for()
    settle(page)
    page.get_by_role("link", name="Overview").click()
    page.get_by_text("Domains by flag").wait_for()
    settle(page)
    count = page.locator(".st-key-flag_shared_lei").get_by_role("button").first
    shown = count.inner_text()
    count.click()
    page.wait_for_url("**/explore?**")
    page.get_by_text("domains match").wait_for()
    settle(page)
    assert query(page.url) == {"batch": ["demo-small"], "flags": ["shared_lei"]}
    assert page.get_by_text("domains match").inner_text().startswith(f"{shown} of 200 domains")

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
            ("explore?batch=demo-large&flags=ambiguous", "explore", "domains match"),
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
    finally:
        page.context.close()


def test_a_bulk_accept_lists_what_it_accepted_and_undoes_exactly_that(page, server, seeded_url):
    from gleif_data.decisions import bulk_accept_result, bulk_accepts, domain_history

    page.goto(f"{server}/explore?batch=demo-small")
    page.get_by_text("domains match").wait_for()
    settle(page)
    page.get_by_text("Bulk QA").click()
    page.get_by_text("have exactly one candidate").wait_for()
    score = page.get_by_role("spinbutton", name="Name score at least (optional)")
    score.fill("90")
    score.press("Enter")
    settle(page)
    assert (
        "a name score of at least 90" in page.get_by_text("have exactly one candidate").inner_text()
    )
    name = page.get_by_label("Your name, recorded with your decisions")
    name.fill("Bulk Analyst")
    name.press("Enter")
    settle(page)
    page.get_by_role("button", name="Accept their single candidates...").click()
    page.get_by_role("button", name="Accept them").click()
    undo = page.get_by_role("button", name="Undo this bulk accept")
    undo.wait_for()
    settle(page)
    undo.scroll_into_view_if_needed()
    shot(page, "explore-bulk-accept")

    engine = make_engine(seeded_url)
    try:
        (summary,) = bulk_accepts(engine, "demo-small")
        accepted = bulk_accept_result(engine, "demo-small", summary.bulk_id).accepted
        assert summary.accepted == len(accepted) > 0
        assert page.get_by_text(f"accepted {len(accepted):,} domains").is_visible()
        domain, lei, _ = accepted[0]
        page.get_by_role("button", name="Undo this bulk accept").click()
        page.get_by_text("acceptances withdrawn").wait_for()
        settle(page)
        assert page.get_by_text(f"{len(accepted):,} acceptances withdrawn").is_visible()
        history = domain_history(engine, "demo-small", domain)
        assert [(h.action.value, h.lei_code, h.decided_by) for h in history] == [
            ("accept", lei, "Bulk Analyst"),
            ("withdraw", lei, "Bulk Analyst"),
        ]
        assert bulk_accepts(engine, "demo-small")[0].in_force == 0
    finally:
        engine.dispose()
