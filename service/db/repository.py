"""The data-access layer: the only code that touches the SQLAlchemy session.

Use cases call these functions inside a unit of work (see service/db/uow.py);
views and jobs never see a session.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from service.db import statements as sql
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

GENESIS = "0" * 64
CENT = Decimal("0.01")


# --- policies -----------------------------------------------------------------


def policy_row(session: Session, number: str) -> PolicyRow | None:
    return session.scalar(
        select(PolicyRow)
        .where(PolicyRow.number == number)
        .options(selectinload(PolicyRow.coverages))
    )


def get_policy(session: Session, number: str, *, lock: bool = False) -> Policy | None:
    """The policy with its coverages, in one query. `lock`: hold the policy row until
    commit, so claims on one policy are decided one at a time (PostgreSQL)."""
    query = sql.POLICY_WITH_COVERAGES_LOCKED if lock else sql.POLICY_WITH_COVERAGES
    rows = session.execute(query, {"number": number}).all()
    if not rows:
        return None
    first = rows[0]
    return Policy(
        number=first.number,
        holder=first.holder,
        status=first.status,
        effective_from=first.effective_from,
        effective_to=first.effective_to,
        currency=first.currency,
        coverages=tuple(
            Coverage(
                claim_type=r.claim_type,
                limit_per_claim=r.limit_per_claim,
                annual_aggregate=r.annual_aggregate,
                deductible=r.deductible,
                waiting_period_days=r.waiting_period_days,
            )
            for r in rows
            if r.claim_type is not None
        ),
    )


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
    """One query on the daily tallies (service/db/tallies.py): its cost does not grow
    with the number of claims on the policy."""
    loss = claim.date_of_loss
    window_start = loss - LOOKBACK
    year_start = year_end = loss  # no policy: nothing paid (an empty year)
    if policy is not None:
        year_start = policy.policy_year_start(loss)
        year_end = add_years(year_start, 1)
    row = session.execute(
        sql.HISTORY,
        {
            "policy_number": claim.policy_number,
            "claim_type": claim.claim_type,
            "loss": loss,
            "amount": claim.amount,
            "window_start": window_start,
            "year_start": year_start,
            "year_end": year_end,
            "low": min(window_start, year_start),
            "high": max(loss, year_end),
            "claim_id": claim.id or "",
        },
    ).one()
    paid = Decimal(int(row.paid_cents)) / 100
    if policy is not None and row.self_paid is not None:  # the claim itself, approved
        paid -= Decimal(row.self_paid)
    return History(
        claims_last_12_months=int(row.claims_in_window) - int(row.self_count),
        paid_this_policy_year=paid.quantize(CENT),
        duplicate_of=row.duplicate_of,
    )


# --- claims -------------------------------------------------------------------


def claim_row(session: Session, claim_id: str, client_id: str | None = None) -> ClaimRow | None:
    query = select(ClaimRow).where(ClaimRow.id == claim_id)
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    return session.scalar(
        query.options(selectinload(ClaimRow.documents), selectinload(ClaimRow.decisions))
    )


def insert_claim(session: Session, values: dict[str, Any], documents: list[dict[str, Any]]) -> None:
    """A new claim and its documents (documents in one executemany)."""
    session.execute(sql.INSERT_CLAIM, values)
    if documents:
        session.execute(sql.INSERT_DOCUMENTS, documents)


def insert_decision(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(sql.INSERT_DECISION, values).scalar_one())


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
) -> int:
    """Insert one message to send; returns its id (dispatch it after the commit)."""
    message = Message(dedupe_key, claim_id, event, channel, payload)
    return add_outbox_many(session, [message], request_id=request_id, now=now)[0]


@dataclass(frozen=True)
class Message:
    """One outbox row to write: what to tell, on which channel, deduplicated by key."""

    dedupe_key: str
    claim_id: str | None
    event: str
    channel: str
    payload: dict[str, Any]


def add_outbox_many(
    session: Session, messages: list[Message], *, request_id: str | None, now: datetime
) -> list[int]:
    """Insert these messages in one statement; returns their ids in the same order."""
    if not messages:
        return []
    rows = [
        {
            "dedupe_key": m.dedupe_key,
            "claim_id": m.claim_id,
            "event": m.event,
            "channel": m.channel,
            "payload": m.payload,
            "request_id": request_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    return [int(i) for i in session.execute(sql.INSERT_OUTBOX, rows).scalars()]


def oldest_pending_outbox(session: Session) -> datetime | None:
    """created_at of the oldest message not yet delivered (for the outbox-lag gauge)."""
    return session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.status.in_(("pending", "sending")))
    )


# --- audit (append-only, hash-chained) -----------------------------------------


def _lock_audit_chain(session: Session) -> None:
    """Serialise appends so the chain cannot fork (SQLite: BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql.AUDIT_CHAIN_LOCK)


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


