"""gunicorn's sync worker, answering the errors gunicorn finds itself as problem+json.

A request line or header that is too long, too many headers or a malformed request never
reaches Flask: gunicorn answers it while parsing, with an HTML page. `ProblemWorker`
answers the same errors as RFC 9457 `application/problem+json`, like every other error
of the service, and a request line over MAX_REQUEST_LINE as 414 URI Too Long. The
limits themselves are settings (MAX_REQUEST_LINE, MAX_HEADER_FIELDS, MAX_HEADER_BYTES)
that `claims serve` hands to gunicorn.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.sync import SyncWorker

MAX_DETAIL = 200  # characters of gunicorn's message (it may quote the request line)


def problem_bytes(status: int, reason: str, detail: str) -> bytes:
    """A complete HTTP/1.1 response carrying a problem document; the connection closes."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status,
            "detail": detail[:MAX_DETAIL],
            "code": "bad_request_framing",
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    return head + body


class ProblemWorker(SyncWorker):  # type: ignore[misc]
    def handle_error(self, req: Any, client: Any, addr: Any, exc: Exception) -> None:
        override = (414, "URI Too Long") if isinstance(exc, LimitRequestLine) else None

        def write_problem(sock: Any, status: int, reason: str, mesg: str) -> None:
            if override is not None:
                status, reason = override
            detail = mesg or "The server could not handle this request."
            util.write_nonblock(sock, problem_bytes(status, reason, detail))

        original = util.write_error
        util.write_error = write_problem  # what the base class calls to answer
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = original
