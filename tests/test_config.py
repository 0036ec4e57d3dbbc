from pathlib import Path

import pytest

from gleif_data.config import (
    DEFAULT_SQLITE_FILE,
    ConfigError,
    describe_url,
    export_link_secret,
    normalise_url,
    resolve_database_url,
    resolve_database_urls,
)


def write_secrets(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_database_url_from_the_environment_wins(tmp_path):
    secrets = write_secrets(tmp_path, '[connections.gleif]\nurl = "sqlite:///other.db"\n')
    url = resolve_database_url({"DATABASE_URL": "postgres://u:p@db:5432/gleif"}, secrets)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.database) == ("db", "gleif")


def test_the_streamlit_secret_is_used_without_an_environment_variable(tmp_path):
    secrets = write_secrets(tmp_path, '[connections.gleif]\nurl = "postgresql://u@db/gleif"\n')
    assert resolve_database_url({}, secrets).drivername == "postgresql+psycopg"


def test_without_configuration_the_embedded_sqlite_file_is_used(tmp_path):
    url = resolve_database_url({}, tmp_path / "missing.toml")
    assert url.drivername == "sqlite"
    assert url.database == str(DEFAULT_SQLITE_FILE)


def test_a_broken_secrets_file_is_a_config_error(tmp_path):
    secrets = write_secrets(tmp_path, "[connections.gleif\nurl = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve_database_url({}, secrets)


def test_other_databases_are_refused():
    with pytest.raises(ConfigError, match="unsupported database"):
        normalise_url("mysql://u:p@db/gleif")


def test_the_description_of_a_database_never_shows_the_password():
    url = normalise_url("postgresql://analyst:s3cr3t-pw@db.internal:5433/gleif")
    description = describe_url(url)
    assert "s3cr3t-pw" not in description
    assert "db.internal:5433" in description
    assert "'gleif'" in description


def test_an_unparsable_url_does_not_echo_it():
    with pytest.raises(ConfigError) as info:
        normalise_url("postgresql://analyst:s3cr3t@db:notaport/x")
    assert "s3cr3t" not in str(info.value)


def test_export_links_are_signed_with_gleif_link_secret_else_the_cookie_secret():
    auth = {"cookie_secret": "from-auth"}
    assert export_link_secret(auth, {"GLEIF_LINK_SECRET": " shared "}) == b"shared"
    assert export_link_secret(auth, {}) == b"from-auth"
    assert export_link_secret({}, {}) is None
    assert export_link_secret({"cookie_secret": ""}, {"GLEIF_LINK_SECRET": " "}) is None


def test_without_a_read_url_reads_go_to_the_database_url(tmp_path):
    urls = resolve_database_urls({"DATABASE_URL": "postgresql://u@db/gleif"}, tmp_path / "no")
    assert urls.read == urls.write
    assert not urls.replicated


def test_the_read_url_comes_from_the_environment(tmp_path):
    environ = {
        "DATABASE_URL": "postgresql://u@primary/gleif",
        "DATABASE_READ_URL": "postgres://u@replica:5433/gleif",
    }
    urls = resolve_database_urls(environ, tmp_path / "missing.toml")
    assert urls.replicated
    assert (urls.write.host, urls.read.host, urls.read.port) == ("primary", "replica", 5433)
    assert urls.read.drivername == "postgresql+psycopg"
    assert resolve_database_url(environ, tmp_path / "missing.toml") == urls.write


def test_the_read_url_comes_from_the_secrets_beside_the_url(tmp_path):
    secrets = write_secrets(
        tmp_path,
        '[connections.gleif]\nurl = "postgresql://u@primary/gleif"\n'
        'read_url = "postgresql://u@replica/gleif"\n',
    )
    urls = resolve_database_urls({}, secrets)
    assert (urls.write.host, urls.read.host) == ("primary", "replica")
    environ = {"DATABASE_READ_URL": "postgresql://u@other-replica/gleif"}
    assert resolve_database_urls(environ, secrets).read.host == "other-replica"


def test_a_read_url_in_the_secrets_does_not_pair_with_a_database_url_from_the_environment(
    tmp_path,
):
    secrets = write_secrets(
        tmp_path,
        '[connections.gleif]\nurl = "postgresql://u@primary/gleif"\n'
        'read_url = "postgresql://u@replica/gleif"\n',
    )
    urls = resolve_database_urls({"DATABASE_URL": "postgresql://u@elsewhere/gleif"}, secrets)
    assert urls.read == urls.write
    assert urls.write.host == "elsewhere"


@pytest.mark.parametrize(
    ("write", "read", "message"),
    [
        ("sqlite:///a.db", "postgresql://u@replica/gleif", "read URL is postgresql"),
        ("postgresql://u@db/gleif", "mysql://u@replica/gleif", "unsupported database"),
    ],
)
def test_a_read_url_of_another_kind_of_database_is_refused(tmp_path, write, read, message):
    environ = {"DATABASE_URL": write, "DATABASE_READ_URL": read}
    with pytest.raises(ConfigError, match=message):
        resolve_database_urls(environ, tmp_path / "missing.toml")


def test_a_read_url_that_is_not_a_string_is_a_config_error(tmp_path):
    secrets = write_secrets(
        tmp_path, '[connections.gleif]\nurl = "postgresql://u@db/gleif"\nread_url = 5\n'
    )
    with pytest.raises(ConfigError, match="read_url must be a string"):
        resolve_database_urls({}, secrets)
