"""The supervisors' queue (read only, across claims, decisions and appeals): one page of
the claims waiting for a person, filtered, searched and sorted in SQL, with a keyset
(cursor) so the thousandth page costs what the first one does.

Sorts (`SORTS`): `due` (earliest SLA deadline first, claims without one last), `-due`,
`amount` (smallest first), `-amount`, `age` (oldest first: received first), `-age`.
Every sort ends on the claim id, so the order is total and a cursor is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, exists, func, nulls_last, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from service.db.tables import AppealRow, ClaimRow, DecisionRow

SORTS = ("due", "-due", "amount", "-amount", "age", "-age")


@dataclass(frozen=True)
class QueueQuery:
    """What the queue is asked for. `search`: part of a claim reference, a policy number
    or a claimant's name (case-insensitive). `reason`: a reason code of the claim's
    current decision, or "appeal" for claims with an open appeal. `overdue`: True only
    overdue, False only not overdue, None both (overdue relative to `now`)."""

    statuses: tuple[str, ...]
    now: datetime
    claim_type: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    overdue: bool | None = None
    search: str | None = None
    reason: str | None = None
    sort: str = "due"


# A cursor position: the sort key of the last row shown (None for a claim without a
# deadline) and its id.
Position = tuple[datetime | Decimal | None, str]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(query: QueueQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [ClaimRow.status.in_(query.statuses)]
    if query.claim_type:
        where.append(ClaimRow.claim_type == query.claim_type)
    if query.assignee:
        where.append(ClaimRow.assignee == query.assignee)
    if query.unassigned:
        where.append(ClaimRow.assignee.is_(None))
    if query.overdue is True:
        where.append(ClaimRow.sla_due_at < query.now)
    elif query.overdue is False:
        where.append(or_(ClaimRow.sla_due_at.is_(None), ClaimRow.sla_due_at >= query.now))
    if query.search:
        pattern = _like(query.search.strip().lower())
        where.append(
            or_(
                func.lower(ClaimRow.external_ref).like(pattern, escape="\\"),
                func.lower(ClaimRow.policy_number).like(pattern, escape="\\"),
                func.lower(ClaimRow.claimant["name"].as_string()).like(pattern, escape="\\"),
            )
        )
    if query.reason == "appeal":
        where.append(exists().where(AppealRow.claim_id == ClaimRow.id, AppealRow.status == "open"))
    elif query.reason:
        latest = aliased(DecisionRow)
        newest_id = (
            select(func.max(DecisionRow.id))
            .where(DecisionRow.claim_id == latest.claim_id)
            .correlate(latest)
            .scalar_subquery()
        )
        # reasons is a JSON list of {"code": ..., ...} written by json.dumps.
        text = cast(latest.reasons, Text)
        code = query.reason.replace("\\", "").replace('"', "")
        where.append(
            exists().where(
                latest.claim_id == ClaimRow.id,
                latest.id == newest_id,
                or_(
                    text.like(_like(f'"code": "{code}"'), escape="\\"),
                    text.like(_like(f'"code":"{code}"'), escape="\\"),
                ),
            )
        )
    return where


def _key(sort: str) -> Any:
    return {"due": ClaimRow.sla_due_at, "amount": ClaimRow.amount, "age": ClaimRow.created_at}[
        sort.lstrip("-")
    ]


def _after(sort: str, position: Position) -> ColumnElement[bool]:
    """Rows after `position` in `sort` order (nulls, only deadlines have them, last)."""
    column, (value, claim_id) = _key(sort), position
    descending = sort.startswith("-")
    if value is None:
        later_id = ClaimRow.id < claim_id if descending else ClaimRow.id > claim_id
        return and_(column.is_(None), later_id)
    if descending:
        beyond = or_(column < value, and_(column == value, ClaimRow.id < claim_id))
    else:
        beyond = or_(column > value, and_(column == value, ClaimRow.id > claim_id))
    return or_(beyond, column.is_(None)) if sort.lstrip("-") == "due" else beyond


def queue_page(
    session: Session, query: QueueQuery, *, after: Position | None, limit: int
) -> tuple[list[ClaimRow], int]:
    """Up to `limit` claims after `after`, with their decisions, and how many match."""
    where = _conditions(query)
    total = int(session.scalar(select(func.count()).select_from(ClaimRow).where(*where)) or 0)
    column = _key(query.sort)
    descending = query.sort.startswith("-")
    order = [
        nulls_last(column.desc() if descending else column.asc()),
        ClaimRow.id.desc() if descending else ClaimRow.id.asc(),
    ]
    statement = select(ClaimRow).where(*where)
    if after is not None:
        statement = statement.where(_after(query.sort, after))
    rows = session.scalars(
        statement.order_by(*order).limit(limit).options(selectinload(ClaimRow.decisions))
    )
    return list(rows), total


def sort_key(row: ClaimRow, sort: str) -> datetime | Decimal | None:
    value: datetime | Decimal | None = getattr(
        row, {"due": "sla_due_at", "amount": "amount", "age": "created_at"}[sort.lstrip("-")]
    )
    return value


def open_appeals(session: Session, claim_ids: list[str]) -> dict[str, AppealRow]:
    """The open appeal of each claim that has one (the newest, should there be two)."""
    if not claim_ids:
        return {}
    rows = session.scalars(
        select(AppealRow)
        .where(AppealRow.claim_id.in_(claim_ids), AppealRow.status == "open")
        .order_by(AppealRow.id)
    )
    return {row.claim_id: row for row in rows}


def waiting_reason_codes(session: Session, statuses: tuple[str, ...]) -> set[str]:
    """The distinct reason codes of the current (newest) decision of every claim in
    `statuses`: what the queue's reason filter can find."""
    newest = (
        select(func.max(DecisionRow.id))
        .join(ClaimRow, ClaimRow.id == DecisionRow.claim_id)
        .where(ClaimRow.status.in_(statuses))
        .group_by(DecisionRow.claim_id)
    )
    codes: set[str] = set()
    for reasons in session.scalars(select(DecisionRow.reasons).where(DecisionRow.id.in_(newest))):
        codes.update(str(r["code"]) for r in reasons or () if isinstance(r, dict) and r.get("code"))
    return codes
