"""The first proposed export: ORM objects loaded with joinedload, strings joined in Python.

Kept only to be measured against the streaming export (`run.py --with-orm`).
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import Engine, ForeignKey, Integer, Text, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
)


class Base(DeclarativeBase):
    """A registry of its own, apart from gleif_data.models."""


class OrmCandidate(Base):
    """gleif_candidates, as the proposal mapped it."""

    __tablename__ = "gleif_candidates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(Integer, ForeignKey("domains.id"))
    lei_code: Mapped[str | None] = mapped_column(Text)
    legal_name: Mapped[str | None] = mapped_column(Text)


class OrmDomain(Base):
    """domains, with the candidates as a relationship in candidate id order."""

    __tablename__ = "domains"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(Text)
    candidates: Mapped[list[OrmCandidate]] = relationship(order_by=OrmCandidate.id)


def export_with_orm(engine: Engine, batch: str, out: Path) -> int:
    """Write the domain-layout CSV the ORM way; return the number of rows."""
    query = (
        select(OrmDomain)
        .where(OrmDomain.batch_id == batch)
        .options(joinedload(OrmDomain.candidates))
        .order_by(OrmDomain.id)
    )
    rows = 0
    with Session(engine) as session, out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["domain", "gleif_candidate_count", "all_lei_codes", "all_legal_names"])
        for domain in session.scalars(query).unique().all():
            writer.writerow(
                [
                    domain.domain,
                    len(domain.candidates),
                    "; ".join(c.lei_code or "" for c in domain.candidates),
                    "; ".join(c.legal_name or "" for c in domain.candidates),
                ]
            )
            rows += 1
    return rows
