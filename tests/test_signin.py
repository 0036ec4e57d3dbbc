"""Sign-in for real: `streamlit run app.py` with [auth] wherever Streamlit reads secrets.

Each place Streamlit reads secrets from (the app's folder, the working folder, the user's
home, the files named by the `secrets.files` option) turns sign-in on for every page and for
the export route; secrets that cannot be read, or an [auth] without a key for links, fail
closed. Then an analyst signs in through a real OpenID Connect provider on the loopback
interface (oidc-provider-mock), in Chromium, and works as usual.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from urllib.parse import urlparse

import httpx
import pytest
import werkzeug.serving
from streamlit.testing.v1 import AppTest

from gleif_data.config import PROJECT_DIR
from gleif_data.db import make_engine
from gleif_data.decisions import domain_history
from gleif_data.export import ExportOptions, export_bytes
from gleif_data.export_links import LinkSigner
from gleif_data.import_batch import import_batch
from gleif_data.migrate import upgrade
from tests.browser_kit import settle, shot
from tests.support import (
    ACME,
    ZETA,
    app_test,
    require_browser,
    running_app,
    url_of,
    write_csv,
)
from tests.transactions import read

with warnings.catch_warnings():  # the provider imports parts of Authlib that Authlib deprecates
    import authlib.deprecate  # noqa: F401 - installs an "always" filter; ours must come after it

    warnings.simplefilter("ignore", DeprecationWarning)
    from oidc_provider_mock import User
    from oidc_provider_mock import app as identity_provider_app

# Raised inside the provider's token endpoint, a test tool's affair.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

BATCH = "b1"
COOKIE_SECRET = token_urlsafe(32)  # a new one each run
ANALYST = User(sub="ada", claims={"email": "ada@example.com", "name": "Ada Lovelace"})
HTTP_TIMEOUT = 30
# Words of the batch that no sign-in wall may show.
DATA_WORDS = ("acme.com", "zeta.de", "ACME Corp", "Zeta GmbH", ACME)


def auth_section(metadata_url: str = "http://127.0.0.1:9/.well-known/openid-configuration") -> str:
    """An [auth] section; the provider URL is only contacted when someone signs in."""
    return (
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "gleif-dashboard"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{metadata_url}"\n'
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database with one small batch; its URL."""
    folder = tmp_path_factory.mktemp("signin-db")
    url = f"sqlite:///{folder / 'gleif.db'}"
    engine = make_engine(url)
    upgrade(engine)
    rows = [
        ["acme.com", ACME, "ACME Corp", "", ""],
        ["zeta.de", ZETA, "Zeta GmbH", "", ""],
        ["bare.org", "", "", "", ""],
    ]
    import_batch(engine, write_csv(folder / "in.csv", rows), BATCH)
    engine.dispose()
    return url


@dataclass
class Place:
    """Where a served app finds its secrets: its environment, working folder and app.py."""

    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    script: Path | None = None


def in_app_folder(tmp: Path, secrets: str) -> Place:
    """`<app folder>/.streamlit/secrets.toml`: a copy of the project made of links."""
    project = tmp / "project"
    (project / ".streamlit").mkdir(parents=True)
    for name in ("app.py", "pages"):
        (project / name).symlink_to(PROJECT_DIR / name)
    shutil.copy(PROJECT_DIR / ".streamlit" / "config.toml", project / ".streamlit")
    (project / ".streamlit" / "secrets.toml").write_text(secrets, encoding="utf-8")
    return Place(cwd=tmp, script=project / "app.py")


def in_working_folder(tmp: Path, secrets: str) -> Place:
    """`<working folder>/.streamlit/secrets.toml`, the app run from elsewhere."""
    (tmp / ".streamlit").mkdir()
    (tmp / ".streamlit" / "secrets.toml").write_text(secrets, encoding="utf-8")
    return Place(cwd=tmp)


def in_home(tmp: Path, secrets: str) -> Place:
    """`~/.streamlit/secrets.toml`, the user-level file."""
    (tmp / ".streamlit").mkdir()
    (tmp / ".streamlit" / "secrets.toml").write_text(secrets, encoding="utf-8")
    return Place(env={"HOME": str(tmp)})


def in_secrets_files(tmp: Path, secrets: str) -> Place:
    """A file that Streamlit's `secrets.files` option names (here from its environment)."""
    vault = tmp / "vault"
    vault.mkdir()
    (vault / "gleif-auth.toml").write_text(secrets, encoding="utf-8")
    return Place(env={"STREAMLIT_SECRETS_FILES": str(vault / "gleif-auth.toml")})


PLACES: dict[str, Callable[[Path, str], Place]] = {
    "app folder": in_app_folder,
    "working folder": in_working_folder,
    "home": in_home,
    "secrets.files": in_secrets_files,
}


