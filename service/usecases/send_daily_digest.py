"""The daily operations digest: queued once per day (dedupe key digest:<day>:email) to
DIGEST_RECIPIENTS; its content is read when it is sent (`digest_context`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from service.config import Config
from service.db import outbox, reporting
from service.db.session import Session
from service.domain.lifecycle import ClaimStatus
from service.usecases.context import Context
from service.usecases.run_statutory_clocks import near_or_past

OPEN = (ClaimStatus.PENDING_INFO, ClaimStatus.ESCALATED, ClaimStatus.APPEALED)
CLOCKS_LISTED = 50  # the digest lists the most urgent; the counts cover all


def send_daily_digest(ctx: Context, day: date) -> bool:
    """Queue the digest of `day` once; False when already queued or nobody receives it."""
    if not ctx.config.digest_recipients:
        return False
    with ctx.unit_of_work() as session:
        queued = outbox.add_once(
            session,
            f"digest:{day.isoformat()}:email",
            "daily_digest",
            "email",
            {"day": day.isoformat()},
            ctx.clock.now(),
        )
        session.commit()
    return queued


def digest_due(ctx: Context) -> date | None:
    """Yesterday (UTC), once the clock has passed DIGEST_HOUR_UTC today; else None."""
    now = ctx.clock.now()
    return (now - timedelta(days=1)).date() if now.hour >= ctx.config.digest_hour_utc else None


def digest_context(session: Session, day: date, config: Config) -> dict[str, Any]:
    """What the digest of `day` says: the day's counts, SLA breaches, the oldest open claims,
    dead messages, and the statutory clocks as at the end of the day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    figures = reporting.digest_figures(session, start, end, OPEN)
    outcomes, by_status = figures["outcomes"], figures["by_status"]
    clocks = near_or_past(session, config, end)
    return {
        "day": day.isoformat(),
        "counts": {
            "new": figures["new"],
            "decided": sum(outcomes.values()),
            "pending_info": by_status.get("pending_info", 0),
            "escalated": by_status.get("escalated", 0),
            "appealed": by_status.get("appealed", 0),
        },
        "outcomes": dict(sorted(outcomes.items())),
        "breaches": [
            {"claim_id": b.claim_id, "due_at": b.due_at.isoformat()} for b in figures["breaches"]
        ],
        "oldest": [
            {"claim_id": c.id, "status": c.status, "created_at": c.created_at.isoformat()}
            for c in figures["oldest"]
        ],
        "dead": figures["dead"],
        "clocks": clocks[:CLOCKS_LISTED],
        "clocks_total": len(clocks),
        "clocks_past": sum(c["stage"] == "past" for c in clocks),
    }
