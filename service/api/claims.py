"""/v1/claims: intake and reading back."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from service.api.auth import requires
from service.api.caller import current_client_id, source_address, visible_client_id
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import (
    ClaimDetailSchema,
    ClaimOutSchema,
    ClaimPageSchema,
    ClaimQueryArgs,
    ClaimSchema,
    date_problems,
)
from service.domain.money import fmt
from service.usecases import read_claims
from service.usecases.payments import AggregateExceeded
from service.usecases.submit_claim import (
    ExternalRefConflict,
    IdempotencyMismatch,
    InvalidClaim,
    RequestInFlight,
    submit_claim,
)

blp = Blueprint("claims", __name__, url_prefix="/v1/claims", description="Claims")


def _ctx() -> Any:
    return current_app.extensions["claims"]


@blp.route("", methods=["POST"])
@requires("intake", "admin")
@blp.arguments(ClaimSchema())
@blp.response(201, ClaimOutSchema)
@blp.alt_response(409, description="Conflict (key in flight, external_ref reused)")
def post_claim(data: dict[str, Any]) -> Any:
    """Submit a claim and get its first-pass decision."""
    _check_callback(data.get("callback_url"))
    problems = date_problems(data, _ctx().clock.now())
    if problems:
        raise Problem(
            422, f"{len(problems)} invalid field(s)", code="validation_error", errors=problems
        )
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255):
        raise Problem(400, "Idempotency-Key must be 1 to 255 characters.", code="bad_key")
    try:
        result = submit_claim(
            _ctx(),
            data,
            client_id=current_client_id(),
            idempotency_key=key,
            request_id=g.get("request_id"),
            source=source_address(),
        )
    except IdempotencyMismatch:
        raise Problem(
            422,
            "This Idempotency-Key was used with a different body.",
            code="idempotency_key_reused",
        ) from None
    except RequestInFlight:
        raise Problem(
            409,
            "A request with this Idempotency-Key is still in progress.",
            code="request_in_flight",
            headers={"Retry-After": "1"},
        ) from None
    except AggregateExceeded as exc:
        raise Problem(
            422,
            str(exc),
            code="aggregate_exceeded",
            remaining=fmt(exc.remaining, exc.currency),
            currency=exc.currency,
        ) from None
    except InvalidClaim as exc:
        raise Problem(
            422,
            "1 invalid field(s)",
            code="validation_error",
            errors=[{"field": exc.field, "message": exc.message}],
        ) from None
    except ExternalRefConflict:
        raise Problem(
            409,
            "external_ref was already used for a different claim.",
            code="external_ref_conflict",
        ) from None
    headers = {"Location": f"/v1/claims/{result.document['id']}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return result.document, 201, headers


@blp.route("", methods=["GET"])
@requires("intake", "supervisor", "analyst", "finance", "admin")
@blp.arguments(ClaimQueryArgs(), location="query")
@blp.response(200, ClaimPageSchema)
def list_claims(args: dict[str, Any]) -> Any:
    """List claims, newest first, with filters and cursor pagination."""
    limit = min(args.pop("limit"), _ctx().config.page_size_max)
    cursor = args.pop("cursor", None)
    try:
        return read_claims.list_claims(
            _ctx(), client_id=visible_client_id(), filters=args, limit=limit, cursor=cursor
        )
    except read_claims.BadCursor as exc:
        raise Problem(400, str(exc), code="bad_cursor") from None


@blp.route("/<claim_id>", methods=["GET"])
@requires("intake", "supervisor", "analyst", "finance", "admin", audit_view=True)
@blp.response(200, ClaimDetailSchema)
def get_claim(claim_id: str) -> Any:
    """A claim with its decision, reasons, trace, facts and audit history."""
    document = read_claims.get_claim(_ctx(), claim_id, visible_client_id())
    if document is None:
        raise Problem(404, "No claim with this id.", code="not_found")
    return document, 200, {"ETag": f'"{document["version"]}"'}


def _check_callback(url: str | None) -> None:
    if not url:
        return
    config = _ctx().config
    from service.adapters.webhooks import check_callback_url

    error = check_callback_url(url, config.callback_allow_private, config.callback_allowlist)
    if error:
        raise Problem(
            422,
            "1 invalid field(s)",
            code="validation_error",
            errors=[{"field": "callback_url", "message": error}],
        )
