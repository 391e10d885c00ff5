"""The append-only audit trail: one hash chain per subject, anchored by signed checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db.tables.base import Base, BigId, UTCDateTime


class AuditEventRow(Base):
    """Append-only. Each row carries the hash of the previous event of its subject.

    `subject` names what the event is about ("claim:<id>", "policy:<number>",
    "user:<username>", "apikey:<prefix>", "outbox:<id>"); `seq` counts that subject's
    events from 1. Events written before per-subject chains (migration 0011) have
    subject NULL and form one global chain in id order (the legacy segment).
    `txid` is the writing PostgreSQL transaction (pg_current_xact_id): a checkpoint
    covers the events of the transactions that ended before it (service/db/audit.py).
    NULL on SQLite, where the id order is the commit order."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("uq_audit_events_subject_seq", "subject", "seq", unique=True),
        Index("ix_audit_events_txid", "txid", postgresql_using="brin"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    claim_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(160), nullable=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    txid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AuditCheckpointRow(Base):
    """A signed Merkle root over the events appended since the checkpoint before it.

    Covers the events whose position is in [covers_from, covers_to): on PostgreSQL the
    position is `txid` (covers_to = the oldest transaction still running when the
    checkpoint was taken), on SQLite the event id. The tree's first leaf is the previous
    checkpoint's hash, so checkpoints chain. `signature`: Ed25519 over the canonical
    body (service/usecases/write_checkpoint.py), hex."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    position: Mapped[str] = mapped_column(String(8))  # txid | id
    covers_from: Mapped[int] = mapped_column(BigInteger)
    covers_to: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))
