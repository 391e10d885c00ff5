"""Purge the records that only grow, a batch at a time (run by every scheduler sweep).

- idempotency_keys: IDEMPOTENCY_TTL_HOURS after they were made;
- console_sessions: SESSION_RETENTION_DAYS after the session's absolute end;
- login_throttles: LOGIN_LOCK_MINUTES after the last attempt (forgotten by then).

Each batch is its own short transaction deleting at most PURGE_BATCH_SIZE rows found on an
index, so no lock is held for long and intake carries on between batches; one sweep stops
after MAX_BATCHES batches per table and the next sweep goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service.db import accounts, idempotency

MAX_BATCHES = 50  # per table and sweep


def purge_expired(sessions: sessionmaker[Session], config: Any, now: datetime) -> dict[str, int]:
    """Rows deleted per table in this sweep."""
    cutoffs: dict[str, tuple[Callable[[Session, datetime, int], int], datetime]] = {
        "idempotency_keys": (
            idempotency.purge_idempotency_keys,
            now - timedelta(hours=int(config.idempotency_ttl_hours)),
        ),
        "console_sessions": (
            accounts.purge_sessions,
            now - timedelta(days=int(config.session_retention_days)),
        ),
        "login_throttles": (
            accounts.purge_login_throttles,
            now - timedelta(minutes=int(config.login_lock_minutes)),
        ),
    }
    batch = int(config.purge_batch_size)
    return {
        table: _in_batches(sessions, purge, cutoff, batch)
        for table, (purge, cutoff) in cutoffs.items()
    }


def _in_batches(
    sessions: sessionmaker[Session],
    purge: Callable[[Session, datetime, int], int],
    cutoff: datetime,
    batch: int,
) -> int:
    total = 0
    for _ in range(MAX_BATCHES):
        with sessions.begin() as session:
            deleted = purge(session, cutoff, batch)
        total += deleted
        if deleted < batch:
            break
    return total
