"""JSON in with Decimal numbers; the right status for a wrong content type or bad JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, Request, g, request
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser

from service.api.problems import Problem

BODY_METHODS = {"POST", "PUT", "PATCH"}


def parse_body(req: Request) -> Any:
    raw = req.get_data(cache=True)
    try:
        return json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, f"Malformed JSON: {exc}", code="malformed_json") from None


class DecimalParser(FlaskParser):
    """webargs parser that reads the body parsed once, numbers as Decimal."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, Any] = {}

    def _raw_load_json(self, req: Request) -> Any:  # type: ignore[override]
        if not req.is_json:
            from webargs.core import missing

            return missing
        if "json_body" not in g:
            g.json_body = parse_body(req)
        return g.json_body


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = DecimalParser()


def install_body_checks(app: Flask) -> None:
    @app.before_request
    def _check_body() -> None:
        if request.method not in BODY_METHODS or not request.path.startswith("/v1/"):
            return
        if request.content_length and request.content_length > app.config["MAX_CONTENT_LENGTH"]:
            raise Problem(413, "Request body is larger than this service accepts")
        has_body = bool(request.content_length) or bool(request.get_data(cache=True))
        if has_body and not request.is_json:
            raise Problem(415, "Send the body as application/json.", code="unsupported_media_type")
        if has_body:
            g.json_body = parse_body(request)
