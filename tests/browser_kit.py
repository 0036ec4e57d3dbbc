"""What the browser tests share: waiting for Streamlit, screenshots, the batch picker.

The `browser` fixture (one Debian Chromium per test session) is in conftest.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from gleif_data.config import PROJECT_DIR

SHOTS = Path(os.environ.get("GLEIF_SCREENSHOT_DIR", PROJECT_DIR / "tests" / "screenshots"))


def settle(page) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )
    page.wait_for_timeout(300)


def shot(page, name: str) -> None:
    """A full-page screenshot in SHOTS, once the charts and tables have drawn."""
    # Charts and tables draw on canvases after the run ends; give each one time to. The
    # picture is for people: a slow machine gets a plainer one, never a failed test.
    drawn = page.locator("[data-testid='stVegaLiteChart'], [data-testid='stDataFrame']")
    for element in drawn.all():
        try:
            element.locator("canvas, svg").first.wait_for(timeout=20_000)
        except PlaywrightTimeout:
            break
    page.wait_for_timeout(1000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def choose_batch(page, name: str) -> None:
    """Pick a batch in the batch selector."""
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=name).click()
    settle(page)
