"""Rule analysis: the stored history a backtest replays, backtests with their chunks, and
the shadow ruleset's results beside the live decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, aliased

from service.db.tables import (
    BacktestChunkRow,
    BacktestRow,
    ClaimRow,
    DecisionRow,
    ShadowResultRow,
)

PAGE = 1_000  # rows per query

# --- the stored history (what a backtest replays) ----------------------------------


def _replayable(since: date | None, until: date | None) -> Select[Any]:
    """Each claim's latest rules decision, optionally by the claim's date of loss."""
    later = aliased(DecisionRow)
    newer = exists().where(
        later.claim_id == DecisionRow.claim_id,
        later.decided_by == "rules",
        later.id > DecisionRow.id,
    )
    query = select(
        DecisionRow.id,
        DecisionRow.claim_id,
        DecisionRow.outcome,
        DecisionRow.payable_amount,
        DecisionRow.reasons,
        DecisionRow.facts,
        ClaimRow.external_ref,
    ).join(ClaimRow, ClaimRow.id == DecisionRow.claim_id)
    query = query.where(DecisionRow.decided_by == "rules", ~newer)
    if since is not None or until is not None:
        if since is not None:
            query = query.where(ClaimRow.date_of_loss >= since)
        if until is not None:
            query = query.where(ClaimRow.date_of_loss <= until)
    return query


def count_replayable(session: Session, since: date | None, until: date | None) -> int:
    inner = _replayable(since, until).with_only_columns(DecisionRow.id).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def plan_chunks(
    session: Session, since: date | None, until: date | None, size: int
) -> list[tuple[int, int]]:
    """Cut the history into (after_id, last_id] ranges of about `size` decisions each."""
    ids = _replayable(since, until).with_only_columns(DecisionRow.id).order_by(DecisionRow.id)
    bounds: list[tuple[int, int]] = []
    after = 0
    while True:
        last = session.scalar(ids.where(DecisionRow.id > after).offset(size - 1).limit(1))
        if last is None:
            inner = ids.where(DecisionRow.id > after).order_by(None).subquery()
            last = session.scalar(select(func.max(inner.c.id)))
            if last is not None:
                bounds.append((after, int(last)))
            return bounds
        bounds.append((after, int(last)))
        after = int(last)


def stored_rows(
    open_session: Callable[[], AbstractContextManager[Session]],
    since: date | None,
    until: date | None,
    after_id: int = 0,
    last_id: int | None = None,
    page: int = PAGE,
) -> Iterator[list[Any]]:
    """Pages of stored decisions in id order, (after_id, last_id]; nothing kept between pages.

    Each page is read in its own short transaction (on SQLite every transaction
    takes the write lock, and intake must not wait for a backtest).
    """
    query = _replayable(since, until).order_by(DecisionRow.id).limit(page)
    if last_id is not None:
        query = query.where(DecisionRow.id <= last_id)
    cursor = after_id
    while True:
        with open_session() as session:
            rows = session.execute(query.where(DecisionRow.id > cursor)).all()
        if not rows:
            return
        yield list(rows)
        cursor = rows[-1].id


# --- backtests and their chunks ---------------------------------------------------


def recent_backtests(session: Session, limit: int = 50) -> list[BacktestRow]:
    """The newest backtests first (from the API and the CLI alike)."""
    return list(
        session.scalars(
            select(BacktestRow).order_by(BacktestRow.created_at.desc(), BacktestRow.id).limit(limit)
        )
    )


def add_backtest(session: Session, row: BacktestRow, chunks: list[tuple[int, int]]) -> None:
    """A new backtest and one queued chunk per (after_id, last_id] range."""
    session.add(row)
    session.flush()
    for n, (after_id, last_id) in enumerate(chunks):
        session.add(
            BacktestChunkRow(
                backtest_id=row.id, chunk_no=n, after_id=after_id, last_id=last_id, status="queued"
            )
        )


def backtest(session: Session, backtest_id: str) -> BacktestRow | None:
    return session.get(BacktestRow, backtest_id)


def chunk(session: Session, backtest_id: str, chunk_no: int) -> BacktestChunkRow | None:
    return session.get(BacktestChunkRow, (backtest_id, chunk_no))


def chunks(session: Session, backtest_id: str) -> list[BacktestChunkRow]:
    return list(
        session.scalars(
            select(BacktestChunkRow)
            .where(BacktestChunkRow.backtest_id == backtest_id)
            .order_by(BacktestChunkRow.chunk_no)
        )
    )


def chunk_statuses(session: Session, backtest_id: str) -> dict[str, int]:
    """How many chunks of the backtest are in each status."""
    rows = session.execute(
        select(BacktestChunkRow.status, func.count())
        .where(BacktestChunkRow.backtest_id == backtest_id)
        .group_by(BacktestChunkRow.status)
    ).all()
    return {status: int(n) for status, n in rows}


def newest_backtest_id(session: Session) -> str | None:
    return session.scalar(select(BacktestRow.id).order_by(BacktestRow.created_at.desc()).limit(1))


# --- shadow results ------------------------------------------------------------------


def add_shadow_result(session: Session, **values: Any) -> ShadowResultRow:
    """One shadow decision beside the live one, in a savepoint of the caller's transaction."""
    row = ShadowResultRow(**values)
    session.add(row)
    return row


def shadow_summary(session: Session, recent: int) -> dict[str, Any]:
    """How many claims the shadow decided, how many it disagreed on, the (active, shadow)
    outcome pairs with their counts, and the `recent` latest disagreements (rows)."""
    evaluated = session.scalar(select(func.count()).select_from(ShadowResultRow)) or 0
    pairs = session.execute(
        select(
            ShadowResultRow.active_outcome, ShadowResultRow.shadow_outcome, func.count()
        ).group_by(ShadowResultRow.active_outcome, ShadowResultRow.shadow_outcome)
    ).all()
    disagreeing = (
        session.scalar(
            select(func.count())
            .select_from(ShadowResultRow)
            .where(ShadowResultRow.agree.is_(False))
        )
        or 0
    )
    latest = session.scalars(
        select(ShadowResultRow)
        .where(ShadowResultRow.agree.is_(False))
        .order_by(ShadowResultRow.id.desc())
        .limit(recent)
    ).all()
    return {
        "evaluated": int(evaluated),
        "disagreements": int(disagreeing),
        "pairs": [(a, s, int(n)) for a, s, n in pairs],
        "recent": list(latest),
    }
