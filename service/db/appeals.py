"""Appeals: open ones per claim, and those whose deadline is near."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.tables import AppealRow


def open_appeal(session: Session, claim_id: str) -> AppealRow | None:
    return session.scalar(
        select(AppealRow)
        .where(AppealRow.claim_id == claim_id, AppealRow.status == "open")
        .order_by(AppealRow.id.desc())
        .limit(1)
    )


def appeals_of(session: Session, claim_id: str) -> list[AppealRow]:
    """Every appeal of a claim, oldest first."""
    return list(
        session.scalars(
            select(AppealRow).where(AppealRow.claim_id == claim_id).order_by(AppealRow.id)
        )
    )


def appeals_due_for_reminder(session: Session, remind_before: datetime) -> list[AppealRow]:
    """Open appeals whose deadline falls before `remind_before` and that had no reminder."""
    return list(
        session.scalars(
            select(AppealRow)
            .where(
                AppealRow.status == "open",
                AppealRow.reminded_at.is_(None),
                AppealRow.answer_due_at <= remind_before,
            )
            .order_by(AppealRow.answer_due_at, AppealRow.id)
        )
    )
