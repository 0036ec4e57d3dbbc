"""Text fold independent of the database's locale: gleif_fold lower-cases under a fixed collation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from gleif_data import text_fold
from gleif_data.errors import GleifDataError

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The fold of migration 0003 with lower() under {collation}: 'İ' as 'i', lower(), 'ς' as
# 'σ'. Still one expression, so the planner inlines it as before.
_FUNCTION = """
CREATE OR REPLACE FUNCTION gleif_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT translate(lower(translate(value, 'İ', 'i') COLLATE {collation}), 'ς', 'σ')
$$
"""
_ASCII_FUNCTION = _FUNCTION.replace(" COLLATE {collation}", "")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    collation = text_fold.folding_collation(bind)
    if collation is None:
        ctype = bind.execute(
            sa.text("SELECT datctype FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
        names = ", ".join(text_fold.FOLD_COLLATIONS)
        raise GleifDataError(text_fold.NO_FOLD_MESSAGE.format(ctype=ctype, names=names))
    quoted = bind.dialect.identifier_preparer.quote_identifier(collation)
    # The collation is one of text_fold.FOLD_COLLATIONS, never user input; SQL cannot bind a name.
    op.execute(_FUNCTION.format(collation=quoted))
    reindex_fold_indexes(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_ASCII_FUNCTION)
        reindex_fold_indexes(bind)


def reindex_fold_indexes(bind: sa.Connection) -> None:
    """Rebuild every expression index on gleif_fold: its entries hold the old fold's output."""
    names = bind.execute(
        sa.text(
            "SELECT indexrelid::regclass::text FROM pg_index"
            " WHERE pg_get_indexdef(indexrelid) LIKE '%gleif_fold(%'"
        )
    ).scalars()
    for name in list(names):
        # regclass text is the index's name, quoted and schema-qualified as needed.
        op.execute(f"REINDEX INDEX {name}")
