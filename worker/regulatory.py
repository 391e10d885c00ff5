"""Statutory clocks (e.g. California 10 CCR 2695), driven from the database by the sweep.

Three clocks per open claim, all counted in calendar days from receipt
(the earlier of the claim's `reported_at` and `created_at`):

- **acknowledge** (REG_ACK_DAYS, 15): stops when the claim's `acknowledgment`
  outbox row has been *sent* (status `sent`); a claim without a claimant email
  never gets one, so its clock runs until the claim is decided.
- **decide** (REG_DECIDE_DAYS, 40): stops when the claim is decided, i.e. its
  status is `approved`, `rejected` or `closed`. `escalated` (including an
  appeal) and `pending_info` are not decisions.
- **status letter** (REG_STATUS_EVERY_DAYS, 30): while the claim is open the
  claimant gets letter n at receipt + n x 30 days (`status_update`).

At REG_WARN_AT (0.8) of the acknowledge or decide deadline the supervisors'
lead gets one `regulatory_clock` warning, and one more when it is missed. Every
message has a deterministic dedupe key, so sweeps that run twice send nothing
twice; a late sweep sends only the latest letter or stage. A setting of 0
turns that clock off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.db.tables import ClaimRow, OutboxRow
from worker.outbox import add_once

log = logging.getLogger(__name__)

OPEN = ("received", "pending_info", "escalated")
DECIDED = ("approved", "rejected", "closed")
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


def clock_start(claim: ClaimRow) -> datetime:
    """Receipt of the claim: the earlier of when it was reported and when we stored it."""
    return min(claim.reported_at, claim.created_at)


def warn_at(config: Any) -> float:
    value = float(getattr(config, "REG_WARN_AT", 0.8))
    return value if 0 < value <= 1 else 0.8


def claim_clocks(
    claim: ClaimRow, acknowledged: bool, now: datetime, config: Any
) -> list[ClockState]:
    """The running deadlines of one claim (none once it is decided)."""
    if claim.status not in OPEN:
        return []
    start = clock_start(claim)
    limits = []
    ack_days = int(getattr(config, "REG_ACK_DAYS", 15))
    decide_days = int(getattr(config, "REG_DECIDE_DAYS", 40))
    if ack_days > 0 and not acknowledged:
        limits.append(("acknowledge", ack_days))
    if decide_days > 0:
        limits.append(("decide", decide_days))
    threshold = warn_at(config)
    out = []
    for clock, days in limits:
        due = start + timedelta(days=days)
        used = max((now - start) / timedelta(days=days), 0.0)
        stage = "past" if now >= due else "near" if used >= threshold else "ok"
        out.append(ClockState(claim.id, clock, start, due, days, used, stage))
    return out


def acknowledged_ids(session: Session, claim_ids: list[str] | None = None) -> set[str]:
    """Claims whose acknowledgment message has been delivered."""
    query = select(OutboxRow.claim_id).where(
        OutboxRow.event == "acknowledgment", OutboxRow.status == "sent"
    )
    if claim_ids is not None:
        query = query.where(OutboxRow.claim_id.in_(claim_ids))
    return {c for c in session.scalars(query) if c}


def near_or_past(session: Session, config: Any, now: datetime) -> list[dict[str, Any]]:
    """Every open claim's clock at or past the warning point, most urgent first (digest)."""
    claims = list(session.scalars(select(ClaimRow).where(ClaimRow.status.in_(OPEN))))
    acked = acknowledged_ids(session)
    states = [
        s for c in claims for s in claim_clocks(c, c.id in acked, now, config) if s.stage != "ok"
    ]
    states.sort(key=lambda s: (s.due_at, s.claim_id, s.clock))
    return [s.as_dict() for s in states]


def sweep_regulatory(sessions: sessionmaker[Session], config: Any, now: datetime) -> dict[str, int]:
    """Warnings to the supervisors' lead and status letters to claimants, each once."""
    counts = {"warnings": 0, "status_letters": 0}
    with sessions() as session:
        claim_ids = list(session.scalars(select(ClaimRow.id).where(ClaimRow.status.in_(OPEN))))
    every = int(getattr(config, "REG_STATUS_EVERY_DAYS", 30))
    lead = str(getattr(config, "SUPERVISOR_LEAD_EMAIL", "") or "")
    for claim_id in claim_ids:
        with sessions.begin() as session:
            claim = session.get(ClaimRow, claim_id)
            if claim is None or claim.status not in OPEN:
                continue
            acked = claim_id in acknowledged_ids(session, [claim_id])
            for state in claim_clocks(claim, acked, now, config):
                if state.stage == "ok":
                    continue
                if not lead:
                    log.warning(
                        "SUPERVISOR_LEAD_EMAIL is empty: %s clock of %s is %s",
                        state.clock,
                        claim_id,
                        state.stage,
                    )
                    continue
                payload = dict(state.as_dict(), clock_label=LABELS[state.clock])
                key = f"claim:{claim_id}:reg:{state.clock}:{state.stage}:email"
                if add_once(session, key, "regulatory_clock", "email", payload, now, claim_id):
                    counts["warnings"] += 1
                    log.warning(
                        "claim %s: statutory clock %s %s (due %s)",
                        claim_id,
                        state.clock,
                        state.stage,
                        state.due_at.isoformat(),
                    )
            counts["status_letters"] += _status_letter(session, claim, every, now)
    return counts


def _status_letter(session: Session, claim: ClaimRow, every: int, now: datetime) -> int:
    if every <= 0 or not (claim.claimant or {}).get("email"):
        return 0
    letter = (now - clock_start(claim)) // timedelta(days=every)
    if letter < 1:
        return 0
    payload = {
        "claim_id": claim.id,
        "letter": letter,
        "days_open": letter * every,
        "every_days": every,
    }
    key = f"claim:{claim.id}:status:{letter}:email"  # a late sweep sends the latest only
    return int(add_once(session, key, "status_update", "email", payload, now, claim.id))
