"""The tables: the two legacy ones as they are, GLEIF reference data, QA and batch summaries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table of the project."""


class Domain(Base):
    """A web domain of a batch (legacy table `domains`)."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_domains_batch_id_id", "batch_id", "id"),
        Index("ix_domains_batch_id_domain", "batch_id", "domain"),
    )


class GleifCandidate(Base):
    """An LEI the matching process proposed for a domain (legacy table `gleif_candidates`)."""

    __tablename__ = "gleif_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("domains.id"))
    lei_code: Mapped[str | None] = mapped_column(Text)
    legal_name: Mapped[str | None] = mapped_column(Text)
    match_score: Mapped[float | None] = mapped_column(Float)
    match_method: Mapped[str | None] = mapped_column(Text)
    name_score: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_gleif_candidates_domain_id_id", "domain_id", "id"),
        Index("ix_gleif_candidates_lei_code", "lei_code"),
    )


class LeiRecord(Base):
    """GLEIF reference data for one LEI, from the golden copy (LEI-CDF)."""

    __tablename__ = "lei_records"

    lei: Mapped[str] = mapped_column(Text, primary_key=True)
    legal_name: Mapped[str | None] = mapped_column(Text)
    entity_status: Mapped[str | None] = mapped_column(Text)
    registration_status: Mapped[str | None] = mapped_column(Text)
    legal_address_country: Mapped[str | None] = mapped_column(Text)
    legal_jurisdiction: Mapped[str | None] = mapped_column(Text)
    headquarters_country: Mapped[str | None] = mapped_column(Text)
    last_update: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_renewal: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QaDecision(Base):
    """An analyst's decision on a domain or one of its candidates, append-only (see qa_state).

    Decisions name the batch and the domain (not their ids) and the LEI, so they survive a
    re-import of the batch and move between databases.
    """

    __tablename__ = "qa_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(Text)
    domain: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    lei_code: Mapped[str | None] = mapped_column(Text)
    legal_name: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The entries of one bulk accept share its id, so that it can be undone as a whole.
    bulk_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_qa_decisions_batch_domain_id", "batch_id", "domain", "id"),
        Index("ix_qa_decisions_batch_bulk_id", "batch_id", "bulk_id"),
    )


class DataGeneration(Base):
    """One row: the reference generation, raised by triggers on every write to lei_records.

    A TRUNCATE of domains or gleif_candidates raises it too (there is no telling which
    batches went), so every stored summary is counted again.
    """

    __tablename__ = "data_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class BatchGeneration(Base):
    """A batch's generation, raised by triggers on every write to its domains or candidates.

    Whoever writes: this project or the legacy matching process. A batch never written since
    the triggers came has no row (generation 0).
    """

    __tablename__ = "batch_generations"

    batch_id: Mapped[str] = mapped_column(Text, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class BatchSummary(Base):
    """A batch's Overview counts, stamped with the generations they were counted at."""

    __tablename__ = "batch_summaries"

    batch_id: Mapped[str] = mapped_column(Text, primary_key=True)
    batch_generation: Mapped[int] = mapped_column(BigInteger)
    reference_generation: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[dict[str, object]] = mapped_column(JSON)
    counted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
