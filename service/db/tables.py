"""Tables. Money is NUMERIC(14, 2); times are timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Money = Numeric(14, 2, asdecimal=True)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times are UTC-aware inside the service")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class PolicyRow(Base):
    __tablename__ = "policies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    holder: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date] = mapped_column(Date)
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
    waiting_period_days: Mapped[int] = mapped_column(Integer, default=0)
    policy: Mapped[PolicyRow] = relationship(back_populates="coverages")


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
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text, default="")
    claimant: Mapped[dict[str, Any]] = mapped_column(JSON)
    preferred_language: Mapped[str] = mapped_column(String(2), default="en")
    callback_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the claim as received
    status: Mapped[str] = mapped_column(String(16))
    payable_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
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
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)  # the facts the rules saw
    ruleset_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(120))  # "rules" or a person
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claim: Mapped[ClaimRow] = relationship(back_populates="decisions")


class AuditEventRow(Base):
    """Append-only. Each row carries the hash of the one before it."""

    __tablename__ = "audit_events"
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


class OutboxRow(Base):
    """What must be told to whom; written in the decision's transaction."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    claim_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    event: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PolicyDailyRow(Base):
    """Claims per policy, claim type and date of loss, and cents paid on the approved
    ones: kept by triggers on `claims` (service/db/tallies.py), read by the history."""

    __tablename__ = "policy_daily"
    policy_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    date_of_loss: Mapped[date] = mapped_column(Date, primary_key=True)
    claim_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)


@event.listens_for(Base.metadata, "after_create")
def _install_tallies(_metadata: Any, connection: Any, **kw: Any) -> None:
    """create_all (tests, benchmarks) gets the tally triggers as a migration would."""
    if any(table.name == "policy_daily" for table in kw.get("tables", ())):
        from service.db.tallies import install

        install(connection)


class IdempotencyKeyRow(Base):
    __tablename__ = "idempotency_keys"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | done
    claim_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


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
