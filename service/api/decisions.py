"""POST /v1/claims/<id>/decision (supervisors) and /appeal (intake, for the claimant)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import current_app, g, request
from marshmallow import Schema, fields, validate

from service.api.auth import requires
from service.api.caller import current_actor, source_address, visible_client_id
from service.api.escalations import refused
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import CODE, ClaimOutSchema, Money, StrictSchema
from service.api.text_fields import FreeText
from service.usecases.appeal_claim import appeal_claim
from service.usecases.decide_claim import DecisionRefused, SupervisorDecision, decide_claim

blp = Blueprint("decisions", __name__, url_prefix="/v1/claims", description="Supervisors")
ETAG = re.compile(r'^\s*(?:W/)?"?([0-9]+)"?\s*$')  # ASCII digits (int() takes any)


class DecisionSchema(StrictSchema):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(("approve", "reject", "request_info", "uphold", "overturn")),
        metadata={"description": "uphold | overturn answer the open appeal of an appealed claim"},
    )
    note = FreeText(required=True, validate=validate.Length(min=1, max=5000))
    amount = Money(minimum=None, load_default=None, metadata={"description": "approve only"})
    payable_amount = Money(
        minimum=None, load_default=None, metadata={"description": "overturn: the new amount"}
    )
    reason_codes = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "reject only: rule codes or carc_<number>"},
    )
    documents = fields.List(
        fields.String(validate=CODE),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "request_info only: document types"},
    )


class DecidedSchema(ClaimOutSchema):
    version = fields.Integer()


class AppealSchema(StrictSchema):
    reason = FreeText(required=True, validate=validate.Length(min=1, max=5000))


class AppealOutSchema(Schema):
    id = fields.Integer()
    claim_id = fields.String()
    status = fields.String()
    received_at = fields.String()
    answer_due_at = fields.String()
    claim_status = fields.String()
    version = fields.Integer()


def expected_version() -> int:
    header = request.headers.get("If-Match")
    if not header:
        raise Problem(
            428,
            "Send If-Match with the ETag from GET /v1/claims/<id>.",
            code="precondition_required",
        )
    match = ETAG.match(header)
    if not match:
        raise Problem(
            412,
            "If-Match must be one ETag from GET /v1/claims/<id>, not a list or *.",
            code="stale_version",
        )
    return int(match.group(1))


@blp.route("/<claim_id>/decision", methods=["POST"])
@requires("supervisor", "admin")
@blp.arguments(DecisionSchema())
@blp.response(200, DecidedSchema)
@blp.alt_response(412, description="The claim changed since it was read")
@blp.alt_response(428, description="If-Match missing")
def post_decision(data: dict[str, Any], claim_id: str) -> Any:
    """Decide an escalated claim: approve (up to the coverage), reject, or request_info;
    answer an appealed one: uphold (the decision stands) or overturn (a higher approval)."""
    version = expected_version()
    if data.get("amount") is not None and data.get("payable_amount") is not None:
        raise Problem(422, "Send amount or payable_amount, not both.", code="bad_amount")
    amount = data["amount"] if data.get("amount") is not None else data.get("payable_amount")
    choice = SupervisorDecision(
        outcome=data["outcome"],
        note=data["note"],
        amount=Decimal(amount) if amount is not None else None,
        reason_codes=tuple(data.get("reason_codes") or ()),
        documents=tuple(data.get("documents") or ()),
    )
    try:
        document = decide_claim(
            current_app.extensions["claims"],
            claim_id,
            choice,
            expected_version=version,
            decided_by=current_actor(),
            request_id=g.get("request_id"),
            source=source_address(),
        )
    except DecisionRefused as exc:
        raise refused(exc) from None
    return document, 200, {"ETag": f'"{document["version"]}"'}


@blp.route("/<claim_id>/appeal", methods=["POST"])
@requires("intake", "admin")
@blp.arguments(AppealSchema())
@blp.response(201, AppealOutSchema)
def post_appeal(data: dict[str, Any], claim_id: str) -> Any:
    """Contest a rejected or partly paid decision; answered within APPEAL_ANSWER_DAYS days."""
    try:
        result = appeal_claim(
            current_app.extensions["claims"],
            claim_id,
            data["reason"],
            client_id=visible_client_id(),
            actor=current_actor(),
            request_id=g.get("request_id"),
            source=source_address(),
        )
    except DecisionRefused as exc:
        raise refused(exc) from None
    return result, 201, {"ETag": f'"{result["version"]}"'}
