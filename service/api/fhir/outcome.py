"""FHIR answers: `application/fhir+json` with money written exactly, and an
`OperationOutcome` in place of problem+json for every refused request under /fhir/.

Every error on these routes (401, 403, 404, 405, 409, 413, 415, 422, 429, 503 ...) is
first a problem document like anywhere else in the API (service/api/problems.py); the
`after_request` hook installed here rewrites it as an OperationOutcome with the same
status and headers: one issue per listed field error (its FHIRPath in `expression`),
or one issue carrying the problem's detail.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from service.api.problems import PROBLEM

FHIR_JSON = "application/fhir+json"
PREFIX = "/fhir/"
ISSUE_TYPE = {  # HTTP status -> FHIR issue-type code (http://hl7.org/fhir/issue-type)
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "business-rule",
    429: "throttled",
    503: "transient",
}
BY_PROBLEM_CODE = {  # the problem's own code, where it says more than the status
    "duplicate_key": "structure",
    "malformed_json": "structure",
    "json_too_deep": "structure",
    "idempotency_key_reused": "conflict",
}
FHIR_PATH = re.compile(r"^(Claim|ClaimResponse)(\.|\[|$)")


def operation_outcome(status: int, problem: dict[str, Any]) -> dict[str, Any]:
    """An OperationOutcome for a problem document (RFC 9457) with this status."""
    default = BY_PROBLEM_CODE.get(str(problem.get("code")), ISSUE_TYPE.get(status, "exception"))
    issues = []
    for error in problem.get("errors") or []:
        if not isinstance(error, dict):
            continue
        message = str(error.get("message") or "")
        path = str(error.get("field") or "")
        if path and not FHIR_PATH.match(path):
            # not a FHIRPath (a path parameter, a query field): named in the text only
            message = f"{path}: {message}"
        issue: dict[str, Any] = {
            "severity": "error",
            "code": str(error.get("type") or default),
            "details": {"text": message},
            "diagnostics": message,
        }
        if path and FHIR_PATH.match(path):
            issue["expression"] = [path]
        issues.append(issue)
    if not issues:
        text = str(problem.get("detail") or problem.get("title") or "Refused.")
        issue = {"severity": "error", "code": default, "details": {"text": text}}
        if problem.get("code"):
            issue["details"]["coding"] = [
                {"system": "urn:claims-adjudication:problem", "code": str(problem["code"])}
            ]
        issue["diagnostics"] = text
        issues.append(issue)
    elif problem.get("more_errors"):
        issues.append(
            {
                "severity": "information",
                "code": "too-costly",
                "diagnostics": f"{problem['more_errors']} more issue(s) not listed.",
            }
        )
    return {"resourceType": "OperationOutcome", "issue": issues}


def fhir_json(resource: dict[str, Any]) -> str:
    """JSON with every Decimal written as the number it is (640.00 stays 640.00,
    never a binary float)."""
    marker = secrets.token_hex(8)
    pattern = re.compile(rf'"{marker}:(-?[0-9]+(?:\.[0-9]+)?)"')

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"{marker}:{value:f}"
        raise TypeError(f"{type(value).__name__} is not JSON")

    text = json.dumps(resource, default=default, ensure_ascii=False, separators=(",", ":"))
    return pattern.sub(r"\1", text)


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    return Response(fhir_json(resource), status=status, mimetype=FHIR_JSON)


def install_operation_outcomes(app: Flask) -> None:
    """Under /fhir/: every problem+json answer becomes an OperationOutcome."""

    @app.after_request
    def _as_operation_outcome(response: Response) -> Response:
        if not request.path.startswith(PREFIX) or response.mimetype != PROBLEM:
            return response
        try:
            problem = json.loads(response.get_data(as_text=True))
        except ValueError:
            problem = {}
        body = operation_outcome(response.status_code, problem if isinstance(problem, dict) else {})
        response.set_data(fhir_json(body))
        response.mimetype = FHIR_JSON
        return response
