"""/v1/outbox (admin): messages that ran out of tries, and re-sending them."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from marshmallow import Schema, fields, validate

from service.api.auth import requires
from service.api.caller import current_actor, source_address
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import StrictSchema
from service.usecases.resend_dead_message import (
    MessageNotFound,
    NotDead,
    list_dead_messages,
    resend_dead_message,
)

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


@blp.route("/dead", methods=["GET"])
@requires("admin")
@blp.arguments(DeadArgs(), location="query")
@blp.response(200, DeadPageSchema)
def list_dead(args: dict[str, Any]) -> Any:
    """Messages that ran out of tries (or failed for good), oldest first, with the last error."""
    ctx = current_app.extensions["claims"]
    return list_dead_messages(ctx, min(args["limit"], ctx.config.page_size_max))


@blp.route("/<int(max=9223372036854775807):outbox_id>/resend", methods=["POST"])
@requires("admin")
@blp.response(202, OutboxItemSchema)
def resend(outbox_id: int) -> Any:
    """Put a dead message back in line with a fresh set of tries and dispatch it now.

    The webhook id stays the same, so receivers can drop a copy they already have.
    If Redis is down the message waits for the scheduler's next sweep.
    """
    try:
        return resend_dead_message(
            current_app.extensions["claims"],
            outbox_id,
            actor=current_actor(),
            source=source_address(),
            request_id=g.get("request_id"),
        )
    except MessageNotFound:
        raise Problem(404, "No outbox message with this id.", code="not_found") from None
    except NotDead as exc:
        raise Problem(409, str(exc), code="not_dead", status_now=exc.status) from None
