"""The audit trail: append-only, one hash chain per subject, anchored by signed checkpoints.

An event's `prev_hash` is the hash of the previous event of the same subject (a claim,
a policy, a user, an API key, an outbox message), so appends on different subjects never
wait for each other. Appends to one subject take that subject's lock (a PostgreSQL
advisory lock keyed by the subject, held to commit; SQLite serialises writers at
BEGIN IMMEDIATE) and the unique index on (subject, seq) makes a fork impossible even
if a lock were missed: the second writer fails instead. A new claim's first event
needs neither: nobody else knows the claim yet.

Checkpoints (service/usecases/write_checkpoint.py) cover the events by *position*:
on PostgreSQL the id of the transaction that wrote them (`txid`), and a checkpoint
covers the transactions older than the oldest one still running when it was taken,
so a transaction that commits late (a low event id, a late commit) is covered by the
next checkpoint instead of being skipped. On SQLite the event id is the commit order
(one writer at a time, ids taken under the write lock).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Text, cast, func, select
from sqlalchemy.orm import Session

from service.db import statements as sql
from service.db.tables import AuditCheckpointRow, AuditEventRow

GENESIS = "0" * 64
SUBJECT_MAX = 160


def claim_subject(claim_id: str) -> str:
    return f"claim:{claim_id}"


def subject(kind: str, key: object) -> str:
    """'<kind>:<key>', e.g. subject("policy", "P-1"); cut to the column's 160 characters."""
    return f"{kind}:{key}"[:SUBJECT_MAX]


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


def audit_fields(row: AuditEventRow) -> dict[str, Any]:
    return _audit_fields(
        row.at,
        row.actor,
        row.action,
        row.claim_id,
        row.source,
        row.before,
        row.after,
        row.subject,
        row.seq,
    )


def _audit_fields(
    at: datetime,
    actor: str,
    action: str,
    claim_id: str | None,
    source: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    subject: str | None = None,
    seq: int | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "claim_id": claim_id,
        "source": source,
        "before": before,
        "after": after,
    }
    if subject is not None:  # legacy events (one global chain) hashed without them
        fields |= {"subject": subject, "seq": seq}
    return fields


def append_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    at: datetime,
    claim_id: str | None = None,
    subject: str | None = None,
    new_subject: bool = False,
    source: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> str:
    """Append one event to its subject's chain; returns its hash.

    `subject` defaults to the claim's ("claim:<claim_id>"). `new_subject`: the caller
    created the subject in this transaction (a claim at intake), so the event is its
    first and no other transaction can append to it: no lock, no read.

    Lock order: the subject's lock comes after every row the transaction changes
    (policy, claim, tallies: service/usecases/payments.py), so the session's pending
    changes are flushed first (the lock and head statements are Core, which does not
    autoflush); append last, and to one subject per transaction."""
    subject = subject or (claim_subject(claim_id) if claim_id else None)
    if not subject:
        raise ValueError("an audit event needs a subject or a claim_id")
    prev, seq = GENESIS, 1
    pg = _is_pg(session)
    if not new_subject:
        session.flush()  # row changes (and their row locks) before the subject's lock
        if pg:
            session.execute(sql.SUBJECT_LOCK, {"key": _lock_key(subject)})
        head = session.execute(sql.SUBJECT_HEAD, {"subject": subject}).first()
        if head is not None:
            prev, seq = head.hash, int(head.seq) + 1
    fields = _audit_fields(at, actor, action, claim_id, source, before, after, subject, seq)
    digest = event_hash(prev, fields)
    session.execute(
        sql.INSERT_AUDIT_PG if pg else sql.INSERT_AUDIT,
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
            "subject": subject,
            "seq": seq,
        },
    )
    return digest


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_key(subject: str) -> int:
    """A signed 32-bit key for pg_advisory_xact_lock(namespace, key)."""
    return int.from_bytes(hashlib.blake2b(subject.encode(), digest_size=4).digest(), signed=True)


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
    if filters.get("subject"):
        query = query.where(AuditEventRow.subject == filters["subject"])
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


# --- reading the chains back (claims audit verify) ---------------------------------


def iter_legacy_chain(session: Session, batch: int = 1000) -> Iterator[AuditEventRow]:
    """Events from before per-subject chains (subject NULL): one chain in id order."""
    query = select(AuditEventRow).where(AuditEventRow.subject.is_(None))
    yield from _stream(session, query.order_by(AuditEventRow.id), batch)


def iter_subject_chains(session: Session, batch: int = 1000) -> Iterator[AuditEventRow]:
    """Every subject's events, subject after subject, each in seq order."""
    query = select(AuditEventRow).where(AuditEventRow.subject.is_not(None))
    order = query.order_by(AuditEventRow.subject, AuditEventRow.seq)
    yield from _stream(session, order, batch)


def _stream(session: Session, query: Any, batch: int) -> Iterator[AuditEventRow]:
    for row in session.scalars(query.execution_options(yield_per=batch)):
        yield row
        session.expunge(row)


# --- checkpoints ------------------------------------------------------------------


def position_kind(session: Session) -> str:
    return "txid" if _is_pg(session) else "id"


def checkpoint_horizon(session: Session) -> int:
    """The position below which every event is final: no transaction that could still
    add one below it is running. PostgreSQL: the oldest running transaction id (every
    older transaction has committed or rolled back). SQLite: the next event id (the
    caller holds the write lock, so no writer is in flight)."""
    if _is_pg(session):
        horizon = func.pg_snapshot_xmin(func.pg_current_snapshot())
        return int(session.execute(select(cast(cast(horizon, Text), BigInteger))).scalar_one())
    next_id = select(func.coalesce(func.max(AuditEventRow.id), 0) + 1)
    return int(session.execute(next_id).scalar_one())


def covered_events(session: Session, kind: str, low: int, high: int) -> list[tuple[int, str]]:
    """(id, hash) of the events at positions [low, high), in id order."""
    column = AuditEventRow.txid if kind == "txid" else AuditEventRow.id
    query = (
        select(AuditEventRow.id, AuditEventRow.hash)
        .where(column >= low, column < high)
        .order_by(AuditEventRow.id)
    )
    return [(int(i), str(h)) for i, h in session.execute(query)]


def unpositioned_events(session: Session, limit: int = 10) -> list[int]:
    """PostgreSQL events without a txid: written around the checkpoints' back."""
    query = select(AuditEventRow.id).where(AuditEventRow.txid.is_(None)).order_by(AuditEventRow.id)
    return list(session.scalars(query.limit(limit)))


def last_checkpoint(session: Session) -> AuditCheckpointRow | None:
    query = select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)
    return session.scalar(query)


def checkpoints(session: Session) -> list[AuditCheckpointRow]:
    return list(session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)))


def add_checkpoint(session: Session, values: dict[str, Any]) -> None:
    session.add(AuditCheckpointRow(**values))
    session.flush()
