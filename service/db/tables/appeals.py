"""Appeals: a claimant's dispute of a decision, answered by a supervisor's decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.tables.base import Base, BigId, UTCDateTime


class AppealRow(Base):
    """A claimant's dispute of a decision; answered by a supervisor's decision."""

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_status_due", "status", "answer_due_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(120))
    appealed_decision_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # open | upheld | overturned (answered: answered before 0012, outcome not recorded)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the decision in force after the answer: the upheld one, or the overturning one
    decision_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # the supervisor's note
    answered_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
