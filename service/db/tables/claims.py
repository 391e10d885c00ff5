"""Claims with their documents, decisions and flags, and the per-policy daily tallies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import tallies
from service.db.tables.base import Base, BigId, Money, UTCDateTime


def _utc_report_date(context: Any) -> date:
    """A claim written without the intake (a bulk load, a test): its UTC report date."""
    reported: datetime = context.get_current_parameters()["reported_at"]
    return reported.astimezone(UTC).date()


class ClaimRow(Base):
    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("client_id", "external_ref", name="uq_claims_client_ref"),
        Index("ix_claims_policy_loss", "policy_number", "date_of_loss"),
        Index("ix_claims_dup", "policy_number", "claim_type", "date_of_loss", "amount"),
        Index("ix_claims_status_created", "status", "created_at"),
        Index("ix_claims_created", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    external_ref: Mapped[str] = mapped_column(String(128))
    policy_number: Mapped[str] = mapped_column(String(64))
    claim_type: Mapped[str] = mapped_column(String(40))
    date_of_loss: Mapped[date] = mapped_column(Date)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Fixed at intake, never recomputed: the report date in `time_zone` (the policy's,
    # else DEFAULT_TIME_ZONE) and the claims submitted before this one with a loss in
    # the 12 months up to its loss.
    reported_on: Mapped[date] = mapped_column(Date, default=_utc_report_date)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    claims_last_12_months: Mapped[int] = mapped_column(Integer, default=0)
    line_items_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text, default="")
    claimant: Mapped[dict[str, Any]] = mapped_column(JSON)
    preferred_language: Mapped[str] = mapped_column(String(2), default="en")
    callback_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the claim as received
    status: Mapped[str] = mapped_column(String(16))
    payable_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    # what the current decision counts towards a yearly deductible (PR 1) and
    # out-of-pocket maximum (every PR cut); None or 0 unless approved
    deductible_applied: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    patient_responsibility: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    ruleset_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(120), nullable=True)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)  # ETag, bumped on every change
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    documents: Mapped[list[DocumentRow]] = relationship(
        back_populates="claim", order_by="DocumentRow.id", cascade="all, delete-orphan"
    )
    decisions: Mapped[list[DecisionRow]] = relationship(
        back_populates="claim", order_by="DecisionRow.id", cascade="all, delete-orphan"
    )


class DocumentRow(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(512))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim: Mapped[ClaimRow] = relationship(back_populates="documents")


class DecisionRow(Base):
    """Every decision, automatic or human; the latest one is the claim's current decision."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    payable_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    missing_documents: Mapped[list[Any]] = mapped_column(JSON)
    trace: Mapped[list[Any]] = mapped_column(JSON)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)  # the facts this decision saw
    # claimed - sum(amount) = payable_amount: [{group, carc, amount, reason}]
    adjustments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # per line item: service/domain/lines.py LineDecision.to_json (empty: no line items)
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ruleset_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(120))  # "rules" or a person
    # rule | person | system (a timed sweep): what the touchless rate counts (0012)
    decided_by_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claim: Mapped[ClaimRow] = relationship(back_populates="decisions")


class PolicyDailyRow(Base):
    """Claims per policy, claim type and date of loss, and thousandths paid on the
    approved ones: kept by triggers on `claims` (service/db/tallies.py), read by the
    history."""

    __tablename__ = "policy_daily"
    policy_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    date_of_loss: Mapped[date] = mapped_column(Date, primary_key=True)
    claim_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    paid_thousandths: Mapped[int] = mapped_column(BigInteger, default=0)


@event.listens_for(Base.metadata, "after_create")
def _install_tallies(_metadata: Any, connection: Any, **kw: Any) -> None:
    """create_all (tests, benchmarks) gets the tally triggers as a migration would."""
    if any(table.name == "policy_daily" for table in kw.get("tables", ())):
        tallies.install(connection)


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
