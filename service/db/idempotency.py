"""Idempotency-Key reservations: one in-flight request per key, then its stored response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from service.db import statements as sql
from service.db.session import rowcount


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


def purge_idempotency_keys(session: Session, older_than: datetime, limit: int) -> int:
    """Delete up to `limit` keys created before `older_than` (oldest first); returns how
    many. One short statement on the created_at index: call it again until it returns
    less than `limit`."""
    c = sql.IDEMPOTENCY.c
    oldest = (
        select(c.client_id, c.key)
        .where(c.created_at < older_than)
        .order_by(c.created_at)
        .limit(limit)
    )
    rows = session.execute(oldest).all()
    if not rows:
        return 0
    keys = tuple_(c.client_id, c.key).in_([tuple(r) for r in rows])
    return rowcount(session.execute(delete(sql.IDEMPOTENCY).where(keys)))
