"""What /readyz and the metrics ask about the service's own state."""

from __future__ import annotations

from service.db import outbox
from service.db.session import ping
from service.metrics import seconds_since
from service.usecases.context import Context


def database_answers(ctx: Context) -> bool:
    try:
        with ctx.unit_of_work(read_only=True) as session:
            ping(session)
        return True
    except Exception:  # noqa: BLE001 - any failure means: not ready
        return False


def outbox_lag_seconds(ctx: Context) -> float | None:
    """Age in seconds of the oldest message not yet delivered (0 when none); None when the
    database cannot be asked (a scrape must not fail with the database)."""
    try:
        with ctx.unit_of_work(read_only=True) as session:
            oldest = outbox.oldest_pending_outbox(session)
    except Exception:  # noqa: BLE001
        return None
    return seconds_since(oldest) if oldest else 0.0
