"""Walk the dashboard in Chromium on a served batch and time what the analyst waits for.

    .venv/bin/streamlit run app.py --server.port 8600 &      # DATABASE_URL=.../gleif_bench
    .venv/bin/python benchmarks/dashboard_walk.py --base http://127.0.0.1:8600 --batch bench-large

Each step is timed from the click (or the address typed) until the text that shows its result
is on the page, and until Streamlit has finished the run ("settled"). Screenshots of each step
go to --shots. The figures are printed with the load average, for benchmarks/WALK.md.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_kit import settle  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def main() -> None:
    """Open each page of the batch once and print how long the analyst waited."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8600")
    parser.add_argument("--batch", default="bench-large")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--shots", type=Path, default=PROJECT_DIR / "benchmarks" / "out" / "walk")
    args = parser.parse_args()
    base, batch = args.base, args.batch
    args.shots.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_context(viewport={"width": args.width, "height": 1000}).new_page()
        page.set_default_timeout(90_000)

        def step(label: str, act: object, shows: str | re.Pattern[str]) -> None:
            start = time.monotonic()
            act()  # type: ignore[operator]
            page.get_by_text(shows).first.wait_for()
            shown = time.monotonic() - start
            settle(page)
            print(f"{label}: shown {shown:.2f} s, settled {time.monotonic() - start:.2f} s")
            page.screenshot(path=str(args.shots / f"{label.replace(' ', '-')}.png"))

        step("overview", lambda: page.goto(f"{base}/?batch={batch}"), "Domains by number")
        step("explore", lambda: page.goto(f"{base}/explore?batch={batch}"), re.compile("Rows 1-50"))
        step("explore next", lambda: page.get_by_role("button", name="Next").click(), "Rows 51-")
        step("explore last", lambda: page.get_by_role("button", name="Last").click(), " of ")
        step(
            "explore most candidates",
            lambda: page.get_by_text("Most candidates").first.click(),
            re.compile("Rows 1-50"),
        )
        step("review", lambda: page.goto(f"{base}/review?batch={batch}"), "left in this queue")
        step("export", lambda: page.goto(f"{base}/export?batch={batch}"), "rows")
        browser.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
