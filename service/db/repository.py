"""The data-access layer: the only code that touches the SQLAlchemy session.

Use cases call these functions inside a unit of work (see service/db/uow.py);
views and jobs never see a session.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from service.db.tables import (
    AuditEventRow,
    ClaimRow,
    CoverageRow,
    DecisionRow,
    DocumentRow,
    IdempotencyKeyRow,
    OutboxRow,
    PolicyRow,
    RulesetRow,
)
from service.domain.history import LOOKBACK
from service.domain.model import Claim, Coverage, Document, History, Policy, add_years
from service.domain.money import ZERO

GENESIS = "0" * 64


# --- policies -----------------------------------------------------------------


def policy_row(session: Session, number: str) -> PolicyRow | None:
    return session.scalar(
        select(PolicyRow)
        .where(PolicyRow.number == number)
        .options(selectinload(PolicyRow.coverages))
    )


def to_policy(row: PolicyRow) -> Policy:
    return Policy(
        number=row.number,
        holder=row.holder,
        status=row.status,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        currency=row.currency,
        coverages=tuple(
            Coverage(
                claim_type=c.claim_type,
                limit_per_claim=c.limit_per_claim,
                annual_aggregate=c.annual_aggregate,
                deductible=c.deductible,
                waiting_period_days=c.waiting_period_days,
            )
            for c in row.coverages
        ),
    )


def get_policy(session: Session, number: str) -> Policy | None:
    row = policy_row(session, number)
    return to_policy(row) if row else None


def save_policy(session: Session, policy: Policy, now: datetime) -> bool:
    """Insert or replace a policy and its coverages. True when it was created."""
    row = policy_row(session, policy.number)
    created = row is None
    if row is None:
        row = PolicyRow(number=policy.number, created_at=now)
        session.add(row)
    row.holder = policy.holder
    row.status = policy.status
    row.effective_from = policy.effective_from
    row.effective_to = policy.effective_to
    row.currency = policy.currency
    row.updated_at = now
    row.coverages.clear()
    session.flush()
    for c in policy.coverages:
        row.coverages.append(
            CoverageRow(
                claim_type=c.claim_type,
                limit_per_claim=c.limit_per_claim,
                annual_aggregate=c.annual_aggregate,
                deductible=c.deductible,
                waiting_period_days=c.waiting_period_days,
            )
        )
    session.flush()
    return created


# --- history (the SQL twin of service.domain.history.summarise_history) --------


def history_for(session: Session, claim: Claim, policy: Policy | None) -> History:
    others = ClaimRow.id != claim.id if claim.id else True
    same_policy = ClaimRow.policy_number == claim.policy_number
    window = and_(
        ClaimRow.date_of_loss >= claim.date_of_loss - LOOKBACK,
        ClaimRow.date_of_loss <= claim.date_of_loss,
    )
    count = session.scalar(select(func.count()).where(same_policy, window, others)) or 0
    paid = ZERO
    if policy is not None:
        start = policy.policy_year_start(claim.date_of_loss)
        paid = session.scalar(
            select(func.coalesce(func.sum(ClaimRow.payable_amount), 0)).where(
                same_policy,
                others,
                ClaimRow.claim_type == claim.claim_type,
                ClaimRow.status == "approved",
                ClaimRow.date_of_loss >= start,
                ClaimRow.date_of_loss < add_years(start, 1),
            )
        )
        paid = Decimal(paid).quantize(Decimal("0.01"))
    duplicate = session.scalar(
        select(ClaimRow.id)
        .where(
            same_policy,
            others,
            ClaimRow.claim_type == claim.claim_type,
            ClaimRow.date_of_loss == claim.date_of_loss,
            ClaimRow.amount == claim.amount,
        )
        .limit(1)
    )
    return History(claims_last_12_months=count, paid_this_policy_year=paid, duplicate_of=duplicate)


# --- claims -------------------------------------------------------------------


def claim_row(session: Session, claim_id: str, client_id: str | None = None) -> ClaimRow | None:
    query = select(ClaimRow).where(ClaimRow.id == claim_id)
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    return session.scalar(
        query.options(selectinload(ClaimRow.documents), selectinload(ClaimRow.decisions))
    )


def claim_by_external_ref(session: Session, client_id: str, external_ref: str) -> ClaimRow | None:
    return session.scalar(
        select(ClaimRow)
        .where(ClaimRow.client_id == client_id, ClaimRow.external_ref == external_ref)
        .options(selectinload(ClaimRow.documents), selectinload(ClaimRow.decisions))
    )


def to_claim(row: ClaimRow) -> Claim:
    return Claim(
        id=row.id,
        policy_number=row.policy_number,
        claim_type=row.claim_type,
        date_of_loss=row.date_of_loss,
        reported_at=row.reported_at,
        amount=row.amount,
        currency=row.currency,
        documents=tuple(Document(type=d.type, ref=d.ref) for d in row.documents),
        line_items_count=len(row.payload.get("line_items") or []),
    )


def list_claims(
    session: Session,
    *,
    client_id: str | None,
    status: str | None,
    policy_number: str | None,
    claim_type: str | None,
    since: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[ClaimRow]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(ClaimRow).options(selectinload(ClaimRow.decisions))
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    if status:
        query = query.where(ClaimRow.status == status)
    if policy_number:
        query = query.where(ClaimRow.policy_number == policy_number)
    if claim_type:
        query = query.where(ClaimRow.claim_type == claim_type)
    if since:
        query = query.where(ClaimRow.created_at >= since)
    if after:
        created, claim_id = after
        query = query.where(
            or_(
                ClaimRow.created_at < created,
                and_(ClaimRow.created_at == created, ClaimRow.id < claim_id),
            )
        )
    query = query.order_by(ClaimRow.created_at.desc(), ClaimRow.id.desc()).limit(limit)
    return list(session.scalars(query))


def latest_decision(row: ClaimRow) -> DecisionRow | None:
    return row.decisions[-1] if row.decisions else None


# --- outbox -------------------------------------------------------------------


def add_outbox(
    session: Session,
    *,
    dedupe_key: str,
    claim_id: str | None,
    event: str,
    channel: str,
    payload: dict[str, Any],
    request_id: str | None,
    now: datetime,
) -> OutboxRow:
    row = OutboxRow(
        dedupe_key=dedupe_key,
        claim_id=claim_id,
        event=event,
        channel=channel,
        payload=payload,
        request_id=request_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def oldest_pending_outbox(session: Session) -> datetime | None:
    """created_at of the oldest message not yet delivered (for the outbox-lag gauge)."""
    return session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.status.in_(("pending", "sending")))
    )


# --- audit (append-only, hash-chained) -----------------------------------------


def _lock_audit_chain(session: Session) -> None:
    """Serialise appends so the chain cannot fork (SQLite: BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(7_220_001)))


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


