"""Two dashboard servers behind HAProxy, set up with deploy/'s own files, driven in Chromium.

Each server is started by `deploy/serve PORT` (what the systemd unit runs) and HAProxy runs
`deploy/haproxy.cfg` itself, its addresses given by the environment the file reads. Sign-in is
on (a real OpenID Connect provider on the loopback interface), so export links are signed
and the sign-in cookie must be honoured by both servers: the servers share the secrets as
deploy/README.md says. Without Debian's haproxy the tests are skipped on a developer machine
and fail under CI=true, like the browser tests without Chromium.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from secrets import token_urlsafe
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from gleif_data.config import PROJECT_DIR
from gleif_data.db import make_engine
from gleif_data.explore import explore_page
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.filters import DomainFilter
from tests.browser_kit import settle, shot
from tests.support import (
    free_port,
    require_browser,
    require_program,
    stop_process,
    wait_until_healthy,
)
from tests.test_signin import ANALYST, identity_provider
from tests.transactions import read

# Raised inside the provider's token endpoint, a test tool's affair.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")
# A fresh server's first page, on a busy CI machine, takes longer than expect's 5 s.
expect.set_options(timeout=30_000)

HAPROXY = Path("/usr/sbin/haproxy")
DEPLOY = PROJECT_DIR / "deploy"
BATCH = "demo-small"
NAME = "bank"  # the Legal name filter of the walk: a view worth keeping across servers
HTTP_TIMEOUT = 60
COOKIE_SECRET = token_urlsafe(32)
STICKY_COOKIE = "SERVERID"  # deploy/haproxy.cfg's cookie line


def require_haproxy() -> None:
    """Skip without Debian's haproxy on a developer machine; fail under CI=true."""
    require_program(HAPROXY, "haproxy")


class Server:
    """One dashboard server as deploy/serve starts it, on a fixed port, stopped and restarted."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Run deploy/serve PORT and wait until the server answers its health check."""
        with self._log.open("ab") as output:
            self._process = subprocess.Popen(
                [str(DEPLOY / "serve"), str(self.port)],
                env=self._env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_until_healthy(f"{self.base}/_stcore/health", self._process, self._log)

    def stop(self) -> None:
        """Stop the server as systemd would (SIGTERM, then SIGKILL after a while)."""
        if self._process is not None:
            stop_process(self._process)
            self._process = None


@dataclass(frozen=True)
class Deployment:
    """The balancer's base URL, its two servers by HAProxy's names, and the database URL."""

    base: str
    servers: dict[str, Server]
    database: str

    def other(self, name: str) -> Server:
        """The server that is not `name`."""
        return next(s for n, s in self.servers.items() if n != name)


def auth_secrets(balancer: str, issuer: str) -> str:
    """One [auth] section for both servers: the balancer's callback, one cookie secret."""
    return (
        "[auth]\n"
        f'redirect_uri = "{balancer}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "gleif-dashboard"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )


@contextmanager
def balancer(port: int, servers: dict[str, Server], log: Path) -> Iterator[str]:
    """HAProxy running deploy/haproxy.cfg, unchanged, in front of the servers; its base URL."""
    env = {
        **os.environ,
        "GLEIF_BIND": f"127.0.0.1:{port}",
        **{f"GLEIF_{name.upper()}": f"127.0.0.1:{s.port}" for name, s in servers.items()},
    }
    if os.geteuid() != 0:  # only root may switch to the haproxy user
        env["GLEIF_HAPROXY_USER"] = ""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(HAPROXY), "-db", "-f", str(DEPLOY / "haproxy.cfg")],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{base}/_stcore/health", process, log)
        yield base
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def deployment(seeded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two servers on the demo database behind HAProxy, with sign-in through a real provider."""
    require_browser()
    require_haproxy()
    tmp = tmp_path_factory.mktemp("balancer")
    home = tmp / "home"  # no ~/.streamlit of the machine's user
    home.mkdir()
    port = free_port()
    with pytest.MonkeyPatch.context() as patch, identity_provider(ANALYST) as issuer:
        # Both ends of the sign-in speak plain HTTP on the loopback interface.
        patch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
        secrets = tmp / "secrets.toml"
        secrets.write_text(auth_secrets(f"http://127.0.0.1:{port}", issuer), encoding="utf-8")
        env = {
            **os.environ,
            "HOME": str(home),
            "DATABASE_URL": seeded_url,
            "GLEIF_PYTHON": sys.executable,
            "STREAMLIT_SERVER_COOKIE_SECRET": COOKIE_SECRET,
            "STREAMLIT_SECRETS_FILES": str(secrets),
        }
        servers = {name: Server(name, env, tmp / f"{name}.log") for name in ("app1", "app2")}
        try:
            for server in servers.values():
                server.start()
            with balancer(port, servers, tmp / "haproxy.log") as base:
                yield Deployment(base, servers, seeded_url)
        finally:
            for server in servers.values():
                server.stop()


@pytest.fixture
def page(browser, deployment):
    """A fresh Chromium context, signed in through the balancer as the analyst."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", _loopback_only)
    page = context.new_page()
    page.set_default_timeout(60_000)  # two servers, HAProxy and a sign-in on a busy machine
    page.goto(f"{deployment.base}/?batch={BATCH}")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=ANALYST.sub, exact=True).click()
    page.get_by_test_id("stMetricValue").first.wait_for()
    settle(page)
    yield page
    context.close()


