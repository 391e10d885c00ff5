"""Console pages. Thin: each page calls a use case and renders a template."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

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
from marshmallow import ValidationError

from service.api.auth import (
    authenticate,
    check_login_csrf,
    csrf_token,
    end_session,
    requires,
    start_session,
)
from service.api.console.present import (
    TZ_COOKIE,
    change_words,
    fact_rows,
    local_time,
    zone_or_none,
    zones,
)
from service.api.decisions import DecisionSchema
from service.api.problems import Problem
from service.domain.money import fmt
from service.usecases import check_credentials, manage_policies, read_claims
from service.usecases.assign_claim import assign_claim
from service.usecases.backtest import latest_backtest, list_backtests
from service.usecases.decide_claim import (
    Approvable,
    DecisionRefused,
    SupervisorDecision,
    approvable_now,
    decide_claim,
    known_reason_codes,
)
from service.usecases.read_claim_file import access_log, changes_since, claim_file_extras
from service.usecases.read_messages import claim_messages
from service.usecases.read_operations import operations_page
from service.usecases.read_queue import (
    PAGE_SIZES,
    BadQueueCursor,
    escalation_queue,
    known_queue_reason,
    queue_reason_codes,
)

bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)
SUPERVISORS = ("supervisor", "admin")
STAFF = ("supervisor", "analyst", "finance", "admin")


def _ctx() -> Any:
    return current_app.extensions["claims"]


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "me": g.get("identity"),
        "time_zones": zones,
        "viewer_zone": lambda: str(_viewer_zone()),
        "server_now": lambda: _ctx().clock.now().isoformat(),
    }


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


SORT_LABELS = {
    "due": "Deadline, earliest first",
    "-due": "Deadline, latest first",
    "amount": "Amount, smallest first",
    "-amount": "Amount, largest first",
    "age": "Age, oldest first",
    "-age": "Age, newest first",
}
QUEUE_FILTERS = ("q", "reason", "claim_type", "assignee", "overdue")


@bp.route("/queue")
@requires(*SUPERVISORS)
def queue() -> Any:
    from service.domain.model import CLAIM_TYPES

    args = request.args
    ctx = _ctx()
    codes = queue_reason_codes(ctx)
    reason = args.get("reason") or None
    if reason is not None and not known_queue_reason(ctx, reason, codes):
        raise Problem(400, "Unknown reason code: choose one from the list.", code="bad_filter")
    if reason is not None and reason not in codes:  # a code of the rules, none waiting now
        codes = [*codes, reason]
    claim_type = _choice(args, "claim_type", CLAIM_TYPES, "claim type")
    sort = _choice(args, "sort", tuple(SORT_LABELS), "sort") or "due"
    sizes = [n for n in PAGE_SIZES if n <= ctx.config.page_size_max] or [PAGE_SIZES[0]]
    size_text = args.get("size") or str(50 if 50 in sizes else sizes[0])
    if not size_text.isdigit() or int(size_text) not in sizes:
        raise Problem(400, f"size must be one of {', '.join(map(str, sizes))}.", code="bad_filter")
    search = (args.get("q") or "").strip()[:120] or None
    assignee = args.get("assignee") or None
    try:
        page = escalation_queue(
            ctx,
            reason=reason,
            claim_type=claim_type,
            assignee=g.actor if assignee == "me" else assignee,
            overdue=True if args.get("overdue") == "1" else None,
            q=search,
            sort=sort,
            cursor=args.get("cursor") or None,
            limit=int(size_text),
        )
    except BadQueueCursor:
        raise Problem(
            400,
            "This page link is out of date: start again from the first page.",
            code="bad_cursor",
        ) from None
    kept = {k: v for k, v in args.items() if k != "cursor" and v.strip()}
    return render_template(
        "console/queue.html",
        page=page,
        args=args,
        kept=kept,
        filtered=any((args.get(k) or "").strip() for k in QUEUE_FILTERS),
        first_page=not args.get("cursor"),
        claim_types=CLAIM_TYPES,
        codes=codes,
        sorts=SORT_LABELS,
        sort=sort,
        sizes=sizes,
        size=int(size_text),
    )


def _choice(args: Any, name: str, allowed: Any, label: str) -> str | None:
    """A query value from a fixed list, or None; anything else is a 400, not a guess."""
    value = args.get(name) or None
    if value is not None and value not in allowed:
        raise Problem(400, f"Unknown {label}: choose one from the list.", code="bad_filter")
    return value


@bp.route("/claims/<claim_id>")
@requires(*STAFF, audit_view=True)
def claim(claim_id: str) -> Any:
    outcome = request.args.get("outcome")
    known = outcome in OUTCOMES or outcome in APPEAL_OUTCOMES
    return _claim_page(claim_id, form={"outcome": outcome} if known else None)


OUTCOMES = {
    "approve": "Approve",
    "reject": "Reject",
    "request_info": "Request documents",
}
# An appealed claim is answered, not decided again (service/usecases/decide_claim.py).
APPEAL_OUTCOMES = {
    "uphold": "Uphold: the decision and its payment stand",
    "overturn": "Overturn: approve a higher amount",
}
CHECK_FIELDS = "Not recorded: check the fields marked below."
# Which field of the decide form a refusal of decide_claim is about.
REFUSAL_FIELDS = {
    "note_required": "note",
    "bad_amount": "amount",
    "amount_above_limit": "amount",
    "amount_below_approved": "amount",
    "appeal_answer": "outcome",
    "aggregate_exceeded": "amount",
    "no_coverage": "amount",
    "currency_mismatch": "amount",
    "unknown_reason_code": "reason_codes",
    "documents_required": "documents",
    "bad_outcome": "outcome",
}


def _claim_page(
    claim_id: str,
    error: str | None = None,
    status: int = 200,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    changes: list[dict[str, Any]] | None = None,
    opened: tuple[str, str] | None = None,
) -> Any:
    """The claim file; `form`/`errors`: the decide form as the supervisor left it, with
    an error per field; `changes`: what happened to the claim since the form was shown;
    `opened`: the (version, seen) the form was opened with, kept in the form shown
    again after a field error (so a change made meanwhile is still caught)."""
    ctx = _ctx()
    document = read_claims.get_claim(ctx, claim_id, None)
    if document is None:
        raise Problem(404, "No claim with this id.", code="not_found")
    policy = manage_policies.get_policy(ctx, document["policy_number"])
    extras = claim_file_extras(ctx, document)
    currency = document["currency"]
    approvable = approvable_now(ctx, claim_id)
    seen = str(max([h["id"] for h in document["history"]] + [0]))
    version, seen = opened or (str(document["version"]), seen)
    return render_template(
        "console/claim.html",
        claim=document,
        file=extras,
        decision_facts=[
            {"decision": d, "rows": fact_rows(d.get("facts"), currency)}
            for d in reversed(document["decisions"])
        ],
        policy=manage_policies.policy_document(policy) if policy else None,
        limit=_at_most(approvable, currency),
        approved=fmt(approvable.approved, currency) if approvable else None,
        codes=known_reason_codes(ctx),
        messages=claim_messages(ctx, claim_id),  # the Messages section
        error=error,
        form=form or {},
        errors=errors or {},
        changes=changes,
        outcomes=APPEAL_OUTCOMES if document["status"] == "appealed" else OUTCOMES,
        version=version,
        seen=seen,
    ), status


def _at_most(approvable: Approvable | None, currency: str) -> str:
    """What the form says beside the amount: the most the coverage pays now, or why
    nothing can be approved."""
    if approvable is None or approvable.why == "no_coverage":
        return "nothing: the policy on file does not cover this claim type"
    if approvable.why == "currency_mismatch":
        return (
            f"nothing: the claim is in {currency} but the policy pays in "
            f"{approvable.policy_currency}"
        )
    most = approvable.limit if approvable.limit is not None else Decimal("0")
    return f"{fmt(most, currency)} {currency}"


@bp.route("/claims/<claim_id>/access")
@requires(*STAFF)
def access(claim_id: str) -> Any:
    """Who opened this claim and when: for audits, kept out of the claim's history."""
    document = read_claims.get_claim(_ctx(), claim_id, None)
    if document is None:
        raise Problem(404, "No claim with this id.", code="not_found")
    return render_template(
        "console/access.html", claim=document, views=access_log(_ctx(), claim_id)
    )


