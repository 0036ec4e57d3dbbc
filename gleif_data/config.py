"""Which database to use: one resolver for the CLI, the dashboard and the tests."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_DIR / ".streamlit" / "secrets.toml"
DEFAULT_SQLITE_FILE = PROJECT_DIR / "gleif.db"


class ConfigError(Exception):
    """The database configuration cannot be used."""


def resolve_database_url(
    environ: Mapping[str, str] | None = None, secrets_file: Path | None = None
) -> URL:
    """Return the database URL: DATABASE_URL, else the Streamlit secret, else embedded SQLite."""
    environ = os.environ if environ is None else environ
    raw = environ.get("DATABASE_URL", "").strip()
    if not raw:
        raw = _url_from_secrets(SECRETS_FILE if secrets_file is None else secrets_file)
    if not raw:
        return make_url(f"sqlite:///{DEFAULT_SQLITE_FILE}")
    return normalise_url(raw)


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


def _url_from_secrets(path: Path) -> str:
    """Read [connections.gleif] url from a Streamlit secrets file."""
    value = read_secrets(path).get("connections", {}).get("gleif", {}).get("url", "")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: [connections.gleif] url must be a string")
    return value.strip()