def audit_fields(row: AuditEventRow) -> dict[str, Any]:
    return _audit_fields(
        row.at, row.actor, row.action, row.claim_id, row.source, row.before, row.after
    )


def _audit_fields(
    at: datetime,
    actor: str,
    action: str,
    claim_id: str | None,
    source: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "claim_id": claim_id,
        "source": source,
        "before": before,
        "after": after,
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
) -> str:
    """Append one event to the chain; returns its hash."""
    _lock_audit_chain(session)
    prev = session.execute(sql.LAST_AUDIT_HASH).scalar() or GENESIS
    digest = event_hash(prev, _audit_fields(at, actor, action, claim_id, source, before, after))
    session.execute(
        sql.INSERT_AUDIT,
        {
            "at": at,
            "actor": actor,
            "action": action,
            "claim_id": claim_id,
            "source": source,
            "before": before,
            "after": after,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    return digest


def audit_for_claim(session: Session, claim_id: str) -> list[AuditEventRow]:
    return list(
        session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.claim_id == claim_id)
            .order_by(AuditEventRow.id)
        )
    )


# --- idempotency keys ----------------------------------------------------------


def idempotency_key(session: Session, client_id: str, key: str) -> Any:
    """The key's row (request_hash, state, response, created_at), or None."""
    c = sql.IDEMPOTENCY.c
    return session.execute(
        select(c.request_hash, c.state, c.response, c.created_at).where(
            c.client_id == client_id, c.key == key
        )
    ).first()


def reserve_idempotency_key(
    session: Session, client_id: str, key: str, request_hash: str, now: datetime
) -> None:
    """Insert the key as in flight (IntegrityError when another request holds it)."""
    session.execute(
        insert(sql.IDEMPOTENCY).values(
            client_id=client_id,
            key=key,
            request_hash=request_hash,
            state="in_flight",
            created_at=now,
        )
    )


def finish_idempotency_key(
    session: Session, client_id: str, key: str, response: dict[str, Any]
) -> None:
    c = sql.IDEMPOTENCY.c
    session.execute(
        update(sql.IDEMPOTENCY)
        .where(c.client_id == client_id, c.key == key)
        .values(state="done", response=response)
    )


def delete_idempotency_key(
    session: Session, client_id: str, key: str, *, only_in_flight: bool = False
) -> None:
    c = sql.IDEMPOTENCY.c
    query = delete(sql.IDEMPOTENCY).where(c.client_id == client_id, c.key == key)
    if only_in_flight:
        query = query.where(c.state == "in_flight")
    session.execute(query)


def purge_idempotency_keys(session: Session, older_than: datetime) -> int:
    result = session.execute(
        delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- rulesets -------------------------------------------------------------------


def store_ruleset(
    session: Session, version: str, files: dict[str, str], rule_count: int, now: datetime
) -> None:
    """Store a ruleset's text once. Several processes (or requests) that see a new
    version at the same moment all try: the losers' inserts are undone in a savepoint
    and their transactions go on."""
    if session.get(RulesetRow, version) is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                RulesetRow(version=version, files=files, rule_count=rule_count, first_loaded_at=now)
            )
    except IntegrityError:
        pass  # stored meanwhile by someone else: what we wanted


def get_ruleset(session: Session, version: str) -> RulesetRow | None:
    return session.get(RulesetRow, version)


def mark_ruleset_active(session: Session, version: str, now: datetime) -> None:
    """The stored version `version` is active from `now` (a later mark wins)."""
    session.execute(
        update(RulesetRow).where(RulesetRow.version == version).values(activated_at=now)
    )


def last_active_ruleset(session: Session) -> RulesetRow | None:
    """The version most recently active; before any mark, the newest stored one."""
    newest = select(RulesetRow).limit(1)
    return session.scalar(
        newest.where(RulesetRow.activated_at.is_not(None)).order_by(RulesetRow.activated_at.desc())
    ) or session.scalar(newest.order_by(RulesetRow.first_loaded_at.desc()))


def add_document(session: Session, row: ClaimRow, doc: Document, now: datetime) -> None:
    row.documents.append(DocumentRow(type=doc.type, ref=doc.ref, received_at=now))
