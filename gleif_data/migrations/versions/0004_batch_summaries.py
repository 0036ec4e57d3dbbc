"""Stored batch summaries, and the data generation that says whether they are up to date.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WATCHED_TABLES = ("domains", "gleif_candidates", "lei_records")

# One statement-level trigger per table: a COPY of a million rows raises the generation once.
# SECURITY DEFINER, so that a writer without rights on data_generation (the legacy matching
# process, say) can still write its tables.
BUMP_FUNCTION = """
CREATE OR REPLACE FUNCTION gleif_bump_generation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  UPDATE public.data_generation SET generation = generation + 1 WHERE id = 1;
  RETURN NULL;
END
$$
"""
# Roles that read domains (the README's reader and reviewer roles) read the summaries too, so
# that a dashboard on such a role keeps working after this upgrade.
GRANT_TO_READERS = """
DO $$
DECLARE reader text;
BEGIN
  FOR reader IN
    SELECT DISTINCT grantee FROM information_schema.role_table_grants
    WHERE table_schema = 'public' AND table_name = 'domains' AND privilege_type = 'SELECT'
      AND grantee NOT IN ('PUBLIC', current_user)
  LOOP
    EXECUTE format('GRANT SELECT ON data_generation, batch_summaries TO %I', reader);
  END LOOP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "data_generation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO data_generation (id, generation) VALUES (1, 0)")
    op.create_table(
        "batch_summaries",
        sa.Column("batch_id", sa.Text, primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BUMP_FUNCTION)
        for table in WATCHED_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
                f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION gleif_bump_generation()"
            )
        op.execute(GRANT_TO_READERS)
    else:
        # SQLite has row triggers only: one small UPDATE per written row.
        for table in WATCHED_TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_{event.lower()}_generation AFTER {event} ON {table}"
                    " BEGIN UPDATE data_generation SET generation = generation + 1"
                    " WHERE id = 1; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_generation ON {table}")
        op.execute("DROP FUNCTION IF EXISTS gleif_bump_generation()")
    else:
        for table in WATCHED_TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_generation")
    op.drop_table("batch_summaries")
    op.drop_table("data_generation")
