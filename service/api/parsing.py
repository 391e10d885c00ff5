"""JSON in with Decimal numbers; the right status for a wrong content type, bad or hostile input.

Every request passes here before a view runs:
- the body: at most MAX_BODY_BYTES (413, also for a chunked body), JSON nested at most
  MAX_JSON_DEPTH deep (400), parsed once with numbers as Decimal;
- path parameters: `TextConverter` refuses NUL and control characters (422 naming the
  parameter) before a view or the database sees them;
- header values, query strings and form fields: no NUL or control characters (400/422);
- a 413 answer first reads and discards what the client is still sending (up to
  MAX_BODY_DRAIN_BYTES), so a client that writes its whole body before reading gets the
  answer instead of a reset connection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import Flask, Request, Response, g, request
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import UnprocessableEntity
from werkzeug.routing import Rule, UnicodeConverter

from service.api.problems import Problem
from service.domain.text import text_problem
from service.logs import note_personal_fields

BODY_METHODS = {"POST", "PUT", "PATCH"}
DRAIN_CHUNK = 64 * 1024


class DuplicateKey(ValueError):
    """A JSON object names the same key twice (which one counts is up to the parser)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return body


def parse_body(req: Request, max_depth: int | None = None) -> Any:
    raw = req.get_data(cache=True)
    try:
        body = json.loads(raw, parse_float=Decimal, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except DuplicateKey as exc:
        name = exc.key if exc.key.isprintable() else ascii(exc.key)[1:-1]
        name = name if len(name) <= 200 else name[:197] + "..."
        raise Problem(
            422,
            f'The JSON body names the key "{name}" twice in one object.',
            code="duplicate_key",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, f"Malformed JSON: {exc}", code="malformed_json") from None
    if max_depth is not None and json_depth(body, max_depth) > max_depth:
        raise _too_deep(max_depth)
    return body


def _too_deep(max_depth: int | None) -> Problem:
    return Problem(
        400,
        f"The JSON body is nested deeper than {max_depth} levels (MAX_JSON_DEPTH).",
        code="json_too_deep",
    )


def json_depth(value: Any, stop_after: int) -> int:
    """How deep arrays and objects nest in `value` (a scalar is 0), counted without
    recursion; stops counting once past `stop_after`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_after:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


class DecimalParser(FlaskParser):
    """webargs parser that reads the body parsed once, numbers as Decimal."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, Any] = {}

    def _raw_load_json(self, req: Request) -> Any:  # type: ignore[override]
        if not req.is_json:
            from webargs.core import missing

            return missing
        if "json_body" not in g:
            g.json_body = parse_body(req, _max_depth())
        return g.json_body


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = DecimalParser()


def _max_depth() -> int:
    from flask import current_app

    return int(current_app.config["MAX_JSON_DEPTH"])


# --- path parameters ---------------------------------------------------------------


class PathTextProblem(UnprocessableEntity):
    """A path parameter that may not reach a view (answered as a 422 naming it)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"The path parameter {name} is not acceptable: {problem}")
        self.data = {"messages": {name: [problem]}}


class TextConverter(UnicodeConverter):
    """Flask's default converter, refusing what the database or a log could not carry."""

    variable_name = "path"

    def to_python(self, value: str) -> str:
        problem = text_problem(value)
        if problem:
            raise PathTextProblem(self.variable_name, problem)
        return value


class NamedConverterRule(Rule):
    """Tells each converter which parameter it converts, so a 422 can name it."""

    def get_converter(self, variable_name: str, *args: Any, **kwargs: Any) -> Any:
        converter = super().get_converter(variable_name, *args, **kwargs)
        converter.variable_name = variable_name
        return converter


def install_path_checks(app: Flask) -> None:
    """Before any route is added: every `<name>` and `<string:name>` uses TextConverter."""
    app.url_rule_class = NamedConverterRule
    app.url_map.converters["default"] = TextConverter
    app.url_map.converters["string"] = TextConverter


# --- body, headers, query string, form ----------------------------------------------


FHIR_TYPES = ("application/fhir+json", "application/json")


def install_body_checks(app: Flask) -> None:
    @app.before_request
    def _check_request() -> None:
        _check_headers()
        _check_fields(request.args, "query")
        if request.method not in BODY_METHODS:
            return
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            _check_fields(request.form, "form", free_text=True)
            note_personal_fields(request.form.to_dict())
        if request.path.startswith(("/v1/", "/fhir/")):
            _check_body(app)

    @app.after_request
    def _drain_refused_body(response: Response) -> Response:
        if response.status_code == 413:
            drain_body(request, int(app.config["MAX_BODY_DRAIN_BYTES"]))
        return response


def _check_body(app: Flask) -> None:
    limit = int(app.config["MAX_CONTENT_LENGTH"])
    if request.content_length and request.content_length > limit:
        raise Problem(413, "Request body is larger than this service accepts")
    if request.content_length is None:
        # Chunked (no Content-Length): read one byte past the limit to tell "exactly at
        # the limit" from "over it" (werkzeug alone would cut the body and call it JSON).
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            raise Problem(413, "Request body is larger than this service accepts")
    has_body = bool(request.content_length) or bool(request.get_data(cache=True))
    if request.path.startswith("/fhir/"):
        # FHIR: no route or no such method is 404/405 whatever the body; only the two
        # JSON types FHIR names; the body is parsed by the view, after the caller's key
        # was checked (a 401 never depends on the body).
        if request.routing_exception is None and has_body and request.mimetype not in FHIR_TYPES:
            raise Problem(
                415, "Send the body as application/fhir+json.", code="unsupported_media_type"
            )
        return
    if has_body and not request.is_json:
        raise Problem(415, "Send the body as application/json.", code="unsupported_media_type")
    if has_body:
        g.json_body = parse_body(request, int(app.config["MAX_JSON_DEPTH"]))
        note_personal_fields(g.json_body)  # masked in this request's log lines


def _check_headers() -> None:
    for name, value in request.headers.items():
        problem = text_problem(value.replace("\t", " "))
        if problem:
            raise Problem(400, f"The {name} header is not acceptable: {problem}", code="bad_header")


def _check_fields(values: Mapping[str, Any], where: str, free_text: bool = False) -> None:
    errors = []
    getlist = getattr(values, "getlist", None)
    for key in values:
        for value in getlist(key) if getlist else [values[key]]:
            problem = text_problem(key) or text_problem(str(value), free_text=free_text)
            if problem:
                errors.append({"field": f"{where}.{_printable(key)}", "message": problem})
                break
    if errors:
        raise Problem(
            422, f"{len(errors)} invalid field(s)", code="validation_error", errors=errors
        )


def _printable(name: str) -> str:
    return name if name.isprintable() else ascii(name)[1:-1]


def drain_body(req: Request, cap: int) -> int:
    """Read and discard what is left of the body, up to `cap` bytes; returns bytes read.

    Reads the raw WSGI input: a body over MAX_BODY_BYTES has either not been read at all
    (Content-Length said so) or been read up to the limit (chunked). A body larger than
    the cap is left: the server closes the connection after the answer anyway."""
    stream = req.environ.get("wsgi.input")
    length = req.content_length
    if stream is None or getattr(req, "_drained", False):
        return 0
    req._drained = True  # type: ignore[attr-defined]
    if length is not None and length > cap:
        return 0
    if length is None and "wsgi.input_terminated" not in req.environ:
        return 0  # no length and no end marker: reading could block forever
    remaining = cap if length is None else length
    done = 0
    try:
        while remaining > 0:
            chunk = stream.read(min(DRAIN_CHUNK, remaining))
            if not chunk:
                break
            done += len(chunk)
            remaining -= len(chunk)
    except (OSError, ValueError):
        pass  # the client went away: nothing left to be polite to
    return done
