"""gunicorn's sync worker, answering the errors gunicorn finds itself as problem+json.

A request line or header that is too long, too many headers or a malformed request never
reaches Flask: gunicorn answers it while parsing, with an HTML page. `ProblemWorker`
answers the same errors as RFC 9457 `application/problem+json`, like every other error
of the service, and a request line over MAX_REQUEST_LINE as 414 URI Too Long. The
limits themselves are settings (MAX_REQUEST_LINE, MAX_HEADER_FIELDS, MAX_HEADER_BYTES)
that `claims serve` hands to gunicorn.

Slow clients (slowloris): gunicorn's sync worker reads a request with blocking reads, so a
few clients that send their head or body a byte at a time would hold every worker.
`ProblemWorker` therefore reads each connection without blocking, many at once, and hands
a request to the application only once its head and body have arrived (up to the
limits); a connection that has not sent its whole request within REQUEST_READ_TIMEOUT
seconds is answered 408 problem+json and closed. At most MAX_PENDING connections are
read at once per worker; more wait in the listen backlog until a slot frees.
"""

from __future__ import annotations

import errno
import json
import os
import re
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from gunicorn import util
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.sync import SyncWorker

MAX_DETAIL = 200  # characters of gunicorn's message (it may quote the request line)


def problem_bytes(
    status: int, reason: str, detail: str, code: str = "bad_request_framing"
) -> bytes:
    """A complete HTTP/1.1 response carrying a problem document; the connection closes."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status,
            "detail": detail[:MAX_DETAIL],
            "code": code,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    return head + body


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*([0-9]+)[ \t]*(?=\r\n)", re.I)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.I)
_EXPECT_CONTINUE = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue", re.I)


class BufferedSocket:
    """A client socket whose first bytes were already read: `recv` returns them first."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self._sock = sock
        self._data = data

    def recv(self, size: int, *flags: int) -> bytes:
        if self._data:
            chunk, self._data = self._data[:size], self._data[size:]
            return chunk
        return self._sock.recv(size, *flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@dataclass
class Pending:
    """A connection whose request is still arriving."""

    sock: socket.socket
    addr: Any
    listener: Any
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    continued: bool = False


def request_complete(data: bytes, head_cap: int, body_cap: int) -> tuple[bool, bool]:
    """(whole request here or past a limit, the client waits for 100 Continue).

    Past a limit (head longer than gunicorn accepts, body longer than MAX_BODY_BYTES, an
    unreadable length) counts as complete: gunicorn or the application then refuses it.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > head_cap, False
    head = data[: end + 2]
    body = len(data) - end - 4
    lengths = _CONTENT_LENGTH.findall(head)
    if _CHUNKED.search(head):
        done = body > body_cap or data.endswith(b"0\r\n\r\n")
        return done, not done and body == 0 and bool(_EXPECT_CONTINUE.search(head))
    if not lengths:
        return True, False
    length = int(lengths[0])
    if len(set(lengths)) > 1 or length > body_cap or body >= length:
        return True, False
    return False, body == 0 and bool(_EXPECT_CONTINUE.search(head))


class ProblemWorker(SyncWorker):  # type: ignore[misc]
    read_timeout: float = 10.0  # REQUEST_READ_TIMEOUT, set by `claims serve`
    max_body_bytes: int = 1_048_576  # MAX_BODY_BYTES, set by `claims serve`
    max_pending: int = 256

    def run(self) -> None:
        if self.cfg.is_ssl:  # TLS ends at the proxy in every deployment we document
            super().run()
            return
        for listener in self.sockets:
            listener.setblocking(False)
        selector = selectors.DefaultSelector()
        pending: dict[int, Pending] = {}
        for listener in self.sockets:
            selector.register(listener, selectors.EVENT_READ, None)
        selector.register(self.PIPE[0], selectors.EVENT_READ, "pipe")
        accepting = True
        try:
            while self.alive:
                self.notify()
                if not self.is_parent_alive():
                    return
                wake = min((p.deadline for p in pending.values()), default=time.monotonic() + 1)
                timeout = max(0.0, min(1.0, wake - time.monotonic()))
                for key, _ in selector.select(timeout):
                    if key.data == "pipe":
                        try:
                            os.read(self.PIPE[0], 1)
                        except OSError:
                            pass
                    elif key.data is None:
                        self._accept_all(key.fileobj, selector, pending)
                    else:
                        self._read(key.data, selector, pending)
                    if not self.alive:
                        break
                self._expire(selector, pending)
                full = len(pending) >= self.max_pending
                if full and accepting:
                    for listener in self.sockets:
                        selector.unregister(listener)
                elif not full and not accepting:
                    for listener in self.sockets:
                        selector.register(listener, selectors.EVENT_READ, None)
                accepting = not full
        finally:
            for item in list(pending.values()):
                util.close(item.sock)
            selector.close()

    def _accept_all(self, listener: Any, selector: Any, pending: dict[int, Pending]) -> None:
        while len(pending) < self.max_pending:
            try:
                client, addr = listener.accept()
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED, None):
                    return
                raise
            client.setblocking(False)
            util.close_on_exec(client)
            item = Pending(client, addr, listener, time.monotonic() + self.read_timeout)
            pending[client.fileno()] = item
            selector.register(client, selectors.EVENT_READ, item)

    def _read(self, item: Pending, selector: Any, pending: dict[int, Pending]) -> None:
        try:
            chunk = item.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before its request was whole
            self._forget(item, selector, pending)
            util.close(item.sock)
            return
        item.data += chunk
        done, wants_continue = request_complete(
            bytes(item.data), self._head_cap(), self.max_body_bytes
        )
        if wants_continue and not item.continued:
            item.continued = True
            try:
                item.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                pass
        if not done:
            return
        self._forget(item, selector, pending)
        item.sock.setblocking(True)
        # what the parser or the application still reads is bounded per read too
        item.sock.settimeout(self.read_timeout)
        self.handle(item.listener, BufferedSocket(item.sock, bytes(item.data)), item.addr)

    def _expire(self, selector: Any, pending: dict[int, Pending]) -> None:
        now = time.monotonic()
        for item in [p for p in pending.values() if p.deadline <= now]:
            self._forget(item, selector, pending)
            detail = f"The request did not arrive within {self.read_timeout:g} seconds."
            try:
                item.sock.send(problem_bytes(408, "Request Timeout", detail, "request_timeout"))
            except OSError:
                pass
            util.close(item.sock)

    @staticmethod
    def _forget(item: Pending, selector: Any, pending: dict[int, Pending]) -> None:
        selector.unregister(item.sock)
        pending.pop(item.sock.fileno(), None)

    def _head_cap(self) -> int:
        """The most head bytes gunicorn may need to read before it answers or refuses."""
        line = self.cfg.limit_request_line or 8190
        fields = self.cfg.limit_request_fields or 32768
        size = self.cfg.limit_request_field_size or 65536
        return line + 2 + fields * (size + 2) + 2

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
