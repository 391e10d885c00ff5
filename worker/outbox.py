"""Writing outbox rows from the workers, once per dedupe key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.outbox import add_outbox
from service.db.tables import OutboxRow


def add_once(
    session: Session,
    dedupe_key: str,
    event: str,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
    claim_id: str | None = None,
) -> bool:
    """Insert the row unless its dedupe key exists; True when this call inserted it."""
    if session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key)):
        return False
    try:
        with session.begin_nested():
            add_outbox(
                session,
                dedupe_key=dedupe_key,
                claim_id=claim_id,
                event=event,
                channel=channel,
                payload=payload,
                request_id=None,
                now=now,
            )
    except IntegrityError:
        return False  # another sweep got there first
    return True
