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
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("qa_decisions")}
    if "bulk_id" not in columns:
        op.add_column("qa_decisions", sa.Column("bulk_id", sa.Integer, nullable=True))
    indexes = {i["name"] for i in inspector.get_indexes("qa_decisions")}
    if "ix_qa_decisions_batch_bulk_id" not in indexes:
        # Listing and undoing a batch's bulk accepts read their entries only.
        op.create_index("ix_qa_decisions_batch_bulk_id", "qa_decisions", ["batch_id", "bulk_id"])


def downgrade() -> None:
    op.drop_index("ix_qa_decisions_batch_bulk_id", table_name="qa_decisions")
    op.drop_column("qa_decisions", "bulk_id")
