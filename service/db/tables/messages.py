"""The message as it went out: one row per outbox row, written at each delivery attempt.

Migration 0009. The outbox row says what must be told, to whom, and how delivery went
(status, attempts, sent_at, last_error); this row keeps the rendered message of its
latest attempt, byte for byte the subject and parts handed to SMTP (or the signed JSON
body posted to the intake system), so the console can show what a claimant was told.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.tables.base import Base, BigId, UTCDateTime


class MessageCopyRow(Base):
    __tablename__ = "message_copies"
    outbox_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer)  # the attempt that rendered it
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recipient: Mapped[str] = mapped_column(Text)  # email addresses, or the callback URL
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)  # None for a webhook
    body_text: Mapped[str] = mapped_column(Text)  # text part, or the webhook's JSON body
    body_html: Mapped[str | None] = mapped_column(Text, nullable=True)