def _loopback_only(route) -> None:
    # The provider's pages link a stylesheet on a CDN; this machine reaches no such host.
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def stuck_to(page) -> str:
    """The server HAProxy keeps this browser on: its sticky cookie."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies[STICKY_COOKIE]


def view_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def filtered_export(database: str) -> bytes:
    """The CLI's export of the walk's view: the batch with the Legal name filter."""
    engine = make_engine(database)
    try:
        return export_bytes(engine, BATCH, ExportOptions(filters=DomainFilter(name_contains=NAME)))
    finally:
        engine.dispose()


def test_haproxy_accepts_the_sample_configuration():
    require_haproxy()
    check = subprocess.run(
        [str(HAPROXY), "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_systemd_unit_serves_one_dashboard_per_instance_port():
    unit = configparser.ConfigParser(interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read(DEPLOY / "gleif-dashboard@.service", encoding="utf-8")
    assert unit["Service"]["ExecStart"].endswith("/deploy/serve %i")
    assert unit["Service"]["EnvironmentFile"] == "/etc/gleif-dashboard/env"
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"(?m)^([A-Z_]+)=", example))
    assert names == {"DATABASE_URL", "STREAMLIT_SERVER_COOKIE_SECRET", "GLEIF_LINK_SECRET"}


def test_serve_refuses_to_start_a_server_without_the_shared_cookie_secret():
    env = {k: v for k, v in os.environ.items() if k != "STREAMLIT_SERVER_COOKIE_SECRET"}
    result = subprocess.run(
        [str(DEPLOY / "serve"), "1"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "STREAMLIT_SERVER_COOKIE_SECRET" in result.stderr


@pytest.mark.browser
def test_an_analyst_walks_overview_explore_and_domain_through_the_balancer(page, deployment):
    engine = make_engine(deployment.database)
    domain = read(engine, explore_page, BATCH, DomainFilter(name_contains=NAME)).rows[0].domain
    engine.dispose()
    page.goto(f"{deployment.base}/?batch={BATCH}")
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("200")
    server = stuck_to(page)
    assert server in deployment.servers

    page.get_by_role("link", name="Explore").click()
    page.get_by_text("of 200 domains match").wait_for()
    name_box = page.get_by_label("Legal name contains")
    name_box.fill(NAME)
    name_box.press("Enter")
    settle(page)
    assert view_of(page.url)["name_contains"] == [NAME]

    page.get_by_role("link", name="Domain").click()
    page.get_by_role("heading", name="Domain", exact=True).wait_for()
    settle(page)
    box = page.get_by_role("textbox", name="Domain", exact=True)
    box.fill(domain)
    box.press("Enter")
    expect(page.get_by_role("heading", name=domain)).to_be_visible()
    page.get_by_text("QA:").first.wait_for()
    settle(page)
    assert view_of(page.url)["batch"] == [BATCH]
    assert stuck_to(page) == server  # the whole walk stayed on one server
    shot(page, "balancer-domain")


@pytest.mark.browser
def test_an_export_link_signed_on_one_server_downloads_from_the_other(page, deployment):
    page.goto(f"{deployment.base}/export?batch={BATCH}&name_contains={NAME}")
    page.get_by_text("Use this export from a script").click()
    command = page.get_by_test_id("stCode").first.inner_text()
    found = re.search(r"http://HOST:PORT(/api/export/\S+)'", command)
    assert found is not None, command
    link = found.group(1)
    assert "token=" in link
    assert f"name_contains={NAME}" in link
    other = deployment.other(stuck_to(page))
    expected = filtered_export(deployment.database)
    assert expected.startswith(b"domain,gleif_candidate_count,all_lei_codes,all_legal_names\n")
    assert expected.count(b"\n") > 2

    direct = httpx.get(other.base + link, timeout=HTTP_TIMEOUT)
    assert direct.status_code == 200, direct.text
    assert direct.content == expected
    # Through the balancer, pinned to the other server by its cookie: HAProxy would answer
    # with a new cookie if it had sent the request anywhere else.
    pinned = httpx.get(
        deployment.base + link, cookies={STICKY_COOKIE: other.name}, timeout=HTTP_TIMEOUT
    )
    assert pinned.status_code == 200, pinned.text
    assert STICKY_COOKIE not in pinned.cookies
    assert pinned.content == expected
    # The other server checks the token, it does not wave links through.
    widened = link.replace(f"name_contains={NAME}", "name_contains=a")
    assert httpx.get(other.base + widened, timeout=HTTP_TIMEOUT).status_code == 403


@pytest.mark.browser
def test_stopping_the_analysts_server_leaves_them_on_the_other_with_the_view_intact(
    page, deployment
):
    page.goto(f"{deployment.base}/explore?batch={BATCH}&name_contains={NAME}")
    page.get_by_text("of 200 domains match").wait_for()
    settle(page)
    matches = page.get_by_text("of 200 domains match").inner_text()
    view = page.url
    stuck = deployment.servers[stuck_to(page)]
    other = deployment.other(stuck.name)
    stuck.stop()
    try:
        page.reload()
        expect(page.get_by_text("of 200 domains match")).to_have_text(matches)
        expect(page.get_by_label("Legal name contains")).to_have_value(NAME)
        settle(page)
        assert page.url == view
        assert stuck_to(page) == other.name
        # The sign-in cookie, signed by the stopped server, is honoured by the other one.
        sidebar = page.get_by_test_id("stSidebar").inner_text()
        assert f"Signed in as {ANALYST.claims['email']}" in sidebar
        shot(page, "balancer-after-failover")
    finally:
        stuck.start()
