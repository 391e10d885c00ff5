"""What a claim's page shows beside the claim itself (read only): its appeals and the
other claims on its policy."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.tables import AppealRow, ClaimRow


def appeals_of(session: Session, claim_id: str) -> list[AppealRow]:
    """Every appeal of the claim, newest first."""
    return list(
        session.scalars(
            select(AppealRow).where(AppealRow.claim_id == claim_id).order_by(AppealRow.id.desc())
        )
    )


def claims_on_policy(
    session: Session, policy_number: str, *, besides: str, limit: int
) -> list[ClaimRow]:
    """Up to `limit` other claims on the policy, newest first."""
    return list(
        session.scalars(
            select(ClaimRow)
            .where(ClaimRow.policy_number == policy_number, ClaimRow.id != besides)
            .order_by(ClaimRow.created_at.desc(), ClaimRow.id)
            .limit(limit)
        )
    )
