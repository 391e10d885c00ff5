"""The operations page: what a desk lead reads each morning.

- the queue's deadlines: overdue, due later today (in the viewer's zone), due soon;
- the oldest open claims;
- the outbox: lag (age of the oldest message not yet delivered) and dead letters;
- statutory clocks near or past their deadline (service/domain/statutory.py);
- decisions per day by outcome (UTC days);
- the touchless (auto-adjudication) rate per day and line of business.

**Touchless**: the one definition of service/usecases/read_touchless.py (the API's
metric), per UTC day and line of business. A day's rate far above the desk's usual one
is a warning: `RATE_WARN_ABOVE` (0.15) or more over the rate of the other days of the
window, for that line of business, on a day with at least `RATE_WARN_MIN` (5) claims
decided.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from service.db import claims, operations, outbox
from service.domain.lifecycle import QUEUED
from service.domain.money import fmt
from service.usecases.context import Context
from service.usecases.read_touchless import TouchlessDay, touchless_rate
from service.usecases.run_statutory_clocks import near_or_past

OPEN_STATUSES = ("received", "pending_info", "escalated", "appealed")
OUTCOMES = ("approved", "rejected", "escalated", "pending_info", "closed")
RATE_WARN_ABOVE = Decimal("0.15")
RATE_WARN_MIN = 5
OUTBOX_LAG_WARN_SECONDS = 15 * 60
PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class TouchlessFigure:
    """A TouchlessDay (read_touchless) beside the desk's usual rate."""

    day: date
    claim_type: str
    decided: int
    touchless: int
    rate: Decimal  # touchless / decided, 4 places
    usual: Decimal | None  # the rate over the other days of the window (None: no other day)
    warn: bool  # far above the usual rate


def touchless_figures(days: list[TouchlessDay]) -> list[TouchlessFigure]:
    """Each day's touchless rate with the usual rate of its line of business (the other
    days of `days`) and whether it is far above it."""
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in days:
        per_type[row.claim_type][0] += row.decided
        per_type[row.claim_type][1] += row.touchless
    figures = []
    for row in days:
        other_n = per_type[row.claim_type][0] - row.decided
        other_t = per_type[row.claim_type][1] - row.touchless
        usual = (
            (Decimal(other_t) / Decimal(other_n)).quantize(PLACES, ROUND_HALF_EVEN)
            if other_n
            else None
        )
        warn = (
            usual is not None
            and row.decided >= RATE_WARN_MIN
            and row.rate - usual >= RATE_WARN_ABOVE
        )
        figures.append(
            TouchlessFigure(
                row.day, row.claim_type, row.decided, row.touchless, row.rate, usual, warn
            )
        )
    return figures


def operations_page(ctx: Context, *, zone: ZoneInfo, days: int = 14) -> dict[str, Any]:
    """Everything the operations page shows, for a viewer in `zone` (its "today")."""
    now = ctx.clock.now()
    local_today = now.astimezone(zone).date()
    day_end = datetime.combine(local_today + timedelta(days=1), time(), zone).astimezone(UTC)
    end = now.astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, time(), UTC)
    with ctx.unit_of_work(read_only=True) as session:
        overdue, due_today = operations.deadline_counts(session, QUEUED, now, day_end)
        oldest = [
            {
                "id": row.id,
                "external_ref": row.external_ref,
                "status": row.status,
                "claim_type": row.claim_type,
                "amount": fmt(row.amount, row.currency),
                "currency": row.currency,
                "reported_at": row.reported_at.isoformat(),
                "age_days": (now - row.reported_at).days,
            }
            for row in operations.oldest_open(session, OPEN_STATUSES, 10)
        ]
        trails = operations.decision_trails(session, since)
        oldest_pending = outbox.oldest_pending_outbox(session)
        dead = outbox.count_dead(session)
        by_status = claims.count_by_status(session)
        clocks = near_or_past(session, ctx.config, now)
    per_day: dict[date, Counter[str]] = {start + timedelta(days=i): Counter() for i in range(days)}
    for _claim, _type, outcome, _by, decided_at in trails:
        day = decided_at.astimezone(UTC).date()
        if day in per_day:
            per_day[day][outcome] += 1
    seen = {o for counter in per_day.values() for o in counter}
    outcomes = [o for o in OUTCOMES if o in seen] + sorted(seen - set(OUTCOMES))
    lag = int((now - oldest_pending).total_seconds()) if oldest_pending else 0
    touchless = touchless_figures(touchless_rate(ctx, start=start, end=end))
    return {
        "by_status": dict(sorted(by_status.items())),
        "overdue": overdue,
        "due_today": due_today,
        "oldest_open": oldest,
        "outbox_lag_seconds": lag,
        "outbox_lag_warn": lag >= OUTBOX_LAG_WARN_SECONDS,
        "dead_letters": dead,
        "clocks": clocks,
        "clocks_past": sum(1 for c in clocks if c["stage"] == "past"),
        "clocks_near": sum(1 for c in clocks if c["stage"] == "near"),
        "chart": {
            "days": [d.isoformat() for d in per_day],
            "outcomes": outcomes,
            "series": {o: [per_day[d][o] for d in per_day] for o in outcomes},
        },
        "touchless": touchless,
        "touchless_warnings": [t for t in touchless if t.warn],
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
