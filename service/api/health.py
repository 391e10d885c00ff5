"""/healthz (the process is alive) and /readyz (database and Redis answer)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields

from service.adapters.queue import ping
from service.api.parsing import Blueprint
from service.api.problems import problem_response
from service.usecases.check_health import database_answers

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    status = fields.String()
    instance = fields.String(metadata={"description": "INSTANCE_ID, when set"})


class ReadySchema(Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.Boolean())


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz() -> dict[str, Any]:
    """The process is alive (and, when INSTANCE_ID is set, which server this is)."""
    instance = current_app.extensions["claims"].config.instance_id
    return {"status": "ok", "instance": instance} if instance else {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, ReadySchema)
@blp.alt_response(503, description="Database or Redis unreachable (problem+json with checks)")
def readyz() -> Any:
    """The database and Redis answer."""
    ctx = current_app.extensions["claims"]
    checks = {"database": database_answers(ctx), "redis": ping(ctx.config.redis_url)}
    if all(checks.values()):
        return {"status": "ready", "checks": checks}
    return problem_response(
        503, "Not ready", checks=checks, headers={"Retry-After": "5"}, code="not_ready"
    )
