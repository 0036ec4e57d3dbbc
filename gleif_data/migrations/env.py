"""Alembic environment: migrations always run on a connection handed in by gleif_data.migrate."""

from alembic import context

from gleif_data.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m gleif_data migrate`")

context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
