"""Dead messages (out of tries, or failed for good): list them, and put one back in line
with a fresh set of tries. The API (`POST /v1/outbox/<id>/resend`) and the CLI
(`claims outbox resend`) both come here, so a resend is audited whoever asks.
The webhook id stays the same, so receivers can drop a copy they already have."""

from __future__ import annotations

from typing import Any

from service.db import audit, outbox
from service.db.tables import OutboxRow
from service.usecases.context import Context


class MessageNotFound(Exception):
    pass


class NotDead(Exception):
    """Only dead messages can be re-sent; `status` is the message's status now."""

    def __init__(self, status: str) -> None:
        super().__init__(f"Only dead messages can be re-sent; this one is {status}.")
        self.status = status


def message_item(row: OutboxRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event,
        "channel": row.channel,
        "claim_id": row.claim_id,
        "dedupe_key": row.dedupe_key,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
    }


def list_dead_messages(ctx: Context, limit: int) -> dict[str, Any]:
    """The oldest `limit` dead messages with their last error, and how many there are."""
    with ctx.unit_of_work(read_only=True) as session:
        rows = outbox.list_dead(session, limit)
        return {"items": [message_item(r) for r in rows], "total": outbox.count_dead(session)}


def resend_dead_message(
    ctx: Context,
    outbox_id: int,
    *,
    actor: str,
    source: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Reset the dead message to `pending` (attempts 0), audit it, and dispatch it now (if
    the queue is down, the relay sends it later). MessageNotFound, NotDead."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        row = outbox.get(session, outbox_id)
        if row is None:
            raise MessageNotFound(outbox_id)
        before = {"status": row.status, "attempts": row.attempts, "last_error": row.last_error}
        if not outbox.resend(session, outbox_id, now):
            raise NotDead(row.status)
        audit.append_audit(
            session,
            actor=actor,
            action="outbox.resent",
            at=now,
            claim_id=row.claim_id,  # the claim's chain; a report's message has its own
            subject=None if row.claim_id else audit.subject("outbox", outbox_id),
            source=source,
            before=dict(before, outbox_id=outbox_id, event=row.event, channel=row.channel),
            after={"status": "pending", "attempts": 0},
        )
        session.commit()
        session.refresh(row)
        item = message_item(row)
    ctx.dispatcher.dispatch_outbox([outbox_id], request_id)
    return item
