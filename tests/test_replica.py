"""The dashboard and the route on a real hot standby, with writes going to its primary.

One primary and its streaming hot standby for the module (tests/replicated_postgres.py):
the demo is imported on the primary, and the pages, counts, decisions and every export run
with DATABASE_URL on the primary and DATABASE_READ_URL on the standby, or on the standby
alone. Pausing the standby's replay shows which database a read came from.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import product

import pytest
import streamlit as st
from sqlalchemy import Engine, select, text
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from dashboard.data import LAST_WRITE
from gleif_data.batch_summary import current_stamp
from gleif_data.config import PROJECT_DIR, DatabaseUrls
from gleif_data.db import make_engine, make_read_engine, primary_engine
from gleif_data.decisions import domain_history, record_decision
from gleif_data.demo import load_demo
from gleif_data.explore import count_domains
from gleif_data.export import ExportFormat, ExportLayout, ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from gleif_data.flags import Flag
from gleif_data.http_export import export_routes
from gleif_data.import_batch import import_batch
from gleif_data.migrate import upgrade
from gleif_data.models import BatchSummary
from gleif_data.overview import batch_overview, qa_overview
from gleif_data.qa_state import Action
from gleif_data.queries import list_batches
from gleif_data.replica import has_replayed, is_read_only, write_position
from tests.fingerprint import database_fingerprint
from tests.replicated_postgres import ReplicatedPostgres, wait_for_replay
from tests.support import running_app, write_csv
from tests.transactions import read, write

BATCH = "demo-small"
DOMAIN = "capricorn.ai"  # a demo-small domain with candidates
DECIDED_IN_BROWSER = "kalamar.fk"  # another one
EVERY_EXPORT = list(product(ExportFormat, ExportLayout))


@dataclass(frozen=True)
class Replicated:
    """The two servers, an engine on each, and the dashboard's engine (reads the standby)."""

    servers: ReplicatedPostgres
    primary: Engine
    standby: Engine
    read: Engine

    def env(self) -> dict[str, str]:
        """DATABASE_URL on the primary and DATABASE_READ_URL on the standby."""
        return {
            "DATABASE_URL": self.servers.primary_url.render_as_string(hide_password=False),
            "DATABASE_READ_URL": self.servers.standby_url.render_as_string(hide_password=False),
        }

    def caught_up(self) -> None:
        """Wait (bounded) until the standby has replayed every commit of the primary."""
        wait_for_replay(self.primary, self.standby)


@pytest.fixture(scope="module")
def replicated() -> Iterator[Replicated]:
    """A primary with the demo batches, and its hot standby that has replayed them."""
    servers = ReplicatedPostgres()
    engines: list[Engine] = []
    try:
        primary = make_engine(servers.primary_url)
        standby = make_engine(servers.standby_url)
        read = make_read_engine(DatabaseUrls(servers.primary_url, servers.standby_url))
        engines += [primary, standby, read, primary_engine(read)]
        upgrade(primary)
        load_demo(primary)
        replicated = Replicated(servers, primary, standby, read)
        replicated.caught_up()
        yield replicated
    finally:
        for engine in engines:
            engine.dispose()
        servers.remove()


@contextmanager
def replay_paused(standby: Engine) -> Iterator[None]:
    """The standby keeps answering but applies none of the primary's writes until the end."""
    with standby.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_pause()"))
        deadline = time.monotonic() + 30
        while connection.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar() != (
            "paused"
        ):
            assert time.monotonic() < deadline, "the standby did not pause its replay in 30 s"
            time.sleep(0.05)
        connection.commit()
    try:
        yield
    finally:
        with standby.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
            connection.commit()


def dashboard(monkeypatch, replicated: Replicated, page: str | None = None, **query) -> AppTest:
    """The app on the primary and the standby, run once (on `page` when given)."""
    for name, value in replicated.env().items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=60)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def calm(at: AppTest) -> bool:
    """Whether a page ran without an exception, an error panel or a warning."""
    return not (at.exception or at.error or at.warning)


def qa_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "**QA:**" in m.value)


def test_the_standby_is_a_read_only_copy_of_the_primary(replicated):
    with replicated.standby.connect() as connection:
        assert is_read_only(connection)
        assert connection.execute(text("SELECT pg_is_in_recovery()")).scalar()
        with replicated.primary.connect() as on_primary:
            assert not is_read_only(on_primary)
            position = write_position(on_primary)
        assert has_replayed(connection, position)
    expected = read(replicated.primary, list_batches)
    assert read(replicated.standby, list_batches) == expected
    assert read(replicated.read, list_batches) == expected


def test_every_export_from_the_standby_is_byte_identical_to_the_primarys(replicated):
    for export_format, layout in EVERY_EXPORT:
        options = ExportOptions(format=export_format, layout=layout)
        expected = export_bytes(replicated.primary, BATCH, options)
        assert export_bytes(replicated.read, BATCH, options) == expected, options
        assert export_bytes(replicated.standby, BATCH, options) == expected, options


