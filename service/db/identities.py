"""Data access for identities, appeals, the escalation queue and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, nulls_last, select
from sqlalchemy.orm import Session, selectinload

from service.db import statements as sql
from service.db.auth_tables import ApiKeyRow, AppealRow, UserRow
from service.db.tables import AuditEventRow, ClaimRow, DecisionRow

# --- users and keys -------------------------------------------------------------


def user_by_username(session: Session, username: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.username == username))


def user_by_id(session: Session, user_id: int) -> UserRow | None:
    return session.get(UserRow, user_id)


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def key_by_prefix(session: Session, prefix: str) -> ApiKeyRow | None:
    return session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))


def key_for_authentication(session: Session, prefix: str) -> Any:
    """id, prefix, name, role, secret_hash, revoked_at, last_used_at of the key, or None."""
    return session.execute(sql.API_KEY_BY_PREFIX, {"prefix": prefix}).first()


def touch_key(session: Session, key_id: int, now: datetime) -> None:
    session.execute(sql.TOUCH_API_KEY, {"key_id": key_id, "now": now})


def list_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)))


# --- claims for supervisors --------------------------------------------------------


def claim_for_update(session: Session, claim_id: str, client_id: str | None) -> ClaimRow | None:
    """The claim, row-locked on PostgreSQL (SQLite serialises writers at BEGIN IMMEDIATE)."""
    query = select(ClaimRow).where(ClaimRow.id == claim_id)
    if client_id is not None:
        query = query.where(ClaimRow.client_id == client_id)
    return session.scalar(
        query.options(
            selectinload(ClaimRow.documents), selectinload(ClaimRow.decisions)
        ).with_for_update(of=ClaimRow)
    )


def escalated_claims(
    session: Session,
    *,
    claim_type: str | None,
    assignee: str | None,
    unassigned: bool,
    overdue_at: datetime | None,
) -> list[ClaimRow]:
    """Escalated claims, earliest SLA deadline first (so overdue ones lead)."""
    query = (
        select(ClaimRow)
        .where(ClaimRow.status == "escalated")
        .options(selectinload(ClaimRow.decisions))
    )
    if claim_type:
        query = query.where(ClaimRow.claim_type == claim_type)
    if assignee:
        query = query.where(ClaimRow.assignee == assignee)
    if unassigned:
        query = query.where(ClaimRow.assignee.is_(None))
    if overdue_at is not None:
        query = query.where(ClaimRow.sla_due_at < overdue_at)
    query = query.order_by(nulls_last(ClaimRow.sla_due_at.asc()), ClaimRow.created_at, ClaimRow.id)
    return list(session.scalars(query))


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(ClaimRow.status, func.count()).group_by(ClaimRow.status))
    return {status: int(count) for status, count in rows}


def decisions_since(session: Session, since: datetime) -> list[tuple[datetime, str, str]]:
    rows = session.execute(
        select(DecisionRow.decided_at, DecisionRow.outcome, DecisionRow.decided_by).where(
            DecisionRow.decided_at >= since
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


# --- appeals ----------------------------------------------------------------------


def open_appeal(session: Session, claim_id: str) -> AppealRow | None:
    return session.scalar(
        select(AppealRow)
        .where(AppealRow.claim_id == claim_id, AppealRow.status == "open")
        .order_by(AppealRow.id.desc())
        .limit(1)
    )


def open_appeal_claim_ids(session: Session, claim_ids: list[str]) -> set[str]:
    if not claim_ids:
        return set()
    return set(
        session.scalars(
            select(AppealRow.claim_id).where(
                AppealRow.claim_id.in_(claim_ids), AppealRow.status == "open"
            )
        )
    )


def appeals_for(session: Session, claim_id: str) -> list[AppealRow]:
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


# --- audit ------------------------------------------------------------------------


def audit_events(session: Session, filters: dict[str, Any], limit: int) -> list[AuditEventRow]:
    query = select(AuditEventRow)
    if filters.get("claim_id"):
        query = query.where(AuditEventRow.claim_id == filters["claim_id"])
    if filters.get("actor"):
        query = query.where(AuditEventRow.actor == filters["actor"])
    if filters.get("action"):
        query = query.where(AuditEventRow.action == filters["action"])
    if filters.get("since"):
        query = query.where(AuditEventRow.at >= filters["since"])
    if filters.get("until"):
        query = query.where(AuditEventRow.at < filters["until"])
    if filters.get("after_id"):
        query = query.where(AuditEventRow.id > filters["after_id"])
    return list(session.scalars(query.order_by(AuditEventRow.id).limit(limit)))


def iter_audit_chain(session: Session, batch: int = 1000) -> Iterator[AuditEventRow]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.id > last)
                .order_by(AuditEventRow.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id
