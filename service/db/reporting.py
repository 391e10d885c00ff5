"""What the reports read across claims, decisions, flags and the outbox: the daily
digest's counts and the bordereau's approved claims. Read only."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.tables import ClaimFlagRow, ClaimRow, DecisionRow, OutboxRow, PolicyRow
from service.domain.lifecycle import PAYING


def digest_figures(
    session: Session, start: datetime, end: datetime, open_statuses: tuple[str, ...]
) -> dict[str, Any]:
    """Claims created and decisions taken in [start, end), claims by status, open overdue
    flags, the ten oldest claims in `open_statuses` and the number of dead messages."""
    new = session.scalar(
        select(func.count())
        .select_from(ClaimRow)
        .where(ClaimRow.created_at >= start, ClaimRow.created_at < end)
    )
    outcomes = Counter(
        session.scalars(
            select(DecisionRow.outcome).where(
                DecisionRow.decided_at >= start, DecisionRow.decided_at < end
            )
        )
    )
    by_status = dict(
        session.execute(select(ClaimRow.status, func.count()).group_by(ClaimRow.status))
        .tuples()
        .all()
    )
    breaches = session.execute(
        select(ClaimFlagRow.claim_id, ClaimFlagRow.due_at).where(
            ClaimFlagRow.flag == "overdue", ClaimFlagRow.cleared_at.is_(None)
        )
    ).all()
    oldest = session.execute(
        select(ClaimRow.id, ClaimRow.status, ClaimRow.created_at)
        .where(ClaimRow.status.in_(open_statuses))
        .order_by(ClaimRow.created_at)
        .limit(10)
    ).all()
    dead = session.scalar(
        select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "dead")
    )
    return {
        "new": new or 0,
        "outcomes": outcomes,
        "by_status": by_status,
        "breaches": list(breaches),
        "oldest": list(oldest),
        "dead": dead or 0,
    }


def approvals(session: Session, start: datetime, end: datetime) -> list[Any]:
    """(claim, decision, approved_before) of the approvals decided in [start, end) of claims
    that pay (approved, appealed, upheld or overturned: lifecycle PAYING), by policy, claim
    type and time of decision. `approved_before`: the amount of the claim's latest approval
    decided before `start` (None if none), so an approval that replaces an earlier one
    (an appeal overturned to a higher amount) bills only the difference."""
    earlier = DecisionRow.__table__.alias("earlier")
    approved_before = (
        select(earlier.c.payable_amount)
        .where(
            earlier.c.claim_id == ClaimRow.id,
            earlier.c.outcome == "approved",
            earlier.c.decided_at < start,
        )
        .order_by(earlier.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return list(
        session.execute(
            select(ClaimRow, DecisionRow, approved_before)
            .join(DecisionRow, DecisionRow.claim_id == ClaimRow.id)
            .where(
                ClaimRow.status.in_(PAYING),
                DecisionRow.outcome == "approved",
                DecisionRow.decided_at >= start,
                DecisionRow.decided_at < end,
            )
            .order_by(
                ClaimRow.policy_number, ClaimRow.claim_type, DecisionRow.decided_at, DecisionRow.id
            )
        ).all()
    )


def decision_trails(session: Session, start: datetime, end: datetime) -> list[Any]:
    """(claim_id, claim_type, outcome, decided_by_kind, decided_at) of every decision of
    the claims with an approval or rejection decided in [start, end), by claim and
    decision id; earlier decisions included (whether the claim was pended before)."""
    decided = (
        select(DecisionRow.claim_id)
        .where(
            DecisionRow.outcome.in_(("approved", "rejected")),
            DecisionRow.decided_at >= start,
            DecisionRow.decided_at < end,
        )
        .distinct()
    )
    return list(
        session.execute(
            select(
                DecisionRow.claim_id,
                ClaimRow.claim_type,
                DecisionRow.outcome,
                DecisionRow.decided_by_kind,
                DecisionRow.decided_at,
            )
            .join(ClaimRow, ClaimRow.id == DecisionRow.claim_id)
            .where(DecisionRow.claim_id.in_(decided))
            .order_by(DecisionRow.claim_id, DecisionRow.id)
        ).all()
    )


def policy_starts(session: Session, numbers: set[str]) -> dict[str, date]:
    """effective_from of each policy in `numbers` that is on file (for policy years)."""
    if not numbers:
        return {}
    rows = session.execute(
        select(PolicyRow.number, PolicyRow.effective_from).where(PolicyRow.number.in_(numbers))
    )
    return {number: start for number, start in rows}
