"""The operations page's figures (read only, across claims, decisions and the queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.tables import ClaimRow, DecisionRow


def deadline_counts(
    session: Session, statuses: tuple[str, ...], now: datetime, day_end: datetime
) -> tuple[int, int]:
    """(overdue, due later today) among claims in `statuses`: deadline before `now`, and
    deadline from `now` up to `day_end`."""
    base = select(func.count()).select_from(ClaimRow).where(ClaimRow.status.in_(statuses))
    overdue = session.scalar(base.where(ClaimRow.sla_due_at < now)) or 0
    today = (
        session.scalar(base.where(ClaimRow.sla_due_at >= now, ClaimRow.sla_due_at < day_end)) or 0
    )
    return int(overdue), int(today)


def oldest_open(session: Session, statuses: tuple[str, ...], limit: int) -> list[ClaimRow]:
    """The claims in `statuses` reported longest ago (the claimant's time, not ours)."""
    return list(
        session.scalars(
            select(ClaimRow)
            .where(ClaimRow.status.in_(statuses))
            .order_by(ClaimRow.reported_at, ClaimRow.id)
            .limit(limit)
        )
    )


def decision_trails(session: Session, since: datetime) -> list[tuple[Any, ...]]:
    """Every decision of the claims decided at or after `since` (earlier ones included,
    to see whether a claim was pended): (claim_id, claim_type, outcome, decided_by,
    decided_at), by claim then decision order."""
    recent = select(DecisionRow.claim_id).where(DecisionRow.decided_at >= since).distinct()
    rows = session.execute(
        select(
            DecisionRow.claim_id,
            ClaimRow.claim_type,
            DecisionRow.outcome,
            DecisionRow.decided_by,
            DecisionRow.decided_at,
        )
        .join(ClaimRow, ClaimRow.id == DecisionRow.claim_id)
        .where(DecisionRow.claim_id.in_(recent))
        .order_by(DecisionRow.claim_id, DecisionRow.id)
    )
    return [tuple(r) for r in rows]
