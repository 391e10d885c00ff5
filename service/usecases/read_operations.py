"""The operations page: what a desk lead reads each morning.

- the queue's deadlines: overdue, due later today (in the viewer's zone), due soon;
- the oldest open claims;
- the outbox: lag (age of the oldest message not yet delivered) and dead letters;
- statutory clocks near or past their deadline (service/domain/statutory.py);
- decisions per day by outcome (UTC days);
- the touchless (auto-adjudication) rate per day and line of business.

**Touchless**, the same definition as the API's metric: a claim counts once, on the UTC
day of its first approval or rejection; it is touchless when that decision was made by
the rules (`decided_by` "rules") and no earlier decision of the claim pended it
(pending_info or escalated). A day's rate far above the desk's usual one is a warning:
`RATE_WARN_ABOVE` (0.15) or more over the rate of the other days of the window, for that
line of business, on a day with at least `RATE_WARN_MIN` (5) claims decided.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from service.db import claims, operations, outbox
from service.domain.money import fmt
from service.usecases.context import Context
from service.usecases.read_queue import QUEUE_STATUSES
from service.usecases.run_statutory_clocks import near_or_past

OPEN_STATUSES = ("received", "pending_info", "escalated", "appealed")
OUTCOMES = ("approved", "rejected", "escalated", "pending_info", "closed")
FINAL = ("approved", "rejected")
PENDED = ("pending_info", "escalated")
RATE_WARN_ABOVE = Decimal("0.15")
RATE_WARN_MIN = 5
OUTBOX_LAG_WARN_SECONDS = 15 * 60
PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class TouchlessDay:
    day: date
    claim_type: str
    decided: int
    touchless: int
    rate: Decimal  # touchless / decided, 4 places
    usual: Decimal | None  # the rate over the other days of the window (None: no other day)
    warn: bool  # far above the usual rate


def touchless_days(trails: list[tuple[Any, ...]], start: date, end: date) -> list[TouchlessDay]:
    """Touchless per (UTC day, claim type) in [start, end] from decision trails
    (claim_id, claim_type, outcome, decided_by, decided_at) in claim then decision order."""
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    pended: set[str] = set()
    counted: set[str] = set()
    for claim_id, claim_type, outcome, decided_by, decided_at in trails:
        if claim_id in counted:
            continue
        if outcome in FINAL:
            counted.add(claim_id)
            day = decided_at.astimezone(UTC).date()
            if start <= day <= end:
                tally = counts[(day, claim_type)]
                tally[0] += 1
                tally[1] += int(decided_by == "rules" and claim_id not in pended)
        elif outcome in PENDED:
            pended.add(claim_id)
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, claim_type), (n, t) in counts.items():
        per_type[claim_type][0] += n
        per_type[claim_type][1] += t
    days = []
    for (day, claim_type), (n, t) in sorted(counts.items()):
        rate = (Decimal(t) / Decimal(n)).quantize(PLACES, ROUND_HALF_EVEN)
        other_n = per_type[claim_type][0] - n
        other_t = per_type[claim_type][1] - t
        usual = (
            (Decimal(other_t) / Decimal(other_n)).quantize(PLACES, ROUND_HALF_EVEN)
            if other_n
            else None
        )
        warn = usual is not None and n >= RATE_WARN_MIN and rate - usual >= RATE_WARN_ABOVE
        days.append(TouchlessDay(day, claim_type, n, t, rate, usual, warn))
    return days


def operations_page(ctx: Context, *, zone: ZoneInfo, days: int = 14) -> dict[str, Any]:
    """Everything the operations page shows, for a viewer in `zone` (its "today")."""
    now = ctx.clock.now()
    local_today = now.astimezone(zone).date()
    day_end = datetime.combine(local_today + timedelta(days=1), time(), zone).astimezone(UTC)
    end = now.astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, time(), UTC)
    with ctx.unit_of_work(read_only=True) as session:
        overdue, due_today = operations.deadline_counts(session, QUEUE_STATUSES, now, day_end)
        oldest = [
            {
                "id": row.id,
                "external_ref": row.external_ref,
                "status": row.status,
                "claim_type": row.claim_type,
                "amount": fmt(row.amount, row.currency),
                "currency": row.currency,
                "received_at": row.created_at.isoformat(),
                "age_days": (now - row.created_at).days,
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
    touchless = touchless_days(trails, start, end)
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