def audit_fields(row: AuditEventRow) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "claim_id": row.claim_id,
        "source": row.source,
        "before": row.before,
        "after": row.after,
    }


def append_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    at: datetime,
    claim_id: str | None = None,
    source: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEventRow:
    _lock_audit_chain(session)
    prev = session.scalar(select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1))
    row = AuditEventRow(
        at=at,
        actor=actor,
        action=action,
        claim_id=claim_id,
        source=source,
        before=before,
        after=after,
        prev_hash=prev or GENESIS,
        hash="",
    )
    row.hash = event_hash(row.prev_hash, audit_fields(row))
    session.add(row)
    session.flush()
    return row


def audit_for_claim(session: Session, claim_id: str) -> list[AuditEventRow]:
    return list(
        session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.claim_id == claim_id)
            .order_by(AuditEventRow.id)
        )
    )


# --- idempotency keys ----------------------------------------------------------


def idempotency_key(session: Session, client_id: str, key: str) -> IdempotencyKeyRow | None:
    return session.get(IdempotencyKeyRow, (client_id, key))


def purge_idempotency_keys(session: Session, older_than: datetime) -> int:
    result = session.execute(
        delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- rulesets -------------------------------------------------------------------


def store_ruleset(
    session: Session, version: str, files: dict[str, str], rule_count: int, now: datetime
) -> None:
    if session.get(RulesetRow, version) is None:
        session.add(
            RulesetRow(version=version, files=files, rule_count=rule_count, first_loaded_at=now)
        )


def get_ruleset(session: Session, version: str) -> RulesetRow | None:
    return session.get(RulesetRow, version)


def add_document(session: Session, row: ClaimRow, doc: Document, now: datetime) -> None:
    row.documents.append(DocumentRow(type=doc.type, ref=doc.ref, received_at=now))
