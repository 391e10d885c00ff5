"""A short bounded load test against the real server (`claims serve`, SQLite file).

300 generated claims from 8 concurrent client threads: zero 5xx, every 201 has
its claim row and its decision, and every notification the claim calls for is
in the outbox. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from service.demo.generate import generate

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

CLAIMS = 300
CLIENTS = 8
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("TEST_LOAD_REDIS_URL", "redis://127.0.0.1:6379/12")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _api_key(env: dict[str, str]) -> str:
    try:
        from service.usecases.manage_identities import create_api_key
    except ImportError:
        return ""
    from service.config import load
    from service.usecases.context import build_context

    return str(create_api_key(build_context(load(env)), "load-test", "intake").key)


@pytest.fixture
def server(tmp_path: Path) -> Any:
    db = tmp_path / "claims.db"
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{db}",
        INSTANCE_DIR=str(tmp_path),
        REDIS_URL=REDIS_URL,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="text",
        RATE_LIMIT="1000000/minute",
    )
    subprocess.run([str(BIN / "claims"), "db", "upgrade"], env=env, check=True, capture_output=True)
    today = datetime.now(UTC).date()
    policies, claims = generate(80, CLAIMS, 11, today)
    (tmp_path / "policies.json").write_text(json.dumps(policies))
    subprocess.run(
        [str(BIN / "claims"), "policies", "import", str(tmp_path / "policies.json")],
        env=env,
        check=True,
        capture_output=True,
    )
    key = _api_key(env)
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(BIN / "claims"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield {"base": base, "key": key, "db": f"sqlite:///{db}", "claims": claims}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        _clean_redis()


def _clean_redis() -> None:
    try:
        from redis import Redis

        client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        keys = list(client.scan_iter("rq:*", count=1000))
        if keys:
            client.delete(*keys)
    except Exception:  # noqa: BLE001 - best effort
        pass


def test_concurrent_clients_lose_nothing(server: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {server['key']}"} if server["key"] else {}
    claims = server["claims"]

    def post_share(start: int) -> list[tuple[int, dict[str, Any], Any]]:
        out = []
        with requests.Session() as session:
            for body in claims[start::CLIENTS]:
                response = session.post(
                    f"{server['base']}/v1/claims", json=body, headers=headers, timeout=30
                )
                out.append((response.status_code, body, response.json()))
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for part in pool.map(post_share, range(CLIENTS)) for r in part]

    statuses = Counter(status for status, _, _ in results)
    assert len(results) == CLAIMS
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[201] == CLAIMS, statuses
    engine = create_engine(server["db"])
    try:
        with engine.connect() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    text(
                        "SELECT c.id, c.status, c.external_ref, count(d.id) AS decisions "
                        "FROM claims c LEFT JOIN decisions d ON d.claim_id = c.id GROUP BY c.id"
                    )
                )
            }
            outbox = Counter(r.claim_id for r in conn.execute(text("SELECT claim_id FROM outbox")))
    finally:
        engine.dispose()
    for _status, body, document in results:
        row = rows.get(document["id"])
        assert row is not None, f"201 without a row: {body['external_ref']}"
        assert row.external_ref == body["external_ref"]
        assert row.status == document["decision"]["outcome"]
        assert row.decisions == 1
        wanted = 2 if body["claimant"].get("email") else 0  # acknowledgment + decision email
        assert outbox[document["id"]] == wanted, body["external_ref"]
