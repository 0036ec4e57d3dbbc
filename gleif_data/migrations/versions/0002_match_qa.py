"""Match QA: name scores on candidates, the append-only decision log, the LEI check in SQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# ISO 7064 MOD 97-10 in SQL: letters become two digits (A=10 ... Z=35), the 20 to 40 digits
# are read as one number, and a valid LEI leaves remainder 1. 1 when valid, 0 otherwise.
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "code"
for _value, _letter in enumerate(_LETTERS, start=10):
    _DIGITS = f"replace({_DIGITS}, '{_letter}', '{_value}')"
LEI_CHECK_FUNCTION = f"""
CREATE OR REPLACE FUNCTION lei_check_digits_valid(code text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN code ~ '^[0-9A-Z]{{20}}$'
              THEN (mod(({_DIGITS})::numeric, 97) = 1)::integer
              ELSE 0 END
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "name_score" not in {c["name"] for c in inspector.get_columns("gleif_candidates")}:
        op.add_column("gleif_candidates", sa.Column("name_score", sa.Integer, nullable=True))
    if "qa_decisions" not in inspector.get_table_names():
        op.create_table(
            "qa_decisions",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("batch_id", sa.Text, nullable=False),
            sa.Column("domain", sa.Text, nullable=False),
            sa.Column("action", sa.Text, nullable=False),
            sa.Column("lei_code", sa.Text),
            sa.Column("legal_name", sa.Text),
            sa.Column("note", sa.Text),
            sa.Column("decided_by", sa.Text, nullable=False),
            sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index(
            "ix_qa_decisions_batch_domain_id", "qa_decisions", ["batch_id", "domain", "id"]
        )
    if bind.dialect.name == "postgresql":
        op.execute(LEI_CHECK_FUNCTION)


def downgrade() -> None:
    op.drop_table("qa_decisions")
    op.drop_column("gleif_candidates", "name_score")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lei_check_digits_valid(text)")
