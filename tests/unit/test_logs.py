"""service.logs: JSON lines, request ids, and no personal data in the output."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Flask

from service import logs

pytestmark = pytest.mark.unit


@pytest.fixture
def stream():
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_level, saved = root.level, list(root.handlers)
    logs.configure_logging("DEBUG", "json", stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        if handler.get_name() == "service.logs":
            root.removeHandler(handler)
    root.handlers[:] = saved
    root.setLevel(saved_level)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    "text",
    [
        "mail ana.ng@example.com now",
        "call +1 555 0100 123",
        "call +372 5123 4567",
        "phone (555) 010-0199",
        "tel 555-010-0199",
        "số 0912.345.678",
        "电话 +86 138 0013 8000",
    ],
)
def test_redact_masks_emails_and_phones(text):
    out = logs.redact(text)
    assert "@example.com" not in out
    assert sum(ch.isdigit() for ch in out) <= 3, out


@pytest.mark.parametrize(
    "text",
    [
        "loss 2026-03-14 reported 2026-03-16T10:00:00+00:00",
        "amount 12345.67 payable 1999.00",
        "GET /v1/claims/1b4e28ba-2fa1-11d2-883f-0016d3cca427 200 12.5",
        "policy DEV-1001 at 127.0.0.1:8000 outbox 42",
    ],
)
def test_redact_keeps_dates_amounts_ids(text):
    assert logs.redact(text) == text


def test_json_line_redacts_message_args_and_extras(stream):
    log = logging.getLogger("tests.logs")
    log.info(
        "claim from %s",
        "ana.ng@example.com",
        extra={"claimant": {"name": "Ana Ng"}, "note": "ring +44 20 7946 0958", "amount": "10.00"},
    )
    [entry] = lines(stream)
    assert entry["level"] == "info" and entry["logger"] == "tests.logs"
    assert entry["msg"] == "claim from [email]"
    assert entry["claimant"] == "[redacted]"
    assert entry["note"] == "ring [phone]"
    assert entry["amount"] == "10.00"
    assert "Ana" not in stream.getvalue() and "7946" not in stream.getvalue()


def test_exception_text_is_redacted(stream):
    try:
        raise ValueError("bad email bob@example.com")
    except ValueError:
        logging.getLogger("tests.logs").exception("failed")
    [entry] = lines(stream)
    assert "ValueError" in entry["exc"] and "bob@" not in entry["exc"]


def test_request_id_scope_tags_lines(stream):
    log = logging.getLogger("tests.logs")
    with logs.request_id_scope("job-123") as rid:
        assert logs.get_request_id() == rid == "job-123"
        log.info("inside")
    log.info("outside")
    inside, outside = lines(stream)
    assert inside["request_id"] == "job-123"
    assert "request_id" not in outside
    assert logs.get_request_id() is None


def test_request_id_scope_makes_one_for_bad_input():
    with logs.request_id_scope("bad id with spaces\n") as rid:
        assert rid != "bad id with spaces\n" and len(rid) == 32


def test_text_format(stream):
    logs.configure_logging("INFO", "text", stream=stream)
    token = logs.set_request_id("r-1")
    try:
        logging.getLogger("tests.logs").info("hello %s", "x@example.org")
    finally:
        logs.reset_request_id(token)
    assert "[r-1] hello [email]" in stream.getvalue()


def make_app() -> Flask:
    app = Flask(__name__)
    logs.install_request_logging(app)

    @app.post("/echo")
    def echo():
        return {"request_id": logs.get_request_id()}, 201

    return app


def test_flask_hook_echoes_given_request_id_and_logs_access_line(stream):
    client = make_app().test_client()
    resp = client.post(
        "/echo?email=a@example.com",
        json={"email": "secret@example.com"},
        headers={"X-Request-ID": "abc-123"},
    )
    assert resp.status_code == 201
    assert resp.headers["X-Request-ID"] == "abc-123"
    assert resp.get_json()["request_id"] == "abc-123"
    [access] = [e for e in lines(stream) if e["logger"] == "service.access"]
    assert access["method"] == "POST" and access["path"] == "/echo"
    assert access["status"] == 201 and access["duration_ms"] >= 0
    assert access["request_id"] == "abc-123"
    assert "secret@" not in stream.getvalue() and "a@example" not in stream.getvalue()
    assert logs.get_request_id() is None


def test_flask_hook_creates_request_id_when_missing_or_invalid(stream):
    client = make_app().test_client()
    first = client.post("/echo").headers["X-Request-ID"]
    second = client.post("/echo", headers={"X-Request-ID": "x" * 500}).headers["X-Request-ID"]
    assert len(first) == 32 and len(second) == 32 and first != second


def test_noted_names_and_free_text_are_masked_in_messages_and_exceptions(stream):
    log = logging.getLogger("tests.logs")
    with logs.request_id_scope("r-2"):
        logs.note_personal_fields(
            {
                "claimant": {"name": "Quillonby Ng", "preferred_language": "en"},
                "description": "fell off the Zyxwv balcony",
                "policy_number": "DEV-1001",
            }
        )
        log.warning("could not store %s for DEV-1001", "Quillonby Ng")
        try:
            raise RuntimeError('Failing row contains (x, "fell off the Zyxwv balcony")')
        except RuntimeError:
            log.exception("database said no")
    log.info("after the scope: Quillonby Ng")  # the scope has ended: not noted any more
    first, second, after = lines(stream)
    assert first["msg"] == "could not store [redacted] for DEV-1001"
    assert "Zyxwv" not in second["exc"] and "RuntimeError" in second["exc"]
    assert after["msg"] == "after the scope: Quillonby Ng"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("DETAIL:  Failing row contains (1, Ana (Lee), x).", "Failing row contains ([redacted])"),
        ("DETAIL:  Key (external_ref)=(Ana) Lee) already exists.", "already exists"),
    ],
)
def test_postgresql_row_dumps_are_masked(text, kept):
    out = logs.redact(text)
    assert "Ana" not in out and kept in out
