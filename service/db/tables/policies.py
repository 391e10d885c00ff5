"""Policies and their coverages (one coverage per claim type)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db.tables.base import Base, BigId, Money, UTCDateTime


class PolicyRow(Base):
    __tablename__ = "policies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    holder: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date] = mapped_column(Date)
    terminated_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # lapsed/cancelled
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)  # IANA
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    coverages: Mapped[list[CoverageRow]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="CoverageRow.claim_type"
    )


class CoverageRow(Base):
    __tablename__ = "coverages"
    __table_args__ = (UniqueConstraint("policy_id", "claim_type"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    claim_type: Mapped[str] = mapped_column(String(40))
    limit_per_claim: Mapped[Decimal] = mapped_column(Money)
    annual_aggregate: Mapped[Decimal] = mapped_column(Money)
    deductible: Mapped[Decimal] = mapped_column(Money)
    waiting_period: Mapped[str] = mapped_column(String(16), default="P0D")  # ISO 8601
    # "claim" (each claim its own deductible) or "policy_year" (met once a year)
    deductible_period: Mapped[str] = mapped_column(
        String(16), default="claim", server_default="claim"
    )
    out_of_pocket_maximum: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    out_of_pocket_period: Mapped[str] = mapped_column(
        String(16), default="claim", server_default="claim"
    )
    policy: Mapped[PolicyRow] = relationship(back_populates="coverages")
