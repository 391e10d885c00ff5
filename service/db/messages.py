"""Outbound messages: the outbox rows joined with the copy of what went out.

`keep_copy` runs inside the delivery attempt's transaction
(service/usecases/deliver_message.py), one upsert per attempt; the readers serve the
console's Messages section and its admin page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from service.db.tables import ClaimRow, MessageCopyRow, OutboxRow

COPIES: Table = MessageCopyRow.__table__  # type: ignore[assignment]
_COLUMNS = [column.name for column in COPIES.columns]
# One statement for SQLite (3.24+) and PostgreSQL. Written as text because SQLAlchemy does
# not cache ON CONFLICT constructs: built from parts, it would be compiled on every send.
_UPSERT = sql_text(
    f"INSERT INTO {COPIES.name} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(':' + name for name in _COLUMNS)}) "
    "ON CONFLICT (outbox_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS if name != "outbox_id")
).bindparams(*(bindparam(column.name, type_=column.type) for column in COPIES.columns))


def keep_copy(
    session: Session,
    row: OutboxRow,
    at: datetime,
    *,
    recipient: str,
    text: str,
    language: str | None = None,
    subject: str | None = None,
    html: str | None = None,
) -> None:
    """Store (or replace with this attempt's) rendering of an outbox message: the email's
    recipients, language, subject, text and HTML parts, or a webhook's URL and JSON body."""
    params = {
        "outbox_id": row.id,
        "attempt": row.attempts,
        "rendered_at": at,
        "recipient": recipient,
        "language": language,
        "subject": subject,
        "body_text": text,
        "body_html": html,
    }
    session.connection().execute(_UPSERT, params)  # Core: one cached statement, no ORM work


Message = tuple[OutboxRow, MessageCopyRow | None, str | None]  # and the claim's external_ref
_WITH_COPY = (
    select(OutboxRow, MessageCopyRow, ClaimRow.external_ref)
    .outerjoin(MessageCopyRow, MessageCopyRow.outbox_id == OutboxRow.id)
    .outerjoin(ClaimRow, ClaimRow.id == OutboxRow.claim_id)
)


def for_claim(session: Session, claim_id: str, limit: int) -> list[Message]:
    """Every message about a claim, oldest first (at most `limit`)."""
    rows = session.execute(
        _WITH_COPY.where(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id).limit(limit)
    )
    return [(outbox, copy, ref) for outbox, copy, ref in rows]


def recent(
    session: Session,
    *,
    channel: str | None,
    status: str | None,
    event: str | None,
    created_from: datetime | None,
    created_before: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[Message]:
    """Newest first, filtered; `before_id` pages back (keyset on the outbox id)."""
    query = _WITH_COPY
    if channel:
        query = query.where(OutboxRow.channel == channel)
    if status:
        query = query.where(OutboxRow.status == status)
    if event:
        query = query.where(OutboxRow.event == event)
    if created_from:
        query = query.where(OutboxRow.created_at >= created_from)
    if created_before:
        query = query.where(OutboxRow.created_at < created_before)
    if before_id:
        query = query.where(OutboxRow.id < before_id)
    rows = session.execute(query.order_by(OutboxRow.id.desc()).limit(limit))
    return [(outbox, copy, ref) for outbox, copy, ref in rows]


def one(session: Session, outbox_id: int) -> Message | None:
    row = session.execute(_WITH_COPY.where(OutboxRow.id == outbox_id)).first()
    return None if row is None else (row[0], row[1], row[2])


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
    return {str(status): int(count) for status, count in rows}
