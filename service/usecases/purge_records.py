"""Purge the records that only grow, a batch at a time (a step of every scheduler sweep).

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

from service.db import accounts, idempotency
from service.db.session import Session
from service.usecases.context import Context

MAX_BATCHES = 50  # per table and sweep
Purge = Callable[[Session, datetime, int], int]


def purge_expired(ctx: Context) -> dict[str, int]:
    """Rows deleted per table in this sweep, at `ctx.clock.now()`."""
    now = ctx.clock.now()
    config = ctx.config
    cutoffs: dict[str, tuple[Purge, datetime]] = {
        "idempotency_keys": (
            idempotency.purge_idempotency_keys,
            now - timedelta(hours=config.idempotency_ttl_hours),
        ),
        "console_sessions": (
            accounts.purge_sessions,
            now - timedelta(days=config.session_retention_days),
        ),
        "login_throttles": (
            accounts.purge_login_throttles,
            now - timedelta(minutes=config.login_lock_minutes),
        ),
    }
    return {
        table: _in_batches(ctx, purge, cutoff, config.purge_batch_size)
        for table, (purge, cutoff) in cutoffs.items()
    }


def _in_batches(ctx: Context, purge: Purge, cutoff: datetime, batch: int) -> int:
    total = 0
    for _ in range(MAX_BATCHES):
        with ctx.unit_of_work() as session:
            deleted = purge(session, cutoff, batch)
            session.commit()
        total += deleted
        if deleted < batch:
            break
    return total
