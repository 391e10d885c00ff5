"""/v1/policies/<number>: the policies claims are checked against."""

from __future__ import annotations

from typing import Any

from flask import current_app

from service.api.auth import requires
from service.api.caller import current_actor, source_address
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import PolicyOutSchema, PolicySchema
from service.usecases import manage_policies

blp = Blueprint("policies", __name__, url_prefix="/v1/policies", description="Policies")


@blp.route("/<number>", methods=["PUT"])
@requires("intake", "admin")
@blp.arguments(PolicySchema())
@blp.response(200, PolicyOutSchema)
@blp.alt_response(201, schema=PolicyOutSchema, description="Created")
@blp.alt_response(409, description="The currency would change under existing claims")
def put_policy(data: dict[str, Any], number: str) -> Any:
    """Create or replace a policy and its coverages."""
    if not 1 <= len(number) <= 64:
        raise Problem(422, "Policy numbers are 1 to 64 characters.", code="validation_error")
    policy = manage_policies.policy_from_data(number, data)
    ctx = current_app.extensions["claims"]
    try:
        created = manage_policies.put_policy(ctx, policy, current_actor(), source_address())
    except manage_policies.CurrencyChangeRefused as exc:
        raise Problem(
            409, str(exc), code="currency_change_refused", currency=exc.old, requested=exc.new
        ) from None
    return manage_policies.policy_document(policy), 201 if created else 200


@blp.route("/<number>", methods=["GET"])
@requires("intake", "supervisor", "analyst", "finance", "admin")
@blp.response(200, PolicyOutSchema)
def get_policy(number: str) -> Any:
    """Read a policy."""
    policy = manage_policies.get_policy(current_app.extensions["claims"], number)
    if policy is None:
        raise Problem(404, "No policy with this number.", code="not_found")
    return manage_policies.policy_document(policy)