def route(engine: Engine) -> TestClient:
    """The export route reading through `engine`, without sign-in."""
    return TestClient(Starlette(routes=export_routes(lambda: engine, lambda: None)))


def test_the_route_exports_from_the_standby_what_the_primary_exports(replicated, tmp_path):
    http, on_primary = route(replicated.read), route(replicated.primary)
    # A batch the standby has not replayed yet is not there for the route: it reads the standby.
    with replay_paused(replicated.standby):
        path = write_csv(tmp_path / "late.csv", [["late.com", "", "", "", ""]])
        import_batch(replicated.primary, path, "late")
        assert http.get("/api/export/late").status_code == 404
    replicated.caught_up()
    for batch in ("late", BATCH):
        for export_format, layout in EVERY_EXPORT:
            params = {"format": export_format, "layout": layout}
            response = http.get(f"/api/export/{batch}", params=params)
            assert response.status_code == 200
            # The route writes XLSX as a stream (zip data descriptors), so its bytes are the
            # route's on the primary; every other format is the CLI's bytes too.
            assert response.content == on_primary.get(f"/api/export/{batch}", params=params).content


def make_stale(replicated: Replicated) -> None:
    """A write by another program on the primary makes demo-small's stored counts stale."""
    with replicated.primary.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM gleif_candidates WHERE id = (SELECT min(c.id) FROM gleif_candidates c"
                " JOIN domains d ON d.id = c.domain_id WHERE d.batch_id = :batch)"
            ),
            {"batch": BATCH},
        )
    replicated.caught_up()


def stored_stamp(engine: Engine) -> tuple[int, int] | None:
    query = select(BatchSummary.batch_generation, BatchSummary.reference_generation)
    with engine.connect() as connection:
        row = connection.execute(query.where(BatchSummary.batch_id == BATCH)).first()
    return None if row is None else tuple(row)


def test_stale_counts_read_on_the_standby_are_stored_on_the_primary(replicated):
    make_stale(replicated)
    with replicated.primary.connect() as connection:
        stamp = tuple(current_stamp(connection, BATCH))
    assert stored_stamp(replicated.primary) != stamp
    overview = read(replicated.read, batch_overview, BATCH)
    assert overview == read(replicated.primary, batch_overview, BATCH)
    assert stored_stamp(replicated.primary) == stamp
    replicated.caught_up()
    assert stored_stamp(replicated.standby) == stamp


def test_the_standby_alone_counts_stale_batches_and_writes_nothing(replicated):
    make_stale(replicated)
    expected = read(replicated.primary, qa_overview, BATCH)
    with replicated.primary.begin() as connection:
        connection.execute(text("DELETE FROM batch_summaries WHERE batch_id = :b"), {"b": BATCH})
    replicated.caught_up()
    before = database_fingerprint(replicated.primary)
    assert read(replicated.standby, qa_overview, BATCH) == expected
    flag = DomainFilter(flags={Flag.NO_CANDIDATE})
    assert read(replicated.standby, count_domains, BATCH, flag) == expected.by_flag["no_candidate"]
    assert database_fingerprint(replicated.primary) == before


def test_the_pages_on_the_standby_show_the_batch(replicated, monkeypatch):
    make_stale(replicated)
    expected = read(replicated.primary, batch_overview, BATCH)
    # No stored counts at all: the pages count on the standby (and store on the primary).
    with replicated.primary.begin() as connection:
        connection.execute(text("DELETE FROM batch_summaries"))
    replicated.caught_up()
    at = dashboard(monkeypatch, replicated, batch=BATCH)
    assert calm(at)
    assert {m.label: m.value for m in at.metric}["Domains"] == f"{expected.domains:,}"
    at.switch_page("pages/explore.py")
    at.query_params["flags"] = "no_candidate"
    at.run()
    assert calm(at)
    assert any(f"of {expected.domains:,} domains match" in c.value for c in at.caption)
    at.switch_page("pages/domain.py")
    at.query_params["domain"] = DOMAIN
    at.run()
    assert calm(at)
    assert at.subheader[0].value == DOMAIN
    at.switch_page("pages/export.py").run()
    assert calm(at)


