"""The outbox: what must be told to whom, written in the transaction that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import statements as sql
from service.db.tables import OutboxRow


@dataclass(frozen=True)
class Message:
    """One outbox row to write: what to tell, on which channel, deduplicated by key."""

    dedupe_key: str
    claim_id: str | None
    event: str
    channel: str
    payload: dict[str, Any]


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
