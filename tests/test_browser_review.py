"""The Review page in Debian's Chromium: an analyst walks the queue by keyboard alone.

Runs on an SQLite and a PostgreSQL database seeded with the demo. Screenshots of the page at
1400 and 800 px wide go to tests/screenshots/ (or GLEIF_SCREENSHOT_DIR: `make screenshots`).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from gleif_data.db import make_engine
from gleif_data.decisions import domain_history
from gleif_data.demo import load_demo
from gleif_data.domain_detail import find_domain
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.migrate import upgrade
from gleif_data.review_queue import ReviewQueue, next_domain
from tests.browser_kit import settle, shot
from tests.conftest import create_database
from tests.transactions import read

pytestmark = pytest.mark.browser
BATCH = "demo-large"
NAME_BOX = "Your name, recorded with your decisions"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('review') / 'demo.db'}"
    else:
        raw = os.environ.get("TEST_DATABASE_URL", "").strip()
        if not raw:
            pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests cannot run")
        base = make_url(raw)
        url = base.set(database=f"{base.database}_review_browser").render_as_string(
            hide_password=False
        )
        create_database(make_url(url), fresh=True)
    engine = make_engine(url)
    upgrade(engine)
    load_demo(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(seeded_url):
    engine = make_engine(seeded_url)
    yield engine
    engine.dispose()


def open_page(browser, width: int = 1400):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def shown(page, domain: str) -> None:
    """Wait until the card of this domain is on the page and the run has ended."""
    page.get_by_role("heading", name=domain).wait_for()
    page.get_by_text("in this queue").wait_for()
    settle(page)
    # The previous domain's card goes once the run has ended; its keys must not be pressed.
    page.wait_for_function("() => !document.querySelector(\"[data-stale='true']\")")


def card_says(page, state: str):
    """The first candidate card whose title line ends with this state."""
    titles = page.get_by_test_id("stMarkdownContainer")
    return titles.filter(has_text=re.compile(rf"^\d+\. .*{state}\s*$")).first


def first_domains(engine, count: int) -> list[str]:
    """The queue's first domains, before any decision."""
    queue, names, at = ReviewQueue(BATCH), [], None
    for _ in range(count):
        found = read(engine, next_domain, queue, after=at)
        names.append(found.domain)
        at = found.domain_id
    return names


def test_an_analyst_reviews_the_queue_by_keyboard_alone(browser, server, engine):
    first, second, third, fourth = first_domains(engine, 4)
    candidates = {
        name: [c.lei_code for c in read(engine, find_domain, BATCH, name).candidates]
        for name in (first, third)
    }
    assert len(candidates[third]) >= 2  # the demo's third domain has a candidate to reject

    page = open_page(browser)
    page.goto(f"{server}/review?batch={BATCH}")
    shown(page, first)
    assert page.get_by_text("1 of ").first.inner_text().endswith("left in this queue")

    # Without a name nothing is recorded.
    page.keyboard.press("1")
    page.get_by_text("Type your name first").wait_for()
    assert read(engine, domain_history, BATCH, first) == []
    name_box = page.get_by_label(NAME_BOX)
    name_box.fill("Keyboard Analyst")
    name_box.press("Enter")
    settle(page)
    page.evaluate("document.activeElement && document.activeElement.blur()")

    page.keyboard.press("1")  # accept candidate 1, move on
    shown(page, second)
    page.keyboard.press("s")  # skip
    shown(page, third)
    page.keyboard.press("Shift+2")  # reject candidate 2: candidate 1 is still undecided
    card_says(page, "Rejected").wait_for()
    settle(page)
    page.get_by_role("heading", name=third).wait_for()
    page.keyboard.press("n")  # no match, move on
    shown(page, fourth)
    for previous in (third, second, first):
        page.keyboard.press("b")
        shown(page, previous)

    assert [
        (h.action.value, h.lei_code, h.decided_by)
        for h in read(engine, domain_history, BATCH, first)
    ] == [("accept", candidates[first][0], "Keyboard Analyst")]
    assert read(engine, domain_history, BATCH, second) == []
    assert [(h.action.value, h.lei_code) for h in read(engine, domain_history, BATCH, third)] == [
        ("reject", candidates[third][1]),
        ("no_match", None),
    ]

    # The accepted domain is shown as such, and a reload keeps it on the page.
    card_says(page, "Accepted").wait_for()
    page.reload()
    shown(page, first)
    assert page.get_by_text("not in the queue").count() == 1

    # A copied link opens the same domain in a new browser.
    link = page.url
    assert f"domain={quote(first)}" in link or f"domain={first}" in link
    other = open_page(browser)
    other.goto(link)
    shown(other, first)
    other.context.close()
    page.context.close()


def test_a_domain_is_matched_to_an_entity_found_by_search(browser, server, engine):
    page = open_page(browser)
    page.goto(f"{server}/review?batch={BATCH}&domain=nuclear-fuel.jp")
    shown(page, "nuclear-fuel.jp")
    page.get_by_label(NAME_BOX).fill("Search Analyst")
    page.get_by_label(NAME_BOX).press("Enter")
    settle(page)
    search = page.get_by_label("Search GLEIF by name or LEI")
    search.fill("nuclear fuel industries")
    search.press("Enter")
    page.get_by_text("NUCLEAR FUEL INDUSTRIES, LTD.").wait_for()
    settle(page)
    page.get_by_role("button", name="Accept this entity").first.click()
    page.get_by_role("heading", name="nuclear-fuel.jp").wait_for(state="detached")
    settle(page)
    page.context.close()
    exported = export_bytes(
        engine,
        BATCH,
        ExportOptions(filters=DomainFilter(domain_contains="nuclear-fuel.jp"), with_qa=True),
    ).decode()
    assert 'nuclear-fuel.jp,0,,,accepted,549300K3IOBXFY2QEU19,"NUCLEAR FUEL INDUSTRIES, LTD."' in (
        exported
    )


def test_screenshots_of_the_review_page(browser, server, seeded_url):
    if not seeded_url.startswith("sqlite"):
        pytest.skip("one set of screenshots is enough")
    for width, name in ((1400, "review"), (800, "review-narrow")):
        page = open_page(browser, width)
        page.goto(f"{server}/review?batch={BATCH}&domain=battistini-r.it")
        shown(page, "battistini-r.it")
        if width == 1400:  # show a candidate's state: reject one of the five
            page.get_by_label(NAME_BOX).fill("Screenshot Analyst")
            page.get_by_label(NAME_BOX).press("Enter")
            settle(page)
            page.get_by_role("button", name="Reject").nth(1).click()
            card_says(page, "Rejected").wait_for()
            settle(page)
        shot(page, name)
        page.context.close()


def test_an_empty_queue_says_so_and_links_back(browser, server):
    page = open_page(browser)
    page.goto(f"{server}/review?batch={BATCH}&domain_contains=no-such-domain-anywhere")
    page.get_by_text("Nothing left to review in this queue").wait_for()
    settle(page)
    assert page.get_by_role("link", name="Explore").count() >= 1
    page.context.close()
