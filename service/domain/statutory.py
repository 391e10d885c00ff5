"""Statutory clocks (e.g. California 10 CCR 2695): how far along each deadline of an open
claim is. Pure: the sweep (service/usecases/run_statutory_clocks.py) acts on the result.

Counted in calendar days from receipt (the earlier of when the claim was reported and
when it was stored):
- **acknowledge** (REG_ACK_DAYS): runs until the acknowledgment has been sent;
- **decide** (REG_DECIDE_DAYS): runs until the claim is approved, rejected or closed.
A limit of 0 turns that clock off. `near` from REG_WARN_AT of the time, `past` at the
deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

OPEN = ("received", "pending_info", "escalated")  # = lifecycle.OPEN
LABELS = {"acknowledge": "acknowledge the claim", "decide": "accept or deny the claim"}


@dataclass(frozen=True)
class ClockState:
    claim_id: str
    clock: str  # acknowledge | decide
    started_at: datetime
    due_at: datetime
    limit_days: int
    used: float  # share of the time used, 1.0 = due now
    stage: str  # ok | near | past

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim_id": self.claim_id,
            "clock": self.clock,
            "label": LABELS[self.clock],
            "stage": self.stage,
            "due_at": self.due_at.isoformat(),
            "started_at": self.started_at.isoformat(),
            "limit_days": self.limit_days,
            "percent": int(self.used * 100),
        }


@dataclass(frozen=True)
class Limits:
    acknowledge_days: int
    decide_days: int
    warn_at: float  # share of the time; outside (0, 1] means 0.8

    @property
    def threshold(self) -> float:
        return self.warn_at if 0 < self.warn_at <= 1 else 0.8


def received_at(reported_at: datetime, created_at: datetime) -> datetime:
    """Receipt of the claim: the earlier of when it was reported and when we stored it."""
    return min(reported_at, created_at)


def claim_clocks(
    claim_id: str,
    status: str,
    received: datetime,
    acknowledged: bool,
    now: datetime,
    limits: Limits,
) -> list[ClockState]:
    """The running deadlines of one claim (none once it is decided)."""
    if status not in OPEN:
        return []
    running = []
    if limits.acknowledge_days > 0 and not acknowledged:
        running.append(("acknowledge", limits.acknowledge_days))
    if limits.decide_days > 0:
        running.append(("decide", limits.decide_days))
    out = []
    for clock, days in running:
        due = received + timedelta(days=days)
        used = max((now - received) / timedelta(days=days), 0.0)
        stage = "past" if now >= due else "near" if used >= limits.threshold else "ok"
        out.append(ClockState(claim_id, clock, received, due, days, used, stage))
    return out


def status_letter_due(received: datetime, now: datetime, every_days: int) -> int:
    """The number of the latest status letter due by now (0: none yet, or letters are off)."""
    if every_days <= 0:
        return 0
    return (now - received) // timedelta(days=every_days)
