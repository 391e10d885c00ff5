"""Structured logging: JSON lines, a request id carried everywhere, no personal data.

- `configure_logging(level, fmt)` sets up the root logger once per process
  (json: one JSON object a line; text: for humans at a terminal).
- The request id lives in a contextvar: the API sets it from `X-Request-ID`
  (or makes one), the dispatcher copies it into `job.meta`, and RQ jobs call
  `set_request_id(job.meta.get("request_id"))` so their lines carry it too.
- `RedactingFilter` masks email addresses and phone numbers in every message
  and every extra field, and drops extras named like personal data. It is a
  safety net: code should not log claimant data in the first place.
- Names and free text cannot be told by their shape, so the values themselves are
  noted: the API notes every personal field of the body it parsed (`note_personal_fields`)
  and the worker notes the claimant of the message it builds (`note_personal_claim`, called
  by service/usecases/notifications.py);
  until the request or job ends, those values are masked as `[redacted]` wherever they
  appear, exception text included. PostgreSQL's row dumps ("Failing row contains (...)",
  "Key (...)=(...)") are masked whatever their values.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Personal values seen by the current request or job, longest first (masked in output).
_personal: ContextVar[tuple[str, ...]] = ContextVar("personal_values", default=())

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HANDLER_NAME = "service.logs"

# Attributes every LogRecord has; anything else on a record came in via `extra=`.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
_PERSONAL_KEYS = {"name", "email", "phone", "claimant", "holder", "address", "body"}
# Fields of a request body whose values are personal data or free text about a person.
PERSONAL_FIELDS = _PERSONAL_KEYS | {"description", "note", "reason", "comment", "username"}
MIN_NOTED = 3  # shorter values (language codes, initials) would mask ordinary words
MAX_NOTED = 200  # values noted per request or job


# --- request id ----------------------------------------------------------------


def get_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> Token[str | None]:
    """Set the id for the current context; keep the token to `reset_request_id` later."""
    return _request_id.set(value)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def request_id_scope(value: str | None) -> Iterator[str]:
    """`with request_id_scope(job.meta.get("request_id")):` — makes one when None.
    Personal values noted inside the scope are forgotten when it ends."""
    rid = value if value and _VALID_REQUEST_ID.match(value) else new_request_id()
    token = set_request_id(rid)
    personal = _personal.set(())
    try:
        yield rid
    finally:
        _personal.reset(personal)
        reset_request_id(token)


# --- personal values -------------------------------------------------------------


def note_personal(*values: object) -> None:
    """Mask these values in every log line of the current request or job."""
    known = set(_personal.get())
    fresh = {
        v.strip()
        for v in values
        if isinstance(v, str) and len(v.strip()) >= MIN_NOTED and v.strip() not in known
    }
    if fresh and len(known) < MAX_NOTED:
        merged = sorted(known | fresh, key=len, reverse=True)[:MAX_NOTED]
        _personal.set(tuple(merged))


def note_personal_fields(data: Any) -> None:
    """Note the strings under personal keys (and everything under `claimant`) of a
    parsed body, however deep (iteratively)."""
    found: list[str] = []
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack and len(found) < MAX_NOTED:
        item, personal = stack.pop()
        if isinstance(item, str):
            if personal:
                found.append(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                name = str(key).lower()
                stack.append((value, personal or name in PERSONAL_FIELDS))
        elif isinstance(item, list):
            stack.extend((value, personal) for value in item)
    note_personal(*found)


def note_personal_claim(claim: Any) -> None:
    """Note a stored claim's personal data (the worker, before building a message)."""
    claimant = getattr(claim, "claimant", None) or {}
    note_personal(getattr(claim, "description", None), *claimant.values())


# --- redaction -----------------------------------------------------------------

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Candidate phone numbers: +digits, or digit groups joined by space . - ( ).
PHONE = re.compile(
    r"(?<![\w.:/-])(?:\+\d[\d\s().-]{5,}\d|\(?\d{2,5}\)?(?:[\s.-]\(?\d{2,5}\)?){1,5})(?![\w.:/-])"
)
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
_NUMBER_LIKE = re.compile(r"^\d+\.\d+$")


def _phone_sub(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7 or digits > 15 or _DATE_LIKE.match(text) or _NUMBER_LIKE.match(text):
        return text
    return "[phone]"


_ROW_DUMPS = (  # PostgreSQL quotes row values in constraint errors
    (re.compile(r"(Failing row contains ).*$", re.M), r"\1([redacted])"),
    (re.compile(r"(Key \([^)]*\)=)\(.*\)( already exists| is not present)"), r"\1([redacted])\2"),
    (re.compile(r"(Key \([^)]*\)=)\((?!\[redacted\]\)).*$", re.M), r"\1([redacted])"),
)


def redact(text: str) -> str:
    """Mask emails, phone numbers, database row dumps and the personal values noted for
    the current request or job."""
    if not text:
        return text
    for value in _personal.get():
        if value in text:
            text = text.replace(value, "[redacted]")
    for pattern, replacement in _ROW_DUMPS:
        text = pattern.sub(replacement, text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(_phone_sub, text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in _PERSONAL_KEYS:
        return "[redacted]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value("", v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Rewrites the record in place so every handler downstream sees clean text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RESERVED:
                setattr(record, key, _redact_value(key, value))
        # Exception text is redacted by the formatters (exc_info stays for other handlers).
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_request_id() or "-"
        return True


# --- formatting ----------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid and rid != "-":
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        # Exception messages often quote input: keep the traceback, mask the data.
        return redact(super().formatException(ei))


class TextFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return redact(super().formatException(ei))


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


def configure_logging(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())


# --- Flask hooks ---------------------------------------------------------------

access_log = logging.getLogger("service.access")


def install_request_logging(app: Any) -> None:
    """Request id in and out, and one access line per request (never bodies)."""
    from flask import g, request

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else new_request_id()
        g.request_id = rid
        g.request_id_token = set_request_id(rid)
        g.personal_token = _personal.set(())
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Any) -> Any:
        rid = g.get("request_id") or get_request_id() or new_request_id()
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": elapsed_ms,
            },
        )
        return response

    @app.teardown_request
    def _clear(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            with contextlib.suppress(ValueError):
                reset_request_id(token)
        personal = g.pop("personal_token", None)
        if personal is not None:
            with contextlib.suppress(ValueError):
                _personal.reset(personal)
