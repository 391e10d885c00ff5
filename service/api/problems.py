"""RFC 9457 problem details for every error; no traceback ever reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from service.db.errors import UNAVAILABLE, is_timeout
from service.domain.lifecycle import IllegalTransition
from service.rules.engine import EngineFailure

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
MAX_LISTED_ERRORS = 50  # a 422 names at most this many fields, and says how many more
MAX_FIELD_NAME = 200  # characters of a field name quoted back (unknown keys can be huge)


class Problem(Exception):
    """Raise from a view to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, code: str | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.extra = extra
        self.headers: dict[str, str] = extra.pop("headers", {})


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _title(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if code:
        body["code"] = code
    errors = extra.get("errors")
    if isinstance(errors, list) and len(errors) > MAX_LISTED_ERRORS:
        extra["errors"] = errors[:MAX_LISTED_ERRORS]
        extra["more_errors"] = len(errors) - MAX_LISTED_ERRORS
        body["detail"] = f"{detail or ''} (the first {MAX_LISTED_ERRORS} are listed)".lstrip()
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def flatten_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested messages -> [{"field": "claimant.email", "message": "..."}].

    Field names are quoted back printable (escapes for control characters) and cut to
    MAX_FIELD_NAME characters: an unknown key is the client's text, not ours."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            part = _field_name(str(key))
            name = prefix if key == "_schema" else f"{prefix}.{part}" if prefix else part
            out.extend(flatten_messages(value, name))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (dict, list)):
                out.extend(flatten_messages(item, prefix))
            else:
                out.append({"field": prefix or "body", "message": str(item)})
    else:
        out.append({"field": prefix or "body", "message": str(messages)})
    return out


def _field_name(key: str) -> str:
    if not key.isprintable():
        key = ascii(key)[1:-1]
    return key if len(key) <= MAX_FIELD_NAME else key[:MAX_FIELD_NAME] + "..."


def http_exception_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages:
        # webargs nests by location: {"json": {...}} / {"query": {...}}
        if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "files"}:
            messages = {k: v for loc in messages.values() for k, v in (loc or {}).items()}
        errors = flatten_messages(messages)
        return problem_response(
            422, f"{len(errors)} invalid field(s)", code="validation_error", errors=errors
        )
    detail = error.description if isinstance(error.description, str) else None
    if status == 413:
        detail = "Request body is larger than this service accepts"
    headers = {}
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem_response(status, detail, headers=headers)


def install_problem_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return problem_response(
            error.status, error.detail, code=error.code, headers=error.headers, **error.extra
        )

    def _database_down(error: Exception) -> Response:
        if is_timeout(error):  # a lock held elsewhere or a slow statement: rolled back
            log.error("database busy: %s", type(getattr(error, "orig", error)).__name__)
            return problem_response(
                503,
                "The database is busy (a lock or a statement took too long); nothing was "
                "stored. Retry shortly.",
                code="database_busy",
                headers={"Retry-After": "2"},
            )
        log.error("database unavailable: %s", type(error).__name__)
        return problem_response(
            503,
            "The database is unavailable; nothing was stored. Retry shortly.",
            code="database_unavailable",
            headers={"Retry-After": "5"},
        )

    for unavailable in UNAVAILABLE:
        app.register_error_handler(unavailable, _database_down)

    @app.errorhandler(IllegalTransition)
    def _illegal_transition(error: IllegalTransition) -> Response:
        return problem_response(
            409,
            str(error),
            code="illegal_transition",
            current_status=error.current,
            allowed_events=list(error.allowed),
        )

    @app.errorhandler(EngineFailure)
    def _engine_down(error: EngineFailure) -> Response:
        log.error("rules engine failure: %s", error)
        return problem_response(
            503,
            "The rules engine is unavailable; nothing was stored. Retry shortly.",
            code="engine_unavailable",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return http_exception_problem(error)
        log.exception("unhandled error")
        return problem_response(500, "Internal error; it has been logged.")