def test_a_decision_goes_to_the_primary_and_its_analyst_sees_it_at_once(replicated, monkeypatch):
    at = dashboard(monkeypatch, replicated, "pages/domain.py", batch=BATCH, domain=DOMAIN)
    at.text_input(key="analyst").input("Ana").run()
    with replay_paused(replicated.standby):
        next(b for b in at.button if b.label == "Accept").click().run()
        assert calm(at)
        # On the primary, not yet on the standby; the analyst's pages show it all the same.
        assert [h.decided_by for h in read(replicated.primary, domain_history, BATCH, DOMAIN)] == [
            "Ana"
        ]
        assert read(replicated.standby, domain_history, BATCH, DOMAIN) == []
        assert "Accepted" in qa_line(at)
        assert "last decision by Ana" in qa_line(at)
        assert at.session_state[LAST_WRITE].position is not None
        at.switch_page("pages/explore.py")
        at.query_params["qa_status"] = "accepted"
        at.run()
        assert DOMAIN in at.dataframe[0].value["domain"].tolist()
        # Another analyst reads the standby, which has not replayed it yet.
        other = dashboard(monkeypatch, replicated, "pages/domain.py", batch=BATCH, domain=DOMAIN)
        assert "Accepted" not in qa_line(other)
    replicated.caught_up()
    at.switch_page("pages/domain.py").run()
    assert "Accepted" in qa_line(at)
    assert at.session_state[LAST_WRITE].position is None, "back on the standby"
    other.run()
    assert "Accepted" in qa_line(other)


def test_a_review_decision_moves_the_queue_on_at_once(replicated, monkeypatch):
    at = dashboard(monkeypatch, replicated, "pages/review.py", batch=BATCH)
    at.text_input(key="analyst").input("Rui").run()
    first = at.subheader[0].value
    with replay_paused(replicated.standby):
        next(b for b in at.button if b.label == "No match").click().run()
        assert calm(at)
        assert at.subheader[0].value != first
        history = read(replicated.primary, domain_history, BATCH, first)
        assert [(h.action, h.decided_by) for h in history][-1] == (Action.NO_MATCH, "Rui")
    replicated.caught_up()


def test_exports_after_decisions_are_identical_once_the_standby_caught_up(replicated):
    write(
        replicated.read,
        record_decision,
        batch=BATCH,
        domain=DOMAIN,
        action=Action.RESET,
        decided_by="Ana",
    )
    replicated.caught_up()
    for export_format, layout in EVERY_EXPORT:
        options = ExportOptions(format=export_format, layout=layout)
        expected = export_bytes(replicated.primary, BATCH, options)
        assert export_bytes(replicated.read, BATCH, options) == expected, options


@pytest.fixture(scope="module")
def served(replicated, tmp_path_factory) -> Iterator[str]:
    """`streamlit run app.py` with its reads on the standby and its writes on the primary."""
    from tests.support import require_browser

    require_browser()
    env = replicated.env()
    log = tmp_path_factory.mktemp("replica-server") / "streamlit.log"
    with running_app(env.pop("DATABASE_URL"), log, env=env) as app:
        yield app.base


@pytest.mark.browser
def test_a_browser_walks_overview_explore_and_domain_on_the_standby(browser, served, replicated):
    from tests.browser_kit import settle, shot
    from tests.test_browser_domain import decide, give_name, qa_line

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        expected = read(replicated.standby, batch_overview, BATCH)
        page.goto(f"{served}/?batch={BATCH}")
        page.get_by_text("Domains by number of candidates").wait_for()
        settle(page)
        assert page.get_by_test_id("stMetricValue").first.inner_text() == f"{expected.domains:,}"
        page.goto(f"{served}/explore?batch={BATCH}&flags=ambiguous")
        page.get_by_test_id("stDataFrame").wait_for()
        page.get_by_text(f"of {expected.domains:,} domains match").wait_for()
        settle(page)
        shot(page, "replica-explore")
        page.goto(f"{served}/domain?batch={BATCH}&domain={DECIDED_IN_BROWSER}")
        page.get_by_role("heading", name=DECIDED_IN_BROWSER).wait_for()
        settle(page)
        for alarm in ("stException", "stAlertContentError", "stAlertContentWarning"):
            assert page.get_by_test_id(alarm).count() == 0
        # Decided while the standby applies nothing: the page shows it from the primary.
        give_name(page, "Browser Bo")
        with replay_paused(replicated.standby):
            decide(page, "Accept", 0, "Accepted")
            assert qa_line(page).startswith("QA: Accepted: ")
            assert read(replicated.standby, domain_history, BATCH, DECIDED_IN_BROWSER) == []
        history = read(replicated.primary, domain_history, BATCH, DECIDED_IN_BROWSER)
        assert [(h.action, h.decided_by) for h in history] == [(Action.ACCEPT, "Browser Bo")]
    finally:
        context.close()


@pytest.mark.browser
def test_the_served_route_downloads_from_the_standby(served, replicated):
    for export_format, layout in EVERY_EXPORT:
        url = f"{served}/api/export/{BATCH}?format={export_format}&layout={layout}"
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback
            body = response.read()
        assert body == route(replicated.primary).get(url.removeprefix(served)).content
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{served}/api/export/no-such-batch", timeout=60)  # noqa: S310
    assert refused.value.code == 404
