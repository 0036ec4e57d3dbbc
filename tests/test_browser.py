"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

Starts the app on a free port against a database seeded with the demo, walks through the
pages as an analyst would, downloads the export through the page, and compares it with the
CLI's export. Screenshots of each page go to tests/screenshots/ (git-ignored), or to the
folder named by GLEIF_SCREENSHOT_DIR (`make screenshots` writes docs/screenshots/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request

import pytest
from playwright.sync_api import expect

from gleif_data.config import PROJECT_DIR
from gleif_data.db import make_engine
from tests.browser_kit import choose_batch, settle, shot
from tests.support import CHROMIUM, require_browser
from tests.transactions import read

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_overview_shows_the_batch_in_numbers(page, server):
    page.goto(f"{server}/?batch=demo-large")
    page.get_by_text("Domains by number of candidates").wait_for()
    settle(page)
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "6,000"
    shot(page, "overview")


def test_explore_filters_pages_and_keeps_its_state_in_the_url(page, server):
    page.goto(f"{server}/explore?batch=demo-small")
    page.get_by_text("of 200 domains match").wait_for()
    choose_batch(page, "demo-large")
    name_box = page.get_by_label("Legal name contains")
    name_box.fill("bank")
    name_box.press("Enter")
    settle(page)
    caption = page.get_by_text("domains match").inner_text()
    assert caption.startswith(tuple("123456789"))
    assert "of 6,000 domains match" in caption
    assert "name_contains=bank" in page.url
    page.get_by_role("button", name="Next").click()
    settle(page)
    assert "after=" in page.url
    shot(page, "explore")
    page.reload()
    page.get_by_text("domains match").wait_for()
    settle(page)
    expect(page.get_by_label("Legal name contains")).to_have_value("bank")
    assert "after=" in page.url
    # The filters follow the analyst to the Export page.
    page.get_by_role("link", name="Export").click()
    page.get_by_text("rows (Legal name contains").wait_for()
    assert page.get_by_text("rows (Legal name contains").inner_text().startswith("566 rows")


def test_domain_view_lists_candidates_with_gleif_facts(page, server):
    page.goto(
        f"{server}/domain?batch=demo-large&domain=%D1%88%D0%BF%D0%B0%D1%80%D0%BA%D0%B0%D1%81%D0%B5-%D0%B1%D0%B0%D0%BD%D0%BA%D0%B0.mk"
    )
    page.get_by_text("candidates, in the order").wait_for()
    settle(page)
    # The README's picture of this page: tests/test_browser_domain.py.
    assert page.locator("a[href^='https://search.gleif.org/#/record/']").count() >= 1
    expect(page.get_by_text("Registration ").first).to_be_visible()


def test_the_downloaded_export_equals_the_cli_export(page, server, seeded_url, tmp_path):
    page.goto(f"{server}/export?batch=demo-small&name_contains=bank&format=csv")
    page.get_by_text("rows").first.wait_for()
    settle(page)
    shot(page, "export")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download gleif-export_demo-small").click()
    downloaded = tmp_path / "browser.csv"
    info.value.save_as(downloaded)
    cli = subprocess.run(
        [sys.executable, "-m", "gleif_data", "export", "--batch", "demo-small",
         "--name-contains", "bank", "--out", "-"],
        env={**os.environ, "DATABASE_URL": seeded_url, "PYTHONPATH": str(PROJECT_DIR)},
        capture_output=True,
        check=True,
        timeout=300,
    )  # fmt: skip
    assert downloaded.read_bytes() == cli.stdout
    assert cli.stdout.count(b"\n") > 2
    assert info.value.suggested_filename.startswith("gleif-export_demo-small_")


def test_chromium_is_the_debian_one():
    require_browser()
    assert shutil.which("chromium") == str(CHROMIUM)


def test_the_running_server_streams_the_cli_export_over_http(server, seeded_url):
    url = f"{server}/api/export/demo-large?name_contains=bank&layout=candidate"
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback
        body = response.read()
        disposition = response.headers["Content-Disposition"]
    cli = subprocess.run(
        [sys.executable, "-m", "gleif_data", "export", "--batch", "demo-large",
         "--name-contains", "bank", "--layout", "candidate", "--out", "-"],
        env={**os.environ, "DATABASE_URL": seeded_url, "PYTHONPATH": str(PROJECT_DIR)},
        capture_output=True,
        check=True,
        timeout=300,
    )  # fmt: skip
    assert body == cli.stdout
    assert disposition.startswith('attachment; filename="gleif-export_demo-large_')


def test_an_analyst_accepts_a_candidate_in_the_browser(page, server, seeded_url):
    from gleif_data.decisions import domain_history
    from gleif_data.explore import explore_page
    from gleif_data.filters import DomainFilter

    engine = make_engine(seeded_url)
    domain = next(
        r
        for r in read(engine, explore_page, "demo-small", DomainFilter(), size=50).rows
        if r.candidate_count == 1
    )
    page.goto(f"{server}/domain?batch=demo-small&domain={domain.domain}")
    page.get_by_text("QA:").wait_for()
    page.get_by_label("Your name, recorded with your decisions").fill("Browser Analyst")
    page.get_by_label("Your name, recorded with your decisions").press("Enter")
    settle(page)
    page.get_by_role("button", name="Accept").click()
    page.get_by_text("Accepted", exact=False).first.wait_for()
    settle(page)
    shot(page, "domain-accepted")
    history = read(engine, domain_history, "demo-small", domain.domain)
    engine.dispose()
    assert [(h.action.value, h.lei_code, h.decided_by) for h in history] == [
        ("accept", domain.lei_codes, "Browser Analyst")
    ]
