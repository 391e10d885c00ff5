"""GET /v1/audit (admin): the hash-chained audit trail, filtered."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate

from service.api.auth import requires
from service.api.parsing import Blueprint
from service.api.schemas import StrictSchema, sane_year
from service.usecases.verify_audit import audit_page, verify_audit

blp = Blueprint("audit", __name__, url_prefix="/v1/audit", description="Audit")


class AuditArgs(StrictSchema):
    claim_id = fields.String(validate=validate.Length(max=36))
    subject = fields.String(validate=validate.Length(max=160))
    actor = fields.String(validate=validate.Length(max=120))
    action = fields.String(validate=validate.Length(max=64))
    since = fields.AwareDateTime(validate=sane_year)
    until = fields.AwareDateTime(validate=sane_year)
    after_id = fields.Integer(validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    claim_id = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    subject = fields.String(allow_none=True)  # null: written before per-subject chains
    seq = fields.Integer(allow_none=True)
    hash = fields.String()
    prev_hash = fields.String()


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema))
    next_after_id = fields.Integer(allow_none=True)


class ChainSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    broken_id = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    subjects = fields.Integer()
    checkpoints = fields.Integer()
    exported_seq = fields.Integer(allow_none=True)


@blp.route("", methods=["GET"])
@requires("admin")
@blp.arguments(AuditArgs(), location="query")
@blp.response(200, AuditPageSchema)
def list_audit(args: dict[str, Any]) -> Any:
    """Audit events in order; page with after_id=<next_after_id>."""
    ctx = current_app.extensions["claims"]
    limit = min(args.pop("limit"), ctx.config.page_size_max)
    return audit_page(ctx, args, limit)


@blp.route("/verify", methods=["GET"])
@requires("admin")
@blp.response(200, ChainSchema)
def verify() -> Any:
    """Check every subject's chain and every checkpoint; report the first problem."""
    report = verify_audit(current_app.extensions["claims"])
    return report.__dict__