@bp.route("/timezone", methods=["POST"])
@requires(*STAFF)
def timezone() -> Any:
    """Remember the viewer's time zone (a cookie) and go back to the page it was set on."""
    name = request.form.get("tz", "")
    if zone_or_none(name) is None:
        raise Problem(400, "Choose a time zone from the list.", code="bad_time_zone")
    back = safe_next(request.form.get("next", "")) or url_for("console.home")
    response = redirect(back)
    response.set_cookie(
        TZ_COOKIE,
        name,
        max_age=365 * 86400,
        samesite="Lax",
        secure=request.is_secure or bool(_ctx().config.session_cookie_secure),
    )
    return response


@bp.app_template_filter("change_words")
def _change_words(event: dict[str, Any], currency: str) -> str:
    return change_words(event, currency)


@bp.app_template_filter("local")
def _local(value: Any) -> str:
    return local_time(value, _viewer_zone())


def _viewer_zone() -> ZoneInfo:
    zone = g.get("viewer_zone")
    if zone is None:
        zone = zone_or_none(request.cookies.get(TZ_COOKIE)) or zone_or_none(
            _ctx().config.default_time_zone
        )
        zone = zone or ZoneInfo("UTC")
        g.setdefault("viewer_zone", zone)
    return zone


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


@bp.route("/claims/<claim_id>/decide", methods=["GET", "POST"])
@requires(*SUPERVISORS)
def decide(claim_id: str) -> Any:
    """The decide form: the version first (a stale form shows what changed), then the
    API's own schema (DecisionSchema), then the use case. A refusal shows the form
    again with every value as typed, the error by its field, and the version the form
    was opened with. GET (a reload after a refusal) goes to the claim page."""
    if request.method == "GET":
        return redirect(url_for("console.claim", claim_id=claim_id))
    raw = request.form
    outcome = raw.get("outcome", "")
    form: dict[str, Any] = {
        "outcome": outcome,
        "note": raw.get("note", ""),
        "amount": raw.get("amount", "").strip(),
        "reason_codes": raw.getlist("reason_codes"),
        "documents": raw.get("documents", ""),
    }
    version = raw.get("version", "")
    seen = raw.get("seen", "")
    if not (version + seen).isascii():  # str.isdigit() takes "٣"
        raise Problem(400, "This form is damaged: reload the claim.", code="bad_form")
    if not version.isdigit() or len(version) > 9 or not seen.isdigit() or len(seen) > 18:
        raise Problem(400, "This form is damaged: reload the claim.", code="bad_form")
    current = read_claims.get_claim(_ctx(), claim_id, None)
    if current is None:
        raise Problem(404, "No claim with this id.", code="not_found")
    if current["version"] != int(version):
        return _stale(claim_id, current, form, int(seen))
    opened = (version, seen)
    body: dict[str, Any] = {"outcome": outcome, "note": form["note"]}
    if outcome in ("approve", "overturn"):
        body["amount"] = form["amount"] or None
    elif outcome == "reject":
        body["reason_codes"] = form["reason_codes"]
    elif outcome == "request_info":
        body["documents"] = [d.strip() for d in form["documents"].split(",") if d.strip()]
    try:
        checked = DecisionSchema().load(body)
    except ValidationError as exc:
        errors = {name: _first_message(m) for name, m in exc.normalized_messages().items()}
        return _claim_page(claim_id, CHECK_FIELDS, 422, form=form, errors=errors, opened=opened)
    if outcome in ("approve", "overturn") and checked.get("amount") is None:
        errors = {"amount": "Type the amount to pay."}
        return _claim_page(claim_id, CHECK_FIELDS, 422, form=form, errors=errors, opened=opened)
    choice = SupervisorDecision(
        outcome=outcome,
        note=checked["note"],
        amount=checked.get("amount"),
        reason_codes=tuple(checked.get("reason_codes", ())),
        documents=tuple(checked.get("documents", ())),
    )
    try:
        done = decide_claim(
            _ctx(),
            claim_id,
            choice,
            expected_version=int(version),
            decided_by=g.actor,
            request_id=g.get("request_id"),
            source=request.remote_addr,
        )
    except DecisionRefused as exc:
        if exc.code == "stale_version":
            current = read_claims.get_claim(_ctx(), claim_id, None)
            if current is None:
                raise Problem(404, "No claim with this id.", code="not_found") from None
            return _stale(claim_id, current, form, int(seen))
        field = REFUSAL_FIELDS.get(exc.code)
        errors = {field: exc.detail} if field else {}
        top = CHECK_FIELDS if field else exc.detail
        return _claim_page(claim_id, top, exc.status, form=form, errors=errors, opened=opened)
    flash(_confirmation(done))
    return redirect(url_for("console.queue"))


