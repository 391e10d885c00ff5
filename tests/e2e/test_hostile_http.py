"""Hostile HTTP against a real `claims serve` (gunicorn): every answer is problem+json,
including the errors gunicorn finds before Flask sees the request (issue 13 point 4)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, api_headers, claims_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """One `claims serve` for the whole module (each test opens its own connections)."""
    folder = tmp_path_factory.mktemp("hostile-http")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'claims.db'}",
        INSTANCE_DIR=str(folder / "instance"),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        LOG_FORMAT="json",
    )
    claims_cli(env, "db", "upgrade")
    server = Server(env).start()
    yield server, env
    server.stop()


@pytest.fixture
def server(live: tuple[Server, dict[str, str]]) -> Server:
    return live[0]


@pytest.fixture
def service_env(live: tuple[Server, dict[str, str]]) -> dict[str, str]:
    return live[1]


def exchange(server, raw: bytes, body: bytes = b"", timeout: float = 20) -> tuple[int, dict, bytes]:
    """Send `raw` (and then `body`, all of it, before reading), read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(raw)
        if body:
            sock.sendall(body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = _content_length(head)
                if length is not None and len(rest) >= length:
                    break
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, rest


def _content_length(head: bytes) -> int | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value)
    return None


def assert_problem(status: int, headers: dict, body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/problem+json"), headers
    problem = json.loads(body)
    assert problem["status"] == expected and problem["title"]
    return problem


def test_a_request_line_over_the_limit_is_a_414_problem(server):
    raw = b"GET /v1/claims?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_problem(*exchange(server, raw), 414)


def test_a_header_over_the_limit_is_a_431_problem(server):
    raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    assert_problem(*exchange(server, raw), 431)


def test_too_many_headers_is_a_431_problem(server):
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
    assert_problem(*exchange(server, raw), 431)


def test_a_malformed_request_is_a_400_problem(server):
    raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad\x00Name: v\r\n\r\n"
    assert_problem(*exchange(server, raw), 400)


def test_a_chunked_body_over_the_limit_is_413(server):
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    raw = (
        b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    assert_problem(*exchange(server, raw, chunks), 413)


def test_a_client_that_sends_the_whole_body_first_reads_the_413(server):
    body = b"[" + b"1," * 3_500_000 + b"1]"  # 7 MB: over MAX_BODY_BYTES, under the drain cap
    raw = (
        b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    problem = assert_problem(*exchange(server, raw, body), 413)
    assert "larger" in problem["detail"]


def test_nul_in_a_path_over_real_http_is_a_422_problem(server, service_env):
    auth = api_headers(service_env)["Authorization"].encode()
    for path in (b"/v1/claims/%00", b"/v1/policies/%00", b"/v1/rulesets/%00"):
        raw = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + b"\r\n\r\n"
        assert_problem(*exchange(server, raw), 422)
