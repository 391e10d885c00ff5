"""/v1/rulesets: the active ruleset, safe reload, stored versions, backtests, shadow report."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from marshmallow import Schema, fields, validate

from service.api.auth import requires
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import SANE_DATES, StrictSchema
from service.api.text_fields import FreeText
from service.rules.engine import RulesetError
from service.usecases import backtest, rulesets, shadow

blp = Blueprint("rulesets", __name__, url_prefix="/v1/rulesets", description="Rulesets")
STAFF = ("supervisor", "analyst", "finance", "admin")
BACKTEST_QUEUE = "reports"  # app.config["BACKTEST_QUEUE"] overrides (tests use their own)


class ActiveSchema(Schema):
    version = fields.String(
        allow_none=True, metadata={"description": "null: no ruleset at all (see folder_error)"}
    )
    source = fields.String(
        metadata={
            "description": "folder: read from the rules folder; database: the folder has "
            "problems, so the last active version, stored in the database, decides; none"
        }
    )
    folder_error = fields.String(
        allow_none=True, metadata={"description": "the folder's problems when source != folder"}
    )
    loaded_at = fields.String(allow_none=True)
    rule_count = fields.Integer()
    files = fields.List(fields.String())
    last_error = fields.String(allow_none=True)
    last_error_at = fields.String(allow_none=True)
    last_error_scope = fields.String(
        metadata={
            "description": "host: last_error is the last reload or check of the folder by any "
            "process of this host (the same in every process); process: this process's own"
        }
    )
    reloads = fields.Integer()
    watch_seconds = fields.Float()
    pid = fields.Integer()
    changed = fields.Boolean()
    processes = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        allow_none=True,
        metadata={
            "description": "after a reload: {switched, processes} on this host, counted "
            "within a second of the switch; null when unknown"
        },
    )


class StoredSchema(Schema):
    version = fields.String()
    rule_count = fields.Integer()
    first_loaded_at = fields.String()
    decisions = fields.Integer()
    files = fields.Dict(keys=fields.String(), values=fields.String())


class VersionsSchema(Schema):
    items = fields.List(fields.Nested(StoredSchema))


class BacktestInSchema(StrictSchema):
    files = fields.Dict(
        keys=fields.String(),
        values=FreeText(),
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The whole candidate folder: name -> text"},
    )
    since = fields.Date(
        load_default=None, validate=SANE_DATES, metadata={"description": "date of loss, inclusive"}
    )
    until = fields.Date(
        load_default=None, validate=SANE_DATES, metadata={"description": "date of loss, inclusive"}
    )


class BacktestOutSchema(Schema):
    id = fields.String()
    status = fields.String()
    params = fields.Dict()
    candidate_version = fields.String()
    chunks_total = fields.Integer()
    chunks_done = fields.Integer()
    created_at = fields.String()
    finished_at = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    report = fields.Dict(allow_none=True)


class BacktestSummarySchema(Schema):
    id = fields.String()
    status = fields.String()
    source = fields.String(metadata={"description": "api | cli"})
    requested_by = fields.String(allow_none=True)
    candidate_version = fields.String()
    created_at = fields.String()
    total = fields.Integer(allow_none=True)
    changed = fields.Integer(allow_none=True)
    outcome_changes = fields.Integer(allow_none=True)
    reason_changes = fields.Integer(allow_none=True)


class BacktestListSchema(Schema):
    items = fields.List(fields.Nested(BacktestSummarySchema))


class ShadowReportSchema(Schema):
    enabled = fields.Boolean()
    shadow = fields.Dict(allow_none=True)
    evaluated = fields.Integer()
    disagreements = fields.Integer()
    transitions = fields.Dict()
    recent_disagreements = fields.List(fields.Dict())


def _ctx() -> Any:
    return current_app.extensions["claims"]


def _refused(message: str, version: str | None = None) -> Problem:
    return Problem(
        422,
        "The ruleset has problems; nothing changed.",
        code="ruleset_invalid",
        problems=message.splitlines(),
        version=version,
    )


@blp.route("/active", methods=["GET"])
@requires(*STAFF)
@blp.response(200, ActiveSchema)
def active() -> Any:
    """The ruleset deciding claims in this process, and the last refused reload, if any."""
    return _ctx().rules.status()


@blp.route("/reload", methods=["POST"])
@requires("analyst", "admin")
@blp.response(200, ActiveSchema)
@blp.alt_response(422, description="The edited ruleset is broken; the old one keeps deciding")
def reload() -> Any:
    """Load the rule files now; every process of this host switches within a second.

    The candidate is checked in a child process with a time and memory budget first;
    a refused one changes nothing (422, `problems` as file:line:column lines)."""
    manager = _ctx().rules
    result = manager.reload(force=True)
    if result.error or result.version is None:
        raise _refused(result.error or "no ruleset", result.version)
    processes = manager.wait_for_switch(result.version)
    return {**manager.status(), "changed": result.changed, "processes": processes}


@blp.route("", methods=["GET"])
@requires(*STAFF)
@blp.response(200, VersionsSchema)
def versions() -> Any:
    """Stored rulesets, newest first, with how many decisions each made."""
    return {"items": rulesets.list_versions(_ctx())}


@blp.route("/backtest", methods=["POST"])
@requires("analyst", "admin")
@blp.arguments(BacktestInSchema())
@blp.response(202, BacktestOutSchema)
@blp.alt_response(422, description="The candidate ruleset is broken (file:line problems)")
@blp.alt_response(503, description="The job queue is unreachable")
def start_backtest(data: dict[str, Any]) -> Any:
    """Replay stored claims through a candidate ruleset, as parallel RQ jobs."""
    ctx = _ctx()
    try:
        result = backtest.start_backtest(
            ctx,
            data["files"],
            data["since"],
            data["until"],
            str(g.get("actor")),
            _enqueuer(ctx),
            current_app.config.get("BACKTEST_CHUNK_SIZE", backtest.CHUNK_SIZE),
        )
    except RulesetError as exc:
        raise _refused(str(exc)) from None
    except backtest.QueueUnavailable:
        raise Problem(
            503,
            "The job queue is unreachable; try again shortly.",
            code="queue_unavailable",
            headers={"Retry-After": "10"},
        ) from None
    return result, 202, {"Location": f"/v1/rulesets/backtest/{result['id']}"}


@blp.route("/backtests", methods=["GET"])
@requires("analyst", "admin")
@blp.response(200, BacktestListSchema)
def list_backtests() -> Any:
    """The newest 50 backtests, from the API and the CLI (`source`), newest first."""
    return {"items": backtest.list_backtests(_ctx())}


@blp.route("/backtest/<backtest_id>", methods=["GET"])
@requires("analyst", "admin")
@blp.response(200, BacktestOutSchema)
def get_backtest(backtest_id: str) -> Any:
    """A backtest's progress, and its report once every chunk is merged."""
    try:
        return backtest.backtest_status(_ctx(), backtest_id)
    except backtest.BacktestNotFound:
        raise Problem(404, "No backtest with this id.", code="not_found") from None


@blp.route("/shadow/report", methods=["GET"])
@requires("analyst", "supervisor", "admin")
@blp.response(200, ShadowReportSchema)
def shadow_report() -> Any:
    """How the shadow (challenger) ruleset would have decided the live claims."""
    return shadow.shadow_report(_ctx())


@blp.route("/<version>", methods=["GET"])
@requires(*STAFF)
@blp.response(200, StoredSchema)
def get_version(version: str) -> Any:
    """A stored ruleset's full text: what decided every claim that names this version."""
    found = rulesets.stored_ruleset(_ctx(), version)
    if found is None:
        raise Problem(404, "No stored ruleset with this version.", code="not_found")
    return found


def _enqueuer(ctx: Any) -> backtest.Enqueue:
    from service.adapters import queue

    name = current_app.config.get("BACKTEST_QUEUE", BACKTEST_QUEUE)
    connection = queue.connect(ctx.config.redis_url)

    def enqueue(func: str, *args: Any, job_id: str) -> None:
        queue.enqueue_call(connection, name, func, *args, job_id=job_id)

    return enqueue
