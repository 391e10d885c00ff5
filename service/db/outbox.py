"""The outbox: what must be told to whom, written in the transaction that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import statements as sql
from service.db.session import Sessions, rowcount
from service.db.tables import ClaimRow, DecisionRow, OutboxRow


@dataclass(frozen=True)
class Message:
    """One outbox row to write: what to tell, on which channel, deduplicated by key."""

    dedupe_key: str
    claim_id: str | None
    event: str
    channel: str
    payload: dict[str, Any]


def add_outbox(
    session: Session,
    *,
    dedupe_key: str,
    claim_id: str | None,
    event: str,
    channel: str,
    payload: dict[str, Any],
    request_id: str | None,
    now: datetime,
) -> int:
    """Insert one message to send; returns its id (dispatch it after the commit)."""
    message = Message(dedupe_key, claim_id, event, channel, payload)
    return add_outbox_many(session, [message], request_id=request_id, now=now)[0]


def add_outbox_many(
    session: Session, messages: list[Message], *, request_id: str | None, now: datetime
) -> list[int]:
    """Insert these messages in one statement; returns their ids in the same order."""
    if not messages:
        return []
    rows = [
        {
            "dedupe_key": m.dedupe_key,
            "claim_id": m.claim_id,
            "event": m.event,
            "channel": m.channel,
            "payload": m.payload,
            "request_id": request_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    return [int(i) for i in session.execute(sql.INSERT_OUTBOX, rows).scalars()]


def oldest_pending_outbox(session: Session) -> datetime | None:
    """created_at of the oldest message not yet delivered (for the outbox-lag gauge)."""
    return session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.status.in_(("pending", "sending")))
    )


def add_once(
    session: Session,
    dedupe_key: str,
    event: str,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
    claim_id: str | None = None,
) -> bool:
    """Insert the row unless its dedupe key exists; True when this call inserted it
    (a concurrent sweep's insert is undone in a savepoint: the caller's transaction goes on)."""
    if session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key)):
        return False
    try:
        with session.begin_nested():
            add_outbox(
                session,
                dedupe_key=dedupe_key,
                claim_id=claim_id,
                event=event,
                channel=channel,
                payload=payload,
                request_id=None,
                now=now,
            )
    except IntegrityError:
        return False  # another sweep got there first
    return True


# --- delivery: one attempt at a time (the state machine is in
# service/usecases/deliver_message.py) ----------------------------------------------

SENDING = "sending"
_CLAIM = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("outbox_id"), OutboxRow.status.in_(("pending", "enqueued")))
    .values(status=SENDING, attempts=OutboxRow.attempts + 1, next_attempt_at=bindparam("lease_end"))
)
_FINISH_WHERE = (
    OutboxRow.id == bindparam("outbox_id"),
    OutboxRow.status == SENDING,
    OutboxRow.attempts == bindparam("attempt"),
)
_FINISH_SENT = (
    update(OutboxRow)
    .where(*_FINISH_WHERE)
    .values(status="sent", last_error=None, sent_at=bindparam("when"))
)
_FINISH_OTHER = (
    update(OutboxRow)
    .where(*_FINISH_WHERE)
    .values(
        status=bindparam("new_status"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("when"),
    )
)
_NO_SYNC = {"synchronize_session": False}
_CLAIM_AND_DECISION = (
    select(ClaimRow, DecisionRow)
    .where(ClaimRow.id == bindparam("claim_id"))
    .outerjoin(DecisionRow, DecisionRow.id == bindparam("decision_id"))
)


def claim_attempt(session: Session, outbox_id: int, lease_end: datetime) -> OutboxRow | None:
    """Make the row ours for one attempt (one conditional UPDATE: of two copies of a job only
    one gets it); returns the row as updated, or None. While `sending`, next_attempt_at holds
    the end of the lease."""
    params = {"outbox_id": outbox_id, "lease_end": lease_end}
    if getattr(session.get_bind().dialect, "update_returning", False):
        return session.scalars(
            _CLAIM.returning(OutboxRow),
            params,
            execution_options={**_NO_SYNC, "populate_existing": True},
        ).first()
    if rowcount(session.execute(_CLAIM, params, execution_options=_NO_SYNC)) != 1:
        return None
    return session.get(OutboxRow, outbox_id, populate_existing=True)


def load_claim_and_decision(session: Session, claim_id: str, decision_id: int) -> list[Any]:
    """The claim and the decision a message is about, in one query, into the session (keep the
    result referenced while building the message: the identity map holds objects weakly)."""
    return list(
        session.execute(_CLAIM_AND_DECISION, {"claim_id": claim_id, "decision_id": decision_id})
    )


def finish_attempt(
    sessions: Sessions,
    outbox_id: int,
    attempt: int,
    when: datetime,
    status: str,
    error: str | None,
) -> bool:
    """Record the attempt's outcome (sent | pending | dead) in its own short transaction, only
    if the row is still ours (status sending, same attempt); False when the lease was lost.
    A Core UPDATE: no ORM work for one statement."""
    params: dict[str, Any] = {"outbox_id": outbox_id, "attempt": attempt, "when": when}
    statement = _FINISH_SENT
    if status != "sent":
        statement = _FINISH_OTHER
        params.update(new_status=status, error=error)
    with sessions.kw["bind"].begin() as connection:
        return bool(connection.execute(statement, params).rowcount)


# --- dead messages ------------------------------------------------------------------


def get(session: Session, outbox_id: int) -> OutboxRow | None:
    return session.get(OutboxRow, outbox_id)


def list_dead(session: Session, limit: int = 100) -> list[OutboxRow]:
    return list(
        session.scalars(
            select(OutboxRow).where(OutboxRow.status == "dead").order_by(OutboxRow.id).limit(limit)
        )
    )


def count_dead(session: Session) -> int:
    query = select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "dead")
    return int(session.scalar(query) or 0)


def resend(session: Session, outbox_id: int, now: datetime) -> bool:
    """Put a dead row back in line with a fresh set of tries; False if it was not dead."""
    query = (
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id, OutboxRow.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=now, enqueued_at=None)
    )
    return bool(rowcount(session.execute(query)) == 1)


# --- the relay ----------------------------------------------------------------------


def release_expired(session: Session, now: datetime) -> int:
    """Rows stuck in `sending` past their lease (a worker died) go back to `pending`."""
    query = (
        update(OutboxRow)
        .where(OutboxRow.status == SENDING, OutboxRow.next_attempt_at < now)
        .values(
            status="pending",
            next_attempt_at=now,
            last_error="lease expired: worker stopped mid-delivery",
        )
    )
    return int(rowcount(session.execute(query)))


def due_for_relay(
    session: Session, now: datetime, stale_before: datetime, limit: int
) -> list[tuple[int, int, str, str | None]]:
    """(id, attempts, event, request_id) of `pending` rows whose time has come and of
    `enqueued` rows enqueued before `stale_before`, earliest first."""
    rows = session.execute(
        select(OutboxRow.id, OutboxRow.attempts, OutboxRow.event, OutboxRow.request_id)
        .where(
            or_(
                (OutboxRow.status == "pending") & (OutboxRow.next_attempt_at <= now),
                (OutboxRow.status == "enqueued") & (OutboxRow.enqueued_at < stale_before),
            )
        )
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
    ).all()
    return [(r.id, r.attempts, r.event, r.request_id) for r in rows]


def mark_enqueued(session: Session, attempts: list[tuple[int, int]], now: datetime) -> None:
    """Mark these (id, attempts) enqueued, unless a worker moved them on meanwhile."""
    for outbox_id, attempt in attempts:
        session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == outbox_id,
                OutboxRow.status.in_(("pending", "enqueued")),
                OutboxRow.attempts == attempt,
            )
            .values(status="enqueued", enqueued_at=now)
        )


def acknowledged_claim_ids(session: Session, claim_ids: list[str] | None = None) -> set[str]:
    """Claims whose acknowledgment message has been delivered."""
    query = select(OutboxRow.claim_id).where(
        OutboxRow.event == "acknowledgment", OutboxRow.status == "sent"
    )
    if claim_ids is not None:
        query = query.where(OutboxRow.claim_id.in_(claim_ids))
    return {c for c in session.scalars(query) if c}
