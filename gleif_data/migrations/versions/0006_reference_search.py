"""Indexes for the reference search (gleif_data.reference_search): legal names and LEI prefixes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Both: an index on the name's length, for queries that very many names match. PostgreSQL:
the pg_trgm extension, a GIN trigram index on the folded legal name, and an index on the LEI
in byte order (collation "C", for LEI prefixes in any database collation). SQLite: a
contentless FTS5 table with the trigram tokenizer over the folded legal names, keyed by
lei_records' rowid and kept in sync by triggers. The triggers call gleif_fold, which every
engine of gleif_data.db registers: a connection without it cannot write lei_records (it
fails with "no such function", never silently).
"""

import sqlalchemy as sa
from alembic import op

from gleif_data.errors import GleifDataError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TRIGRAM_INDEX = "ix_lei_records_legal_name_trgm"
PREFIX_INDEX = "ix_lei_records_lei_prefix"
LENGTH_INDEX = "ix_lei_records_name_length"
SEARCH_TABLE = "lei_records_search"

NEEDS_DBA = (
    "the reference search needs the PostgreSQL extension pg_trgm, and this role may not create"
    " it: a database owner or superuser must run `CREATE EXTENSION IF NOT EXISTS pg_trgm;`"
    " in database {database}, then run `migrate` again (on Debian the extension ships with"
    " the postgresql package; elsewhere install postgresql-contrib)"
)

# Contentless: the index alone, without a second copy of 3 M names. Its rowid is
# lei_records' rowid, which VACUUM keeps because lei_records has an index (its primary key).
SQLITE_TABLE = (
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(legal_name, content='', tokenize='trigram')"
)
# A contentless table forgets a row by the 'delete' command with exactly the indexed text.
_ADD = (
    f"INSERT INTO {SEARCH_TABLE} (rowid, legal_name)"
    " SELECT new.rowid, gleif_fold(new.legal_name) WHERE new.legal_name IS NOT NULL;"
)
_FORGET = (
    f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, legal_name)"
    " SELECT 'delete', old.rowid, gleif_fold(old.legal_name) WHERE old.legal_name IS NOT NULL;"
)
SQLITE_TRIGGERS = {
    "lei_records_search_insert": f"AFTER INSERT ON lei_records BEGIN {_ADD} END",
    "lei_records_search_delete": f"AFTER DELETE ON lei_records BEGIN {_FORGET} END",
    "lei_records_search_update": (
        "AFTER UPDATE OF legal_name ON lei_records"
        f" WHEN old.legal_name IS NOT new.legal_name BEGIN {_FORGET} {_ADD} END"
    ),
}


def upgrade() -> None:
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {LENGTH_INDEX} ON lei_records (length(legal_name), lei)"
    )
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_postgresql() -> None:
    bind = op.get_bind()
    _create_extension(bind)
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON lei_records"
        " USING gin (gleif_fold(legal_name) gin_trgm_ops)"
    )
    op.execute(f'CREATE INDEX IF NOT EXISTS {PREFIX_INDEX} ON lei_records (lei COLLATE "C")')


def _create_extension(bind: sa.Connection) -> None:
    """Create pg_trgm unless it is there; a role that may not gets the DBA's statement."""
    installed = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    if installed.first():
        return
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        database = bind.execute(sa.text("SELECT current_database()")).scalar_one()
        raise GleifDataError(NEEDS_DBA.format(database=database)) from exc
    savepoint.commit()


def _upgrade_sqlite() -> None:
    bind = op.get_bind()
    if SEARCH_TABLE in sa.inspect(bind).get_table_names():
        return
    op.execute(SQLITE_TABLE)
    op.execute(
        f"INSERT INTO {SEARCH_TABLE} (rowid, legal_name)"
        " SELECT rowid, gleif_fold(legal_name) FROM lei_records WHERE legal_name IS NOT NULL"
    )
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {LENGTH_INDEX}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PREFIX_INDEX}")
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
        # pg_trgm stays: other objects may use it, and dropping it may need other rights.
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
