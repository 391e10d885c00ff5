"""The auto-adjudication (touchless) rate: the share of claims decided without a person
and never pended, per day and line of business (claim type).

A claim counts once, on the UTC day of its first approval or rejection (its first
decision with a final outcome). It is touchless when that decision was made by the
rules (`decided_by_kind` "rule") and no earlier decision of the claim asked for
documents or escalated it (pending_info or escalated: it was pended). Appeals answered
later do not change the day's figure. Best-in-class desks report 0.90-0.95; a rate far
above the desk's usual one is itself a warning (rules approving what a person should see).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from service.db import reporting
from service.usecases.context import Context

FINAL = ("approved", "rejected")
PENDED = ("pending_info", "escalated")
MAX_DAYS = 366  # a bounded range: a year of days at most
PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class TouchlessDay:
    day: date  # UTC calendar day of the claims' first final decision
    claim_type: str  # the line of business
    decided: int  # claims first decided that day
    touchless: int  # of which by the rules, never pended
    rate: Decimal  # touchless / decided, 4 decimal places (0 <= rate <= 1)


def touchless_rate(ctx: Context, *, start: date, end: date) -> list[TouchlessDay]:
    """Per (day, claim type) in [start, end] (both days included, UTC), ordered by day
    then claim type; only days and types with at least one claim decided. ValueError if
    end is before start or the range is longer than MAX_DAYS."""
    if end < start:
        raise ValueError("end is before start")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days at once")
    low = datetime.combine(start, time(), UTC)
    high = datetime.combine(end + timedelta(days=1), time(), UTC)
    with ctx.unit_of_work(read_only=True) as session:
        rows = reporting.decision_trails(session, low, high)
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    pended: set[str] = set()
    counted: set[str] = set()
    for claim_id, claim_type, outcome, kind, decided_at in rows:
        if claim_id in counted:
            continue
        if outcome in FINAL:
            counted.add(claim_id)
            if not low <= decided_at < high:
                continue  # first decided before the range
            tally = counts[(decided_at.astimezone(UTC).date(), claim_type)]
            tally[0] += 1
            tally[1] += int(kind == "rule" and claim_id not in pended)
        elif outcome in PENDED:
            pended.add(claim_id)
    return [
        TouchlessDay(
            day, claim_type, n, t, (Decimal(t) / Decimal(n)).quantize(PLACES, ROUND_HALF_EVEN)
        )
        for (day, claim_type), (n, t) in sorted(counts.items())
    ]


def touchless_totals(ctx: Context, *, start: date, end: date) -> dict[str, tuple[int, int]]:
    """(decided, touchless) per claim type over [start, end]: what /metrics exports."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in touchless_rate(ctx, start=start, end=end):
        totals[row.claim_type][0] += row.decided
        totals[row.claim_type][1] += row.touchless
    return {claim_type: (n, t) for claim_type, (n, t) in totals.items()}


def touchless_today(ctx: Context) -> dict[str, tuple[int, int]]:
    """Today's (UTC, by the context's clock) figures per claim type, for /metrics."""
    today = ctx.clock.now().astimezone(UTC).date()
    return touchless_totals(ctx, start=today, end=today)
