"""The bounded load test, short: bench/load.py with 300 claims from 8 clients.

The real server takes the claims, then a real worker delivers every message to an
SMTP sink and a webhook receiver. The script checks (and this test asserts) that
nothing was lost: no 5xx, every 201 has its row and one decision, every message the
claim calls for is in the outbox, every one was sent, once. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, REDIS_URL, ROOT, pg_available

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_concurrent_clients_lose_nothing(database: str, tmp_path: Path) -> None:
    if database == "postgres" and not pg_available():
        pytest.skip("PostgreSQL not reachable")
    report_file = tmp_path / "report.json"
    env = dict(
        os.environ,
        BENCH_LOAD_REDIS_URL=REDIS_URL.rsplit("/", 1)[0]
        + "/"
        + os.environ.get("TEST_LOAD_REDIS_DB", "13"),
        BENCH_PG_URL=PG_ADMIN_URL,
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--claims", "300", "--clients", "8"]
        + ["--database", database, "--json", str(report_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert report_file.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(report_file.read_text())
    assert report["statuses"] == {"201": 300}, report
    failed = [name for name, ok in report["checks"].items() if not ok]
    assert not failed, (failed, report)
    assert report["emails"] == report["email_rows"] > 0
    assert report["webhooks"] == report["webhook_rows"] == 100  # every third claim
    assert done.returncode == 0, done.stdout[-3000:]