def _stale(claim_id: str, current: dict[str, Any], form: dict[str, Any], seen: int) -> Any:
    """The form again, values kept, with what happened since it was opened; it now
    carries the claim's new version: the supervisor has seen the changes."""
    message = (
        "The claim changed while you had this form open (see below). Your entries are "
        "kept: check them against the changes and submit again."
    )
    changes = changes_since(current, seen)
    return _claim_page(claim_id, message, 412, form=form, changes=changes)


def _confirmation(done: dict[str, Any]) -> str:
    """'Claim R-1 (Ana Lima): approved, 200.00 EUR to pay.' - reference and claimant."""
    name = (done.get("claimant") or {}).get("name") or "the claimant"
    amount = done.get("payable_amount")
    paid = f"{amount} {done['currency']} to pay" if amount else "nothing to pay"
    what = {
        "approved": f"approved, {paid}",
        "rejected": "rejected",
        "pending_info": "documents requested",
        "upheld": f"appeal upheld, the decision stands ({paid})",
        "overturned": f"appeal overturned, {paid}",
    }.get(done["status"], done["status"])
    return f"Claim {done['external_ref']} ({name}): {what}."


def _first_message(messages: Any) -> str:
    """The first message marshmallow gives for a field (lists and nested dicts)."""
    while isinstance(messages, (list, dict)):
        if not messages:
            return "Not valid."
        messages = messages[0] if isinstance(messages, list) else next(iter(messages.values()))
    return str(messages)


@bp.route("/analyst")
@requires("analyst", "supervisor", "admin")
def analyst() -> Any:
    ctx = _ctx()
    ruleset = ctx.engine.ruleset
    status = ctx.rules.status()
    backtest = latest_backtest(ctx)
    return render_template(
        "console/analyst.html",
        ruleset=ruleset,
        status=status,
        backtest=backtest,
        backtests=list_backtests(ctx),
    )


@bp.route("/operations")
@requires(*STAFF)
def operations() -> Any:
    page = operations_page(_ctx(), zone=_viewer_zone())
    return render_template("console/operations.html", ops=page, zone=str(_viewer_zone()))
