"""Slow clients (slowloris) against a real `claims serve`: a handful of connections that
send their request head or body byte by byte must not tie up the gunicorn workers, and a
client too slow for REQUEST_READ_TIMEOUT gets a 408 problem (hardening, finding 1)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.conftest import Server, claims_cli

pytestmark = pytest.mark.e2e

SLOW_CLIENTS = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("slow-clients")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'claims.db'}",
        INSTANCE_DIR=str(folder / "instance"),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        LOG_FORMAT="json",
        REQUEST_READ_TIMEOUT="6",
    )
    claims_cli(env, "db", "upgrade")
    srv = Server(env, workers=2).start()
    yield srv
    srv.stop()


def _trickle(port: int, head: bytes, stop: threading.Event, answers: list[bytes]) -> None:
    """Send `head` then one byte every 0.2 s until stopped or the server answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head)
            sock.settimeout(0.2)
            while not stop.is_set():
                try:
                    sock.sendall(b"x")
                except OSError:
                    break
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if data:
                    answers.append(data)
                break
    except OSError:
        pass


def test_a_good_client_is_answered_while_slow_clients_hold_connections(server):
    stop = threading.Event()
    answers: list[bytes] = []
    heads = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # a header that never ends
        b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n",  # a body that never arrives
    ]
    threads = [
        threading.Thread(target=_trickle, args=(server.port, heads[i % 2], stop, answers))
        for i in range(SLOW_CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)  # every slow client is connected and trickling
        for _ in range(3):
            answer = requests.get(f"{server.url}/healthz", timeout=4)
            assert answer.status_code == 200
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def test_a_client_slower_than_the_read_timeout_gets_a_408_problem(server):
    stop = threading.Event()
    answers: list[bytes] = []
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
    thread = threading.Thread(target=_trickle, args=(server.port, head, stop, answers))
    thread.start()
    thread.join(timeout=25)
    stop.set()
    assert answers, "the server never answered the slow client"
    head_bytes, _, body = answers[0].partition(b"\r\n\r\n")
    assert head_bytes.startswith(b"HTTP/1.1 408"), head_bytes
    assert b"application/problem+json" in head_bytes
    assert json.loads(body)["status"] == 408
