"""Console pages. Thin: each page calls a use case and renders a template."""

from __future__ import annotations

import math
from decimal import InvalidOperation
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from service.api.auth import (
    authenticate,
    check_login_csrf,
    csrf_token,
    end_session,
    requires,
    start_session,
)
from service.api.problems import Problem
from service.domain.money import parse_amount
from service.usecases import check_credentials, manage_policies, read_claims
from service.usecases.assign_claim import assign_claim
from service.usecases.backtest import latest_backtest
from service.usecases.decide_claim import (
    DecisionRefused,
    SupervisorDecision,
    decide_claim,
    known_reason_codes,
    payable_limit,
)
from service.usecases.read_messages import claim_messages
from service.usecases.read_queue import escalation_queue, operations_stats

bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)
SUPERVISORS = ("supervisor", "admin")
STAFF = ("supervisor", "analyst", "finance", "admin")


def _ctx() -> Any:
    return current_app.extensions["claims"]


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "me": g.get("identity")}


@bp.errorhandler(Problem)
def _problem(error: Problem) -> Any:
    if error.status == 401 and request.method == "GET":
        return redirect(url_for("console.login", next=request.path))
    return render_template("console/error.html", error=error), error.status, error.headers


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("console/login.html", next=request.args.get("next", ""))
    check_login_csrf()
    result = check_credentials.login(
        _ctx(),
        request.form.get("username", "")[:64],
        request.form.get("password", ""),
        request.remote_addr,
    )
    if result.retry_after:
        wait = result.retry_after
        return (
            render_template(
                "console/login.html",
                error=f"Too many failed logins. Try again in {_duration(wait)}.",
                next=request.form.get("next", ""),
            ),
            429,
            {"Retry-After": str(wait)},
        )
    if result.identity is None:
        return render_template(
            "console/login.html",
            error="Wrong username or password.",
            next=request.form.get("next", ""),
        ), 401
    start_session(result.identity)
    return redirect(safe_next(request.form.get("next", "")) or url_for("console.home"))


def safe_next(target: str) -> str | None:
    """`target` when it is a plain path inside the console, else None (go home).

    Refuses anything a browser could read as another host (`//x`, `/\\x`, a scheme), any
    `.` or `..` segment, also percent-encoded (`%2e%2e`, `..%2f`), and anything that
    could split the Location header (CR, LF, any control or space)."""
    if not target.startswith("/console/") or len(target) > 2048:
        return None
    if any(ch in target for ch in "\\ ") or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)  # as a browser resolves it: %2e%2e is .., %2f is /
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    if "\\" in path or not path.isprintable() or not path.startswith("/console/"):
        return None
    return target


@bp.route("/logout", methods=["POST"])
@requires(*STAFF, "intake")
def logout() -> Any:
    end_session(authenticate())
    return redirect(url_for("console.login"))


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


@bp.route("/")
@requires(*STAFF)
def home() -> Any:
    role = authenticate().role
    return redirect(
        url_for(
            "console.queue"
            if role in SUPERVISORS
            else "console.analyst"
            if role == "analyst"
            else "console.operations"
        )
    )


@bp.route("/queue")
@requires(*SUPERVISORS)
def queue() -> Any:
    args = request.args
    assignee = args.get("assignee") or None
    page = escalation_queue(
        _ctx(),
        reason=args.get("reason") or None,
        claim_type=args.get("claim_type") or None,
        assignee=g.actor if assignee == "me" else assignee,
        overdue=True if args.get("overdue") == "1" else None,
        limit=_ctx().config.page_size_max,
    )
    from service.domain.model import CLAIM_TYPES

    return render_template("console/queue.html", page=page, args=args, claim_types=CLAIM_TYPES)


@bp.route("/claims/<claim_id>")
@requires(*STAFF, audit_view=True)
def claim(claim_id: str) -> Any:
    return _claim_page(claim_id)


def _claim_page(claim_id: str, error: str | None = None, status: int = 200) -> Any:
    document = read_claims.get_claim(_ctx(), claim_id, None)
    if document is None:
        raise Problem(404, "No claim with this id.", code="not_found")
    policy = manage_policies.get_policy(_ctx(), document["policy_number"])
    facts = document.get("facts") or {}
    from service.domain.facts import flatten

    limit = payable_limit(facts) if facts else None
    return render_template(
        "console/claim.html",
        claim=document,
        facts=flatten(facts) if facts else {},
        policy=manage_policies.policy_document(policy) if policy else None,
        limit=limit,
        codes=known_reason_codes(_ctx()),
        messages=claim_messages(_ctx(), claim_id),  # the Messages section
        error=error,
    ), status


@bp.route("/claims/<claim_id>/assign", methods=["POST"])
@requires(*SUPERVISORS)
def assign(claim_id: str) -> Any:
    unassign = request.form.get("action") == "unassign"
    try:
        assign_claim(
            _ctx(),
            claim_id,
            None if unassign else g.actor,
            actor=g.actor,
            source=request.remote_addr,
        )
    except DecisionRefused as exc:
        return _claim_page(claim_id, exc.detail, exc.status)
    return redirect(url_for("console.claim", claim_id=claim_id))


@bp.route("/claims/<claim_id>/decide", methods=["POST"])
@requires(*SUPERVISORS)
def decide(claim_id: str) -> Any:
    form = request.form
    try:
        amount = parse_amount(form["amount"]) if form.get("amount") else None
        version_text = form.get("version", "")
        if not (version_text.isascii() and version_text.isdigit()):  # int() takes "٣"
            raise ValueError(version_text)
        version = int(version_text)
    except (InvalidOperation, ValueError):  # MoneyError is a ValueError
        return _claim_page(claim_id, "The amount or version is not a number.", 422)
    choice = SupervisorDecision(
        outcome=form.get("outcome", ""),
        note=form.get("note", ""),
        amount=amount,
        reason_codes=tuple(form.getlist("reason_codes")),
        documents=tuple(d.strip() for d in form.get("documents", "").split(",") if d.strip()),
    )
    try:
        decide_claim(
            _ctx(),
            claim_id,
            choice,
            expected_version=version,
            decided_by=g.actor,
            request_id=g.get("request_id"),
            source=request.remote_addr,
        )
    except DecisionRefused as exc:
        return _claim_page(claim_id, exc.detail, exc.status)
    flash(f"Claim {claim_id} decided: {choice.outcome}.")
    return redirect(url_for("console.queue"))


@bp.route("/analyst")
@requires("analyst", "supervisor", "admin")
def analyst() -> Any:
    ctx = _ctx()
    ruleset = ctx.engine.ruleset
    status = ctx.rules.status()
    backtest = latest_backtest(ctx)
    return render_template(
        "console/analyst.html", ruleset=ruleset, status=status, backtest=backtest
    )


@bp.route("/operations")
@requires(*STAFF)
def operations() -> Any:
    stats = operations_stats(_ctx())
    top = max([d["total"] for d in stats["per_day"]] + [1])
    return render_template("console/operations.html", stats=stats, top=top)
