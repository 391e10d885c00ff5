"""Tables the workers add (to be folded into the migration by the lead)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db.tables import Base, BigId, UTCDateTime


class ClaimFlagRow(Base):
    """A flag on a claim raised by a sweep, e.g. `overdue` when an escalation breaks its SLA.

    One row per (claim, flag, decision): the decision that started the clock, so a
    sweep that runs twice raises nothing twice. `cleared_at` is set once the claim
    leaves the state the flag is about.
    """

    __tablename__ = "claim_flags"
    __table_args__ = (
        UniqueConstraint("claim_id", "flag", "decision_id", name="uq_claim_flags_once"),
        Index("ix_claim_flags_open", "flag", "cleared_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    flag: Mapped[str] = mapped_column(String(32))  # overdue
    decision_id: Mapped[int] = mapped_column(BigId)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
