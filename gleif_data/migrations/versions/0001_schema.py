"""Legacy tables (created only when missing), match columns, LEI reference data, indexes.

A legacy database already has `domains` and `gleif_candidates`, perhaps with extra
columns or varchar types: this revision only adds what is missing and touches no row.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INDEXES = {
    "ix_domains_batch_id_id": ("domains", ["batch_id", "id"]),
    "ix_domains_batch_id_domain": ("domains", ["batch_id", "domain"]),
    "ix_gleif_candidates_domain_id_id": ("gleif_candidates", ["domain_id", "id"]),
    "ix_gleif_candidates_lei_code": ("gleif_candidates", ["lei_code"]),
}


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())

    if "domains" not in tables:
        op.create_table(
            "domains",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("domain", sa.Text),
            sa.Column("batch_id", sa.Text),
        )
    if "gleif_candidates" not in tables:
        op.create_table(
            "gleif_candidates",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id")),
            sa.Column("lei_code", sa.Text),
            sa.Column("legal_name", sa.Text),
        )
    candidate_columns = {c["name"] for c in sa.inspect(bind).get_columns("gleif_candidates")}
    if "match_score" not in candidate_columns:
        op.add_column("gleif_candidates", sa.Column("match_score", sa.Float, nullable=True))
    if "match_method" not in candidate_columns:
        op.add_column("gleif_candidates", sa.Column("match_method", sa.Text, nullable=True))

    if "lei_records" not in tables:
        op.create_table(
            "lei_records",
            sa.Column("lei", sa.Text, primary_key=True),
            sa.Column("legal_name", sa.Text),
            sa.Column("entity_status", sa.Text),
            sa.Column("registration_status", sa.Text),
            sa.Column("legal_address_country", sa.Text),
            sa.Column("legal_jurisdiction", sa.Text),
            sa.Column("headquarters_country", sa.Text),
            sa.Column("last_update", sa.DateTime(timezone=True)),
            sa.Column("next_renewal", sa.DateTime(timezone=True)),
        )

    inspector = sa.inspect(bind)
    for name, (table, columns) in INDEXES.items():
        if name not in {index["name"] for index in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)

    if bind.dialect.name == "postgresql":
        for table in ("domains", "gleif_candidates"):
            _ensure_id_default(bind, table)


def _ensure_id_default(bind: sa.Connection, table: str) -> None:
    """Give a legacy `id integer primary key` without a default its own sequence."""
    id_column = next(c for c in sa.inspect(bind).get_columns(table) if c["name"] == "id")
    if id_column.get("default") or id_column.get("identity"):
        return
    sequence = f"{table}_id_seq"
    # Table and sequence names are this module's constants, never user input.
    op.execute(f"CREATE SEQUENCE IF NOT EXISTS {sequence} OWNED BY {table}.id")
    op.execute(
        f"SELECT setval('{sequence}', COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
    )
    op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{sequence}')")


def downgrade() -> None:
    # The legacy tables predate this project: never drop them.
    op.drop_table("lei_records")
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
    op.drop_column("gleif_candidates", "match_method")
    op.drop_column("gleif_candidates", "match_score")
