"""The view in the URL, in Debian's Chromium: what a link names is what the page shows."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from gleif_data.db import make_engine
from gleif_data.explore import count_domains
from gleif_data.filters import DomainFilter
from tests.browser_kit import settle
from tests.transactions import read

pytestmark = pytest.mark.browser
# A fresh server's first page, on a busy CI machine, takes longer than expect's 5 s.
expect.set_options(timeout=30_000)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def position(page):
    return page.get_by_text(re.compile(r"^Rows \d"))


def count_line(page):
    return page.get_by_text(re.compile(r"domains match\."))


def test_the_batch_is_always_in_the_url(page, server):
    page.goto(f"{server}/explore")
    expect(page).to_have_url(re.compile(r"[?&]batch=demo-large\b"))
    expect(position(page)).to_have_text("Rows 1-50 of 6,000 matching")


def test_an_unknown_batch_lists_the_batches_and_shows_no_data(page, server):
    page.goto(f"{server}/explore?batch=nope")
    message = page.get_by_text('There is no batch named "nope". Choose one of these:')
    expect(message).to_be_visible()
    settle(page)
    assert page.get_by_test_id("stDataFrame").count() == 0
    assert page.get_by_text("domains match").count() == 0
    page.get_by_role("link", name="demo-small").click()
    expect(page).to_have_url(re.compile(r"/explore\?batch=demo-small$"))
    expect(position(page)).to_have_text("Rows 1-50 of 200 matching")


def test_a_copied_export_link_exports_the_view_it_names(page, server, seeded_url):
    page.goto(f"{server}/explore?batch=demo-small&name_contains=bank")
    expect(count_line(page)).to_be_visible()
    settle(page)
    page.get_by_role("link", name="Export").click()
    expect(page).to_have_url(re.compile(r"/export\?.*name_contains=bank"))
    settle(page)
    copied = page.url
    assert query(copied)["batch"] == ["demo-small"]

    fresh = page.context.new_page()  # as a colleague opens the pasted link
    fresh.goto(copied)
    fresh.get_by_text("rows (Legal name contains").wait_for()
    settle(fresh)
    with fresh.expect_download() as download:
        fresh.get_by_role("button", name="Download gleif-export_demo-small").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    engine = make_engine(seeded_url)
    matching = read(engine, count_domains, "demo-small", DomainFilter(name_contains="bank"))
    engine.dispose()
    assert 0 < len(rows) == matching < 200
    assert all("bank" in row["all_legal_names"].lower() for row in rows)


def test_back_after_a_filter_change_shows_rows_that_agree_with_the_count(page, server):
    page.goto(f"{server}/explore?batch=demo-large")
    expect(position(page)).to_have_text("Rows 1-50 of 6,000 matching")
    page.get_by_role("button", name="Next").click()
    expect(position(page)).to_have_text("Rows 51-100 of 6,000 matching")
    settle(page)
    box = page.get_by_role("textbox", name="Legal name contains")
    box.fill("bank")
    box.press("Enter")
    expect(position(page)).to_have_text(re.compile(r"^Rows 1-50 of [\d,]+ matching"))
    settle(page)
    page.get_by_role("button", name="Next").click()
    expect(position(page)).to_have_text(re.compile(r"^Rows 51-"))
    settle(page)
    filtered = query(page.url)

    for _ in range(2):  # Back to the first filtered page, then to before the filter
        page.go_back()
        settle(page)
        expect(count_line(page)).to_be_visible()
        settle(page)
        shown = query(page.url)
        matching = re.match(r"([\d,]+) of", count_line(page).inner_text())
        assert matching is not None
        first, last, total = re.match(
            r"Rows ([\d,]+)-([\d,]+) of ([\d,]+) matching", position(page).inner_text()
        ).groups()
        assert total == matching.group(1)
        if shown.get("name_contains") == filtered["name_contains"]:
            assert "after" not in shown
            assert (first, last) == ("1", "50")
        else:
            assert (first, last, total) == ("51", "100", "6,000")


def test_a_filter_of_ten_thousand_characters_keeps_the_page_short(page, server):
    page.goto(f"{server}/explore?batch=demo-small&domain_contains={'x' * 10_000}")
    expect(page.get_by_text("No domain of this batch matches the filters")).to_be_visible()
    settle(page)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 1_500
