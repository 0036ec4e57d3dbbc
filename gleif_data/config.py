"""Which database to use: one resolver for the CLI, the dashboard and the tests."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.engine import URL, make_url

_CHECKOUT = Path(__file__).resolve().parent.parent
# A checkout keeps app.py, .streamlit/ and gleif.db next to the package. Installed with
# `pip install .` the package lives in site-packages, so the working folder takes that role,
# as it does for Streamlit, which reads .streamlit/secrets.toml from there.
PROJECT_DIR = _CHECKOUT if (_CHECKOUT / "app.py").is_file() else Path.cwd()
SECRETS_FILE = PROJECT_DIR / ".streamlit" / "secrets.toml"
DEFAULT_SQLITE_FILE = PROJECT_DIR / "gleif.db"


class ConfigError(Exception):
    """The database configuration cannot be used."""


class DatabaseUrls(NamedTuple):
    """Where writes go (the primary) and where reads go (a read replica, else the primary)."""

    write: URL
    read: URL

    @property
    def replicated(self) -> bool:
        """Whether reads go to another database than writes."""
        return self.read != self.write


def resolve_database_url(
    environ: Mapping[str, str] | None = None, secrets_file: Path | None = None
) -> URL:
    """Return the database URL: DATABASE_URL, else the Streamlit secret, else embedded SQLite."""
    return resolve_database_urls(environ, secrets_file).write


def resolve_database_urls(
    environ: Mapping[str, str] | None = None, secrets_file: Path | None = None
) -> DatabaseUrls:
    """The primary's URL (see resolve_database_url) and the read URL, the primary's without one.

    The read URL is DATABASE_READ_URL, else `read_url` under [connections.gleif] when the
    primary's `url` comes from there too: a read URL in the secrets file belongs to that
    file's primary, not to a DATABASE_URL set in the environment.
    """
    environ = os.environ if environ is None else environ
    secrets = _gleif_secrets(SECRETS_FILE if secrets_file is None else secrets_file)
    raw = environ.get("DATABASE_URL", "").strip()
    raw_read = environ.get("DATABASE_READ_URL", "").strip()
    if not raw:
        raw = _secret(secrets, "url")
        raw_read = raw_read or (_secret(secrets, "read_url") if raw else "")
    write = normalise_url(raw) if raw else make_url(f"sqlite:///{DEFAULT_SQLITE_FILE}")
    if not raw_read:
        return DatabaseUrls(write, write)
    read = normalise_url(raw_read)
    if read.get_backend_name() != write.get_backend_name():
        raise ConfigError(
            f"the read URL is {read.get_backend_name()} but the database URL "
            f"{write.get_backend_name()}: a read replica is a copy of the same database"
        )
    return DatabaseUrls(write, read)


def export_link_secret(
    auth: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> bytes | None:
    """The key that signs export links: GLEIF_LINK_SECRET, else the sign-in's cookie secret.

    `auth` is the [auth] section of Streamlit's secrets, which the UI layer reads (Streamlit
    merges several files; only Streamlit knows which).
    """
    environ = os.environ if environ is None else environ
    if value := environ.get("GLEIF_LINK_SECRET", "").strip():
        return value.encode()
    value = auth.get("cookie_secret", "")
    return value.encode() if isinstance(value, str) and value else None


def normalise_url(raw: str) -> URL:
    """Parse a database URL; PostgreSQL URLs always go through psycopg 3."""
    try:
        url = make_url(raw)
    except Exception as exc:  # SQLAlchemy raises ArgumentError; keep the message password-free
        raise ConfigError("the database URL cannot be parsed") from exc
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername.startswith("sqlite"):
        return url
    raise ConfigError(f"unsupported database {url.drivername!r}: use PostgreSQL or SQLite")


def describe_url(url: URL) -> str:
    """A human description of the database that never shows the password."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database or ':memory:'}"
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"PostgreSQL database {url.database!r} on {host}{port}"


def read_secrets(path: Path) -> dict[str, Any]:
    """The Streamlit secrets file as a dict (empty when missing), without importing Streamlit."""
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def _gleif_secrets(path: Path) -> tuple[Path, Mapping[str, Any]]:
    """The [connections.gleif] section of a Streamlit secrets file, with the file's path."""
    return path, read_secrets(path).get("connections", {}).get("gleif", {})


def _secret(secrets: tuple[Path, Mapping[str, Any]], key: str) -> str:
    """One string of [connections.gleif] (empty when missing)."""
    path, section = secrets
    value = section.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: [connections.gleif] {key} must be a string")
    return value.strip()
