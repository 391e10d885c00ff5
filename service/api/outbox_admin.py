"""/v1/outbox (admin): messages that ran out of tries, and re-sending them."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from marshmallow import Schema, fields, validate

from service.api.auth import requires
from service.api.identity import current_actor, source_address
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import StrictSchema
from service.db import audit
from service.db.tables import OutboxRow

blp = Blueprint("outbox", __name__, url_prefix="/v1/outbox", description="Outbox (admin)")


class DeadArgs(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class OutboxItemSchema(Schema):
    id = fields.Integer()
    event = fields.String()
    channel = fields.String()
    claim_id = fields.String(allow_none=True)
    dedupe_key = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.String()
    next_attempt_at = fields.String(allow_none=True)


class DeadPageSchema(Schema):
    items = fields.List(fields.Nested(OutboxItemSchema))
    total = fields.Integer()


def _item(row: OutboxRow) -> dict[str, Any]:
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


@blp.route("/dead", methods=["GET"])
@requires("admin")
@blp.arguments(DeadArgs(), location="query")
@blp.response(200, DeadPageSchema)
def list_dead(args: dict[str, Any]) -> Any:
    """Messages that ran out of tries (or failed for good), oldest first, with the last error."""
    from sqlalchemy import func, select

    from worker.delivery import list_dead as dead_rows

    ctx = current_app.extensions["claims"]
    limit = min(args["limit"], ctx.config.page_size_max)
    with ctx.unit_of_work() as session:
        rows = dead_rows(session, limit)
        total = session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "dead")
        )
        return {"items": [_item(r) for r in rows], "total": int(total or 0)}


@blp.route("/<int(max=9223372036854775807):outbox_id>/resend", methods=["POST"])
@requires("admin")
@blp.response(202, OutboxItemSchema)
def resend(outbox_id: int) -> Any:
    """Put a dead message back in line with a fresh set of tries and dispatch it now.

    The webhook id stays the same, so receivers can drop a copy they already have.
    If Redis is down the message waits for the scheduler's next sweep.
    """
    from worker.delivery import resend_in

    ctx = current_app.extensions["claims"]
    now = ctx.clock()
    with ctx.unit_of_work() as session:
        row = session.get(OutboxRow, outbox_id)
        if row is None:
            raise Problem(404, "No outbox message with this id.", code="not_found")
        before = {"status": row.status, "attempts": row.attempts, "last_error": row.last_error}
        if not resend_in(session, outbox_id, now):
            raise Problem(
                409,
                f"Only dead messages can be re-sent; this one is {row.status}.",
                code="not_dead",
                status_now=row.status,
            )
        audit.append_audit(
            session,
            actor=current_actor(),
            action="outbox.resent",
            at=now,
            claim_id=row.claim_id,  # the claim's chain; a report's message has its own
            subject=None if row.claim_id else audit.subject("outbox", outbox_id),
            source=source_address(),
            before=dict(before, outbox_id=outbox_id, event=row.event, channel=row.channel),
            after={"status": "pending", "attempts": 0},
        )
        session.commit()
        session.refresh(row)
        item = _item(row)
    ctx.dispatcher.dispatch_outbox([outbox_id], g.get("request_id"))
    return item
