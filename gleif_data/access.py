"""Least-privilege database roles: their GRANT statements (`python -m gleif_data grants`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from gleif_data.errors import GleifDataError

# Browsing and exporting read these tables; `alembic_version` tells the dashboard whether
# the schema is up to date, `qa_decisions` holds each domain's review state, and the Overview
# reads stored counts from `batch_summaries` while `batch_generations` and `data_generation`
# say they are current.
READ_TABLES = (
    "domains",
    "gleif_candidates",
    "lei_records",
    "qa_decisions",
    "alembic_version",
    "batch_summaries",
    "batch_generations",
    "data_generation",
)


def reader_grants(role: str, database: str) -> list[str]:
    """GRANT statements that let `role` browse and export, and nothing else."""
    _check_identifiers(role, database)
    return [
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON {', '.join(READ_TABLES)} TO {role}",
    ]


def reviewer_grants(role: str, database: str) -> list[str]:
    """A reader's grants plus recording decisions: INSERT on qa_decisions only."""
    return [
        *reader_grants(role, database),
        f"GRANT INSERT ON qa_decisions TO {role}",
        f"GRANT USAGE ON SEQUENCE qa_decisions_id_seq TO {role}",
    ]


def apply_grants(connection: Connection, statements: Sequence[str]) -> None:
    """Run grant statements (from reader_grants or reviewer_grants) in the caller's transaction."""
    for statement in statements:
        connection.execute(text(statement))


def _check_identifiers(*names: str) -> None:
    # GRANT takes names, not bound values: only names that need no quoting are accepted.
    for name in names:
        if not name.isascii() or not name.replace("_", "").isalnum():
            raise GleifDataError(f"{name!r} is not a plain SQL identifier")
