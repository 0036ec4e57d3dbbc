"""Text fold in SQL: gleif_fold, the case fold of the text filters (gleif_data.text_fold).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# 'İ' (U+0130) as 'i', then lower(), then final sigma 'ς' as 'σ', as fold_text does in
# Python. lower() keeps a stored 'ς' as it is, and what it makes of 'İ' and 'Σ' depends on
# the locale's towlower; translate() does not. One expression and not STRICT, so that the
# planner inlines the call and a filter costs what lower() cost.
TEXT_FOLD_FUNCTION = """
CREATE OR REPLACE FUNCTION gleif_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT translate(lower(translate(value, 'İ', 'i')), 'ς', 'σ')
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TEXT_FOLD_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS gleif_fold(text)")
