"""Review latency: from a decision key press to the next domain shown, in Chromium.

    .venv/bin/python benchmarks/review_latency.py                    # demo-large on SQLite
    .venv/bin/python benchmarks/review_latency.py --decisions 50
    .venv/bin/python benchmarks/review_latency.py --database-url postgresql://.../gleif_bench \
        --batch bench-1m                                              # a database of your own

Without --database-url it seeds a fresh SQLite file with the demo. It serves the dashboard
(`streamlit run app.py`), opens the Review page of the batch in Debian's Chromium, types an
analyst's name, then decides domain after domain by keyboard: `1` (accept the first
candidate) where there is one, else `n` (no match). Per decision it records two times from
the key press: until the next domain's card heading is on the page ("shown"), and until the
run has ended, with the queue position counted ("settled"). The decisions are really
recorded: on a database of your own, use a batch whose decisions you do not need.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from playwright.sync_api import sync_playwright  # noqa: E402

from gleif_data.db import make_engine  # noqa: E402
from gleif_data.demo import load_demo  # noqa: E402
from gleif_data.migrate import upgrade  # noqa: E402
from tests.browser_kit import settle  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

HEADING = "[data-testid='stHeading'] h3"
# The card's heading once it names another domain and is not a leftover of the previous run.
NEW_HEADING = """(previous) => {
  const heading = document.querySelector("[data-testid='stHeading'] h3");
  if (!heading || heading.closest("[data-stale='true']")) return false;
  return heading.textContent.trim() !== previous;
}"""
RUN_ENDED = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
NOTHING_STALE = "() => !document.querySelector(\"[data-stale='true']\")"


def main() -> None:
    """Parse the options, run the measurement, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file with the demo")
    parser.add_argument("--batch", default="demo-large")
    parser.add_argument("--decisions", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="review-latency-") as scratch:
        url = options.database_url or seed_demo(Path(scratch) / "demo.db")
        load_before = os.getloadavg()
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        shown, settled = measure(url, options.batch, options.decisions, Path(scratch))
        load_after = os.getloadavg()
    database = "SQLite (demo)" if not options.database_url else url.split("@")[-1]
    print(f"Review latency, {started}, {database}, batch {options.batch}")
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    for label, times in (("key press to next domain shown", shown), ("to run ended", settled)):
        print(f"- {label}: {describe(times)}")


def seed_demo(path: Path) -> str:
    """A fresh SQLite database with the demo batches."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    load_demo(engine)
    engine.dispose()
    return url


def measure(url: str, batch: str, decisions: int, scratch: Path) -> tuple[list[float], list[float]]:
    """Seconds from each key press to the next domain shown, and to the end of its run."""
    shown: list[float] = []
    settled: list[float] = []
    with running_app(url, scratch / "streamlit.log") as app, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{app.base}/review?batch={batch}")
        page.locator(HEADING).wait_for()
        settle(page)
        name = page.get_by_label("Your name, recorded with your decisions")
        name.fill("Latency Benchmark")
        name.press("Enter")
        settle(page)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        for _ in range(decisions + 1):  # the first press warms the caches up
            page.wait_for_function(NOTHING_STALE, polling="raf")  # the last card's buttons gone
            current = page.locator(HEADING).inner_text().strip()
            has_candidate = page.get_by_role("button", name="Accept").count() > 0
            start = time.perf_counter()
            page.keyboard.press("1" if has_candidate else "n")
            page.wait_for_function(NEW_HEADING, arg=current, polling="raf")
            shown.append(time.perf_counter() - start)
            page.wait_for_function(RUN_ENDED, polling="raf")
            ended = time.perf_counter()
            page.wait_for_timeout(300)  # the status widget may show a moment after the heading
            if not page.evaluate(RUN_ENDED):
                page.wait_for_function(RUN_ENDED, polling="raf")
                ended = time.perf_counter()
            settled.append(ended - start)
        browser.close()
    return shown[1:], settled[1:]


def describe(times: list[float]) -> str:
    """Median, 90th percentile and maximum, in seconds."""
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered):.3f} s, p90 {p90:.3f} s, "
        f"max {ordered[-1]:.3f} s over {len(ordered)} decisions"
    )


if __name__ == "__main__":
    main()
