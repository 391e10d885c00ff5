"""Faults while serving: what was lost must be nothing.

PostgreSQL is a private server started for this test (the machine's own keeps
serving the rest of the suite), stopped while claims are being submitted and
started again: the API answers 503 with Retry-After while it is down, never
500, recovers by itself, and every 201 it gave has its claim stored.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests

from devtools import localservices as local
from tests.e2e.conftest import Server, api_headers, claims_cli
from tests.helpers import POLICIES, claim

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def private_postgres():
    bindir = local._pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found (make test installs them)")
    started = local.Started()
    url = local._start_private_postgres(bindir, started)
    stop_cmd = started.cleanups[-1]  # [runas..., pg_ctl, -D, DATA, -m, fast, stop]
    data = stop_cmd[stop_cmd.index("-D") + 1]
    port = url.rsplit(":", 1)[1].split("/")[0]
    options = f"-p {port} -k {Path(data).parent} -c listen_addresses=127.0.0.1 -c fsync=off"
    start_cmd = [
        *stop_cmd[: stop_cmd.index("-D")],
        "-D",
        data,
        "-l",
        f"{Path(data).parent}/pg.log",
        "-o",
        options,
        "-w",
        "start",
    ]
    yield url, stop_cmd, start_cmd
    started.stop()


def test_postgres_restart_during_submissions(private_postgres, tmp_path):
    url, stop_cmd, start_cmd = private_postgres
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        INSTANCE_DIR=str(tmp_path / "instance"),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        RATE_LIMIT="100000/minute",
        LOG_FORMAT="json",
    )
    claims_cli(env, "db", "upgrade")
    headers = api_headers(env, "intake")
    server = Server(env).start()
    statuses: list[tuple[int, str, str | None]] = []
    stop = threading.Event()

    def submit() -> None:
        session = requests.Session()
        session.headers.update(headers)
        n = 0
        while not stop.is_set():
            n += 1
            body = claim("P-DEV", amount=f"{100 + n}.00", reported_at="2026-06-12T09:00:00+00:00")
            try:
                r = session.post(f"{server.url}/v1/claims", json=body, timeout=15)
                statuses.append((r.status_code, body["external_ref"], r.headers.get("Retry-After")))
            except requests.RequestException:
                statuses.append((0, body["external_ref"], None))
            time.sleep(0.02)

    try:
        put = requests.put(
            f"{server.url}/v1/policies/P-DEV", json=POLICIES["P-DEV"], headers=headers, timeout=10
        )
        assert put.status_code in (200, 201), put.text
        worker = threading.Thread(target=submit)
        worker.start()
        time.sleep(1.5)
        subprocess.run(stop_cmd, check=True, capture_output=True)
        time.sleep(3)
        subprocess.run(start_cmd, check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not statuses or statuses[-1][0] != 201):
            time.sleep(0.2)
        time.sleep(1.5)
        stop.set()
        worker.join(timeout=30)
    finally:
        stop.set()
        server.stop()

    codes = {code for code, _, _ in statuses}
    assert 503 in codes, "the outage was seen"
    assert codes <= {201, 503}, statuses
    assert all(retry == "5" for code, _, retry in statuses if code == 503)
    assert statuses[-1][0] == 201, "the API recovered by itself"
    accepted = {ref for code, ref, _ in statuses if code == 201}
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        stored = {r[0] for r in conn.execute("SELECT external_ref FROM claims")}
    assert accepted <= stored, "every 201 has its claim"


def test_redis_stopped_during_submissions_loses_no_message(tmp_path):
    """Redis stops for a few seconds under load: every claim is accepted, every message sent."""
    from aiosmtpd.controller import Controller

    from tests.integration.test_delivery import SmtpSink, free_port

    redis_port = free_port()
    redis_cmd = [
        "redis-server",
        "--port",
        str(redis_port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    redis_proc = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
    sink = SmtpSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'claims.db'}",
        INSTANCE_DIR=str(tmp_path / "instance"),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        RATE_LIMIT="100000/minute",
        DIGEST_RECIPIENTS="",
    )
    server = None
    try:
        claims_cli(env, "db", "upgrade")
        headers = api_headers(env, "intake")
        server = Server(env).start()
        http = requests.Session()
        http.headers.update(headers)
        assert (
            http.put(
                f"{server.url}/v1/policies/P-DEV", json=POLICIES["P-DEV"], timeout=10
            ).status_code
            == 201
        )
        codes = []
        for n in range(60):
            if n == 20:
                redis_proc.terminate()
                redis_proc.wait(10)
            if n == 40:
                redis_proc = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
                time.sleep(0.5)
            body = claim("P-DEV", amount=f"{100 + n}.00", reported_at="2026-06-12T09:00:00+00:00")
            codes.append(http.post(f"{server.url}/v1/claims", json=body, timeout=15).status_code)
        assert codes == [201] * 60, codes
        claims_cli(env, "scheduler", "--once")  # the relay re-enqueues what Redis missed
        claims_cli(env, "worker", "--burst")
        claims_cli(env, "scheduler", "--once")
        claims_cli(env, "worker", "--burst")
        with sqlite(tmp_path / "claims.db") as conn:
            statuses = dict(
                conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
            )
            per_claim = conn.execute(
                "SELECT count(DISTINCT claim_id) FROM outbox WHERE event = 'acknowledgment'"
                " AND status = 'sent'"
            ).fetchone()[0]
        assert set(statuses) == {"sent"}, statuses  # nothing pending, nothing dead
        assert per_claim == 60  # every claimant acknowledged, across the outage
        ids = [m["Message-ID"] for m in sink.messages]
        assert len(ids) == statuses["sent"] and len(set(ids)) == len(ids)  # each sent once
    finally:
        if server:
            server.stop()
        controller.stop()
        if redis_proc.poll() is None:
            redis_proc.terminate()
            redis_proc.wait(10)


def sqlite(path: Path):
    import contextlib
    import sqlite3

    return contextlib.closing(sqlite3.connect(path))
