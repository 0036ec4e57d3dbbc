"""Decisions about candidates: a bulk accept is one undoable group of log entries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("qa_decisions")}
    if "bulk_id" not in columns:
        op.add_column("qa_decisions", sa.Column("bulk_id", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("qa_decisions", "bulk_id")
