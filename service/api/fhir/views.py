"""/fhir: FHIR R4 Claim in, ClaimResponse out (application/fhir+json).

`POST /fhir/Claim` (intake, admin): validate the Claim with fhir.resources, map it to the
body of POST /v1/claims (claim_in.py), check it with the same schema, submit it through
the same use case (idempotency, external_ref, roles), answer 201 with the ClaimResponse.
`GET /fhir/ClaimResponse/<claim id>` (the roles that read claims): the claim's current
decision as a ClaimResponse (claim_response.py). Refusals: OperationOutcome (outcome.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request
from marshmallow import ValidationError

from service.adapters.templates import labelled_reason_words
from service.api.auth import requires
from service.api.caller import visible_client_id
from service.api.claims import submit_checked
from service.api.fhir.claim_in import (
    FhirRefused,
    FieldPaths,
    Issue,
    claim_body,
    claim_codings,
    validate_claim,
)
from service.api.fhir.claim_response import claim_response, validated
from service.api.fhir.outcome import fhir_response
from service.api.parsing import parse_body
from service.api.problems import Problem, flatten_messages
from service.api.schemas import ClaimSchema, date_problems
from service.logs import note_personal_fields
from service.usecases import manage_policies, read_claims

blp = Blueprint("fhir", __name__, url_prefix="/fhir")


def _ctx() -> Any:
    return current_app.extensions["claims"]


@blp.route("/Claim", methods=["POST"])
@requires("intake", "admin")
def post_claim() -> Response:
    """A FHIR Claim in, adjudicated like any claim; its ClaimResponse out (201)."""
    body = g.json_body if "json_body" in g else _body()
    _note_personal(body)
    try:
        data, paths = claim_body(validate_claim(body), _ctx().clock.now())
        data = _checked(data, paths)
        _within_cover(data, paths)
        data["fhir"] = claim_codings(body)
    except FhirRefused as exc:
        raise _refusal(exc.status, exc.issues) from None
    result = submit_checked(data)
    response = fhir_response(validated(claim_response(result.document, labelled_reason_words)), 201)
    response.headers["Location"] = f"/fhir/ClaimResponse/{result.document['id']}"
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.route("/ClaimResponse/<claim_id>", methods=["GET"])
@requires("intake", "supervisor", "analyst", "finance", "admin", audit_view=True)
def get_claim_response(claim_id: str) -> Response:
    """The current decision of a claim as a ClaimResponse (404 OperationOutcome if none)."""
    document = read_claims.get_claim(_ctx(), claim_id, visible_client_id())
    if document is None:
        raise Problem(404, "No claim with this id.", code="not_found")
    response = fhir_response(validated(claim_response(document, labelled_reason_words)))
    response.headers["ETag"] = f'W/"{document["version"]}"'
    return response


def _note_personal(body: Any) -> None:
    """Mask the contained Patient's name, contacts and address in this request's logs."""
    contained = body.get("contained") if isinstance(body, dict) else None
    found: list[Any] = []
    for resource in contained if isinstance(contained, list) else []:
        if not isinstance(resource, dict):
            continue
        found += [resource.get(k) for k in ("name", "address", "birthDate")]
        telecom = resource.get("telecom")
        for point in telecom if isinstance(telecom, list) else []:
            found.append(point.get("value") if isinstance(point, dict) else None)
    note_personal_fields({"claimant": found})


def _body() -> Any:
    if not request.get_data(cache=True):
        raise _refusal(400, [Issue("Claim", "Send a FHIR Claim resource as the body.", "required")])
    body = parse_body(request, int(current_app.config["MAX_JSON_DEPTH"]))
    note_personal_fields(body)  # masked in this request's log lines, as for /v1/
    return body


def _checked(data: dict[str, Any], paths: FieldPaths) -> dict[str, Any]:
    """The mapped body through ClaimSchema and the clock's checks, as for POST /v1/claims;
    errors named by the FHIR path each field came from."""
    try:
        loaded: dict[str, Any] = ClaimSchema().load(data)
    except ValidationError as exc:
        raise _refusal(
            422,
            [
                Issue(paths.path(e["field"]), e["message"], "business-rule")
                for e in flatten_messages(exc.messages)
            ],
        ) from None
    problems = date_problems(loaded, _ctx().clock.now())
    if problems:
        raise _refusal(
            422, [Issue(paths.path(p["field"]), p["message"], "business-rule") for p in problems]
        )
    return loaded


def _within_cover(data: dict[str, Any], paths: FieldPaths) -> None:
    """A service dated after the policy's cover ended is refused (422 on its path): the
    date of loss is the earliest day of service, so without this check a line after the
    cover would be paid under it. Such lines belong on no claim to this policy."""
    policy = manage_policies.get_policy(_ctx(), str(data["policy_number"]))
    if policy is None:
        return  # the use case answers an unknown policy as for POST /v1/claims
    ends = policy.cover_ends_on
    late = [
        Issue(path, f"After the policy's cover ended ({ends.isoformat()}).", "business-rule")
        for day, path in paths.service_dates
        if day > ends
    ]
    if late:
        raise _refusal(422, late)


def _refusal(status: int, issues: list[Issue]) -> Problem:
    return Problem(
        status,
        f"{len(issues)} issue(s) in the Claim",
        code="invalid_resource" if status == 400 else "unprocessable_resource",
        errors=[{"field": i.path, "message": i.message, "type": i.code} for i in issues],
    )
