"""Tables for rule analysis: backtests (what-if replays) and shadow (champion/challenger)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.tables.base import Base, BigId, Money, UTCDateTime


class BacktestRow(Base):
    """One backtest: its candidate ruleset, its progress, and the merged report when done."""

    __tablename__ = "backtests"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    params: Mapped[dict[str, Any]] = mapped_column()  # since, until, requested_by
    candidate_version: Mapped[str] = mapped_column(String(64))
    candidate_files: Mapped[dict[str, Any]] = mapped_column()  # {"name.yaml": text}
    chunks_total: Mapped[int] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BacktestChunkRow(Base):
    """A slice of the history, decision ids in (after_id, last_id]; rewritten, never added to,
    when its job runs again, so a chunk that runs twice is counted once."""

    __tablename__ = "backtest_chunks"
    backtest_id: Mapped[str] = mapped_column(
        ForeignKey("backtests.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    after_id: Mapped[int] = mapped_column(BigId)
    last_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16))  # queued | done | failed
    report: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShadowResultRow(Base):
    """The shadow ruleset's decision beside the live one, for one live claim decision."""

    __tablename__ = "shadow_results"
    __table_args__ = (Index("ix_shadow_results_agree_at", "agree", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    active_version: Mapped[str] = mapped_column(String(64))
    shadow_version: Mapped[str] = mapped_column(String(64))
    active_outcome: Mapped[str] = mapped_column(String(16))
    shadow_outcome: Mapped[str] = mapped_column(String(16))
    active_payable: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    shadow_payable: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    active_reasons: Mapped[list[Any]] = mapped_column()
    shadow_reasons: Mapped[list[Any]] = mapped_column()
    agree: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
