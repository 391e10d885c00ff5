"""The audit trail: append-only, each event carrying the hash of the one before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import statements as sql
from service.db.tables import AuditEventRow

GENESIS = "0" * 64


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


def audit_events(session: Session, filters: dict[str, Any], limit: int) -> list[AuditEventRow]:
    query = select(AuditEventRow)
    if filters.get("claim_id"):
        query = query.where(AuditEventRow.claim_id == filters["claim_id"])
    if filters.get("actor"):
        query = query.where(AuditEventRow.actor == filters["actor"])
    if filters.get("action"):
        query = query.where(AuditEventRow.action == filters["action"])
    if filters.get("since"):
        query = query.where(AuditEventRow.at >= filters["since"])
    if filters.get("until"):
        query = query.where(AuditEventRow.at < filters["until"])
    if filters.get("after_id"):
        query = query.where(AuditEventRow.id > filters["after_id"])
    return list(session.scalars(query.order_by(AuditEventRow.id).limit(limit)))


def iter_audit_chain(session: Session, batch: int = 1000) -> Iterator[AuditEventRow]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.id > last)
                .order_by(AuditEventRow.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id