PAGES = ("/", f"/explore?batch={BATCH}", f"/domain?batch={BATCH}&domain=acme.com", "/export")


@contextmanager
def serve(database: str, tmp: Path, place: Place, **extra_env: str) -> Iterator[str]:
    """The app served with secrets in that place (and a home of its own); its base URL."""
    home = tmp / "empty-home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), **place.env, **extra_env}
    log = tmp / "streamlit.log"
    with running_app(database, log, env=env, cwd=place.cwd, script=place.script) as app:
        yield app.base


@pytest.fixture
def page(browser):
    """A fresh Chromium context that reaches the loopback interface and nothing else."""
    require_browser()
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.route("**/*", _loopback_only)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _loopback_only(route) -> None:
    # The provider's pages link a stylesheet on a CDN; this machine reaches no such host.
    if urlparse(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def export_token(batch: str, params: dict[str, str], user: str = "ada@example.com") -> str:
    """A token as the Export page signs it with the [auth] cookie secret."""
    return LinkSigner(COOKIE_SECRET.encode()).sign(batch, params, user)


def expected_export(database: str) -> bytes:
    engine = make_engine(database)
    try:
        return export_bytes(engine, BATCH, ExportOptions())
    finally:
        engine.dispose()


def assert_the_route_needs_a_token(base: str, database: str) -> None:
    url = f"{base}/api/export/{BATCH}"
    params = {"format": "csv"}
    without = httpx.get(url, params=params, timeout=HTTP_TIMEOUT)
    assert without.status_code in (401, 403), without.text
    assert "acme.com" not in without.text
    forged = {**params, "token": LinkSigner(b"another secret").sign(BATCH, params, "mallory")}
    assert httpx.get(url, params=forged, timeout=HTTP_TIMEOUT).status_code in (401, 403)
    signed = {**params, "token": export_token(BATCH, params)}
    response = httpx.get(url, params=signed, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.content == expected_export(database)


def assert_sign_in_wall(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Sign in").wait_for()
    settle(page)
    for element in ("stMetric", "stDataFrame", "stSelectbox", "stTextInput", "stDownloadButton"):
        assert page.get_by_test_id(element).count() == 0, (url, element)
    text = page.locator("body").inner_text()
    assert not [word for word in DATA_WORDS if word in text], url


@pytest.mark.browser
@pytest.mark.parametrize("place", list(PLACES))
def test_sign_in_is_on_wherever_streamlit_reads_the_secrets_from(place, database, page, tmp_path):
    with serve(database, tmp_path, PLACES[place](tmp_path, auth_section())) as base:
        assert_the_route_needs_a_token(base, database)
        for path in PAGES:
            assert_sign_in_wall(page, base + path)
        shot(page, f"signin-wall-{place.replace(' ', '-')}")


@pytest.mark.browser
def test_secrets_that_streamlit_cannot_read_fail_closed(database, page, tmp_path):
    place = in_home(tmp_path, auth_section() + "[broken\n")
    with serve(database, tmp_path, place) as base:
        response = httpx.get(f"{base}/api/export/{BATCH}", timeout=HTTP_TIMEOUT)
        assert response.status_code == 503
        assert "cannot be read" in response.text
        for path in PAGES:
            page.goto(base + path)
            page.get_by_text("Sign-in cannot be checked").wait_for()
            settle(page)
            text = page.locator("body").inner_text()
            assert not [word for word in DATA_WORDS if word in text], path


@pytest.mark.browser
def test_an_auth_section_without_a_cookie_secret_fails_closed(database, page, tmp_path):
    secrets = re.sub(r"(?m)^cookie_secret = .*\n", "", auth_section())
    with serve(database, tmp_path, in_secrets_files(tmp_path, secrets)) as base:
        url = f"{base}/api/export/{BATCH}"
        params = {"format": "csv"}
        for query in (params, {**params, "token": export_token(BATCH, params)}):
            response = httpx.get(url, params=query, timeout=HTTP_TIMEOUT)
            assert response.status_code == 503
            assert "cookie_secret" in response.text
        for path in PAGES:
            assert_sign_in_wall(page, base + path)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Sign-in is configured but cannot start").wait_for()
        assert "cookie_secret" in page.locator("body").inner_text()


@contextmanager
def identity_provider(*users: User) -> Iterator[str]:
    """An OpenID Connect provider on 127.0.0.1, served from a thread; its issuer URL."""
    provider = identity_provider_app(user_claims=users)
    server = werkzeug.serving.make_server("127.0.0.1", 0, provider, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def decided_by(database: str, domain: str) -> list[tuple[str, str]]:
    engine = make_engine(database)
    try:
        return [(h.action.value, h.decided_by) for h in read(engine, domain_history, BATCH, domain)]
    finally:
        engine.dispose()


@pytest.mark.browser
def test_an_analyst_signs_in_through_a_real_identity_provider(
    database, page, tmp_path, monkeypatch
):
    # Both ends speak plain HTTP on the loopback interface; Authlib wants to be told.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with identity_provider(ANALYST) as issuer:
        secrets = auth_section(f"{issuer}/.well-known/openid-configuration")
        place = in_secrets_files(tmp_path, secrets)
        with serve(database, tmp_path, place, AUTHLIB_INSECURE_TRANSPORT="1") as base:
            assert_sign_in_wall(page, f"{base}/?batch={BATCH}")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{issuer}/oauth2/authorize**")
            page.get_by_role("button", name=ANALYST.sub, exact=True).click()

            # Overview: the batch in numbers, and who is signed in.
            page.get_by_test_id("stMetricValue").first.wait_for()
            settle(page)
            assert page.get_by_test_id("stMetricValue").first.inner_text() == "3"
            sidebar = page.get_by_test_id("stSidebar")
            assert "Signed in as ada@example.com" in sidebar.inner_text()
            shot(page, "signin-overview")

            page.goto(f"{base}/explore?batch={BATCH}")
            page.get_by_text("of 3 domains match").wait_for()
            settle(page)
            page.get_by_test_id("stDataFrame").wait_for()

            # Export: the page's signed link downloads the export; without its token, nothing.
            page.goto(f"{base}/export?batch={BATCH}")
            page.get_by_text("Use this export from a script").click()
            command = page.get_by_test_id("stCode").first.inner_text()
            link = re.search(r"http://HOST:PORT(/api/export/\S+)'", command)
            assert link is not None, command
            assert "token=" in link.group(1)
            with page.expect_download() as download:
                page.evaluate(
                    "url => { const a = document.createElement('a'); a.href = url;"
                    " document.body.appendChild(a); a.click(); }",
                    base + link.group(1),
                )
            saved = tmp_path / "export.csv"
            download.value.save_as(saved)
            assert saved.read_bytes() == expected_export(database)
            bare = re.sub(r"&?token=[^&]*", "", link.group(1))
            assert httpx.get(base + bare, timeout=HTTP_TIMEOUT).status_code in (401, 403)

            # Domain: a decision records the signed-in analyst.
            page.goto(f"{base}/domain?batch={BATCH}&domain=acme.com")
            page.get_by_role("button", name="Accept").click()
            settle(page)
            deadline = time.monotonic() + 15
            while not decided_by(database, "acme.com") and time.monotonic() < deadline:
                time.sleep(0.3)
            assert decided_by(database, "acme.com") == [("accept", "ada@example.com")]
            shot(page, "signin-domain")

            # Sign out: through the provider's end of session, back to the wall.
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{issuer}/oauth2/end_session**")
            page.get_by_role("button", name="End session").click()
            page.get_by_role("button", name="Sign in").wait_for()
            for path in PAGES:
                assert_sign_in_wall(page, base + path)


def signed_in_app(engine, tmp_path, monkeypatch, auth: str) -> AppTest:
    """The app under AppTest with these [auth] secrets and an analyst signed in."""
    rows = [["acme.com", ACME, "ACME Corp", "", ""]]
    import_batch(engine, write_csv(tmp_path / "in.csv", rows), BATCH)
    monkeypatch.delenv("GLEIF_LINK_SECRET", raising=False)
    at = app_test(monkeypatch, url_of(engine))
    at.secrets["auth"] = tomllib.loads(auth)["auth"]
    at.user = {"is_logged_in": True, "email": "ada@example.com", "name": "Ada Lovelace"}
    return at


def test_a_signed_in_analyst_sees_who_and_a_sign_out_button(engine, tmp_path, monkeypatch):
    at = signed_in_app(engine, tmp_path, monkeypatch, auth_section())
    at.run()
    assert not at.exception
    assert "Signed in as ada@example.com" in [c.value for c in at.sidebar.caption]
    assert [b.label for b in at.sidebar.button] == ["Sign out"]


def test_without_a_key_for_links_the_export_page_offers_no_link(engine, tmp_path, monkeypatch):
    secrets = re.sub(r"(?m)^cookie_secret = .*\n", "", auth_section())
    at = signed_in_app(engine, tmp_path, monkeypatch, secrets)
    at.run()
    at.switch_page("pages/export.py").run()
    assert not at.exception
    assert any("Export links cannot be signed" in e.value for e in at.error)
    assert not at.get("link_button")
    assert not at.get("download_button")
    assert not at.code
