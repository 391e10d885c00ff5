"""/v1/escalations: the supervisors' queue, assign to me and unassign."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate

from service.api.auth import requires
from service.api.caller import current_actor, source_address
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.text_fields import RequestSchema
from service.domain.model import CLAIM_TYPES
from service.usecases.assign_claim import assign_claim
from service.usecases.decide_claim import DecisionRefused
from service.usecases.read_queue import SORTS, BadQueueCursor, escalation_queue, known_queue_reason

blp = Blueprint("escalations", __name__, url_prefix="/v1/escalations", description="Supervisors")


class QueueArgs(RequestSchema):
    reason = fields.String(
        validate=validate.Length(max=64),
        metadata={
            "description": "appeal, a code of a waiting claim or of the active rules "
            "(anything else: 400 bad_filter)"
        },
    )
    claim_type = fields.String(validate=validate.OneOf(CLAIM_TYPES))
    assignee = fields.String(
        validate=validate.Length(max=120), metadata={"description": "a name, me or none"}
    )
    overdue = fields.Boolean()
    q = fields.String(
        validate=validate.Length(min=1, max=120),
        metadata={"description": "part of a claim reference, policy number or claimant name"},
    )
    sort = fields.String(
        load_default="due",
        validate=validate.OneOf(SORTS),
        metadata={"description": "due (earliest deadline first), amount, age; - reverses"},
    )
    cursor = fields.String(
        validate=validate.Length(max=400),
        metadata={"description": "next_cursor of the page before (same filters and sort)"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))


class QueueItemSchema(Schema):
    id = fields.String()
    external_ref = fields.String()
    policy_number = fields.String()
    claim_type = fields.String()
    amount = fields.String()
    currency = fields.String()
    status = fields.String()
    reason_codes = fields.List(fields.String())
    reasons = fields.List(fields.String())
    appeal = fields.Boolean()
    appeal_excerpt = fields.String(
        allow_none=True, metadata={"description": "the open appeal's first words"}
    )
    claimant_name = fields.String(allow_none=True)
    due_soon = fields.Boolean(metadata={"description": "80% or more of the SLA time is gone"})
    assignee = fields.String(allow_none=True)
    sla_due_at = fields.String(allow_none=True)
    seconds_left = fields.Integer(allow_none=True)
    overdue = fields.Boolean()
    version = fields.Integer()
    created_at = fields.String()


class QueuePageSchema(Schema):
    items = fields.List(fields.Nested(QueueItemSchema))
    total = fields.Integer(metadata={"description": "claims that match, on every page"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "None: last page"})


class AssignSchema(RequestSchema):
    assignee = fields.String(
        validate=validate.Length(min=1, max=120),
        metadata={"description": "admin only: someone else; default: me"},
    )


class AssignedSchema(Schema):
    id = fields.String()
    assignee = fields.String(allow_none=True)
    version = fields.Integer()


def _ctx() -> Any:
    return current_app.extensions["claims"]


def refused(exc: DecisionRefused) -> Problem:
    return Problem(exc.status, exc.detail, code=exc.code, **exc.extra)


@blp.route("", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(QueueArgs(), location="query")
@blp.response(200, QueuePageSchema)
def list_escalations(args: dict[str, Any]) -> Any:
    """Claims waiting for a supervisor, a page at a time (`next_cursor`); filter by reason
    (a code or `appeal`), type, assignee, overdue; search with `q`; sort by due, amount, age."""
    if args.get("reason") and not known_queue_reason(_ctx(), args["reason"]):
        raise Problem(
            400,
            "Unknown reason code: use appeal, a code of a waiting claim or of the active rules.",
            code="bad_filter",
        )
    if args.get("assignee") == "me":
        args["assignee"] = current_actor()
    args["limit"] = min(args["limit"], _ctx().config.page_size_max)
    try:
        return escalation_queue(_ctx(), **args)
    except BadQueueCursor as exc:
        raise Problem(400, str(exc), code="bad_cursor") from None


@blp.route("/<claim_id>/assign", methods=["POST"])
@requires("supervisor", "admin")
@blp.arguments(AssignSchema(), required=False)
@blp.response(200, AssignedSchema)
def assign(data: dict[str, Any], claim_id: str) -> Any:
    """Assign the claim to me (an admin may name someone else and take it over)."""
    from flask import g

    admin = g.identity.role == "admin"
    assignee = (data or {}).get("assignee") or current_actor()
    if assignee != current_actor() and not admin:
        raise Problem(403, "Only an admin may assign a claim to someone else.", code="forbidden")
    try:
        result = assign_claim(
            _ctx(), claim_id, assignee, actor=current_actor(), force=admin, source=source_address()
        )
    except DecisionRefused as exc:
        raise refused(exc) from None
    return result, 200, {"ETag": f'"{result["version"]}"'}


@blp.route("/<claim_id>/unassign", methods=["POST"])
@requires("supervisor", "admin")
@blp.response(200, AssignedSchema)
def unassign(claim_id: str) -> Any:
    """Give the claim back to the queue (yours, or anyone's for an admin)."""
    from flask import g

    try:
        result = assign_claim(
            _ctx(),
            claim_id,
            None,
            actor=current_actor(),
            force=g.identity.role == "admin",
            source=source_address(),
        )
    except DecisionRefused as exc:
        raise refused(exc) from None
    return result, 200, {"ETag": f'"{result["version"]}"'}
