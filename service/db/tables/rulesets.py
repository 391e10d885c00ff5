"""Rulesets: each version's full text, kept for audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db.tables.base import Base, UTCDateTime


class RulesetRow(Base):
    """Each ruleset's full text, stored once by content hash."""

    __tablename__ = "rulesets"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    rule_count: Mapped[int] = mapped_column(Integer)
    first_loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # when a process last switched to it (start, reload): the version a process that
    # starts with a broken rules folder decides with
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
