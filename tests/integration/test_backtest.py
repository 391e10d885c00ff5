# ruff: noqa: F811 - the fixtures rules_app and rules_dir come from test_rulesets_api
"""Backtest: a hand-computed case, zero claims, the CLI, and chunks through a real RQ worker.

The case: four claims decided by the shipped rules, then a candidate that lowers
the device auto-approval threshold from 1,000 to 200.
  A  P-DEV 300.00 -> payable 250.00 approved; candidate: 250 > 200 -> escalated (changed)
  B  P-DEV 200.00 -> payable 150.00 approved; candidate: approved (same)
  C  P-DEV  30.00 -> under the deductible, rejected 0.00 (same)
  D  P-MED 1200.50 medical, approved 1200.50 (same: not a device claim)
Payable before 1600.50, after 1350.50 (escalated pays nothing yet): change -250.00.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import key
from tests.conftest import REDIS_URL
from tests.helpers import claim, put_policies
from tests.integration.test_rulesets_api import (  # noqa: F401 - fixtures
    raise_device_threshold,
    rules_app,  # noqa: F811
    rules_dir,  # noqa: F811
)

pytestmark = pytest.mark.integration

EXPECTED = {
    "total": 4,
    "changed": 1,
    "errors": 0,
    "transitions": {"approved": {"approved": 2, "escalated": 1}, "rejected": {"rejected": 1}},
    "payable_before": "1600.50",
    "payable_after": "1350.50",
    "payable_change": "-250.00",
}


def store_case(app: Any) -> str:
    client = app.test_client()
    put_policies(client, ["P-DEV", "P-MED"])
    ids = {}
    for name, body in (
        ("A", claim(amount="300")),
        ("B", claim(amount="200")),
        ("C", claim(amount="30")),
        ("D", claim("P-MED", "medical_reimbursement", "1200.50")),
    ):
        response = client.post("/v1/claims", json=body)
        assert response.status_code == 201, response.get_json()
        ids[name] = response.get_json()["id"]
    return ids["A"]


def candidate_files(rules_dir: Path) -> dict[str, str]:
    raise_device_threshold(rules_dir)
    return {p.name: p.read_text() for p in sorted(rules_dir.glob("*.yaml"))}


def check(report: dict[str, Any], changed_id: str) -> None:
    assert {k: report[k] for k in EXPECTED} == EXPECTED
    (changed,) = report["changed_claims"]
    assert changed["claim_id"] == changed_id
    assert changed["claim_ref"].startswith("EXT-") and changed["change"] == "outcome"
    assert (report["outcome_changes"], report["reason_changes"]) == (1, 0)
    assert (changed["old_outcome"], changed["new_outcome"]) == ("approved", "escalated")
    assert (changed["old_payable"], changed["new_payable"]) == ("250.00", None)
    assert "AMOUNT_ABOVE_THRESHOLD" in changed["new_reasons"]
    assert "AMOUNT_ABOVE_THRESHOLD" not in changed["old_reasons"]


def test_in_process_chunks_match_the_hand_computed_case(rules_app: Any, rules_dir: Path) -> None:
    from service.usecases import backtest

    changed_id = store_case(rules_app)
    ctx = rules_app.extensions["claims"]
    jobs: list[tuple[str, tuple[Any, ...], str]] = []

    def enqueue(func: str, *args: Any, job_id: str) -> None:
        jobs.append((func, args, job_id))

    started = backtest.start_backtest(
        ctx, candidate_files(rules_dir), None, None, "ana", enqueue, chunk_size=1
    )
    assert started["status"] == "running" and started["chunks_total"] == 4
    for _func, args, _ in list(jobs):
        backtest.run_chunk(ctx, *args, enqueue)
    backtest.run_chunk(ctx, started["id"], 2, enqueue)  # a chunk that runs twice counts once
    merges = [j for j in jobs if j[0] == backtest.MERGE_JOB]
    assert merges and all(j[2] == f"backtest-{started['id']}-merge" for j in merges)
    backtest.merge(ctx, started["id"])
    done = backtest.merge(ctx, started["id"])  # and the merge can run again
    assert done["status"] == "done" and done["chunks_done"] == 4
    check(done["report"], changed_id)


def test_date_of_loss_range_and_zero_claims(rules_app: Any, rules_dir: Path) -> None:
    from service.db import analysis

    store_case(rules_app)
    ctx = rules_app.extensions["claims"]
    with ctx.unit_of_work() as session:
        assert analysis.count_replayable(session, None, None) == 4
        assert analysis.count_replayable(session, date(2026, 6, 11), None) == 0
        assert analysis.count_replayable(session, None, date(2026, 6, 10)) == 4
    analyst = key(rules_app, "analyst")
    response = rules_app.test_client().post(
        "/v1/rulesets/backtest",
        headers=analyst,
        json={"files": candidate_files(rules_dir), "since": "2027-01-01"},
    )
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "done" and body["report"]["total"] == 0
    assert body["message"] == "no stored claims in that range"


def test_broken_candidate_is_422_with_file_line(rules_app: Any) -> None:
    response = rules_app.test_client().post(
        "/v1/rulesets/backtest",
        headers=key(rules_app, "analyst"),
        json={"files": {"amounts.yaml": "rules:\n  - id: X\n    when: {claim.amuont: 3}\n"}},
    )
    assert response.status_code == 422
    assert any(p.startswith("amounts.yaml:") for p in response.get_json()["problems"])
    bad_name = rules_app.test_client().post(
        "/v1/rulesets/backtest",
        headers=key(rules_app, "analyst"),
        json={"files": {"../etc/passwd.yaml": "rules: []"}},
    )
    assert bad_name.status_code == 422
    forbidden = rules_app.test_client().post(
        "/v1/rulesets/backtest", headers=key(rules_app, "supervisor"), json={"files": {}}
    )
    assert forbidden.status_code == 403


def test_cli_table_csv_json_and_zero_claims(
    rules_app: Any, rules_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from service.rulesets_cli import rules as rules_cli

    monkeypatch.setenv("DATABASE_URL", rules_app.extensions["claims"].config.database_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "instance"))
    changed_id = store_case(rules_app)
    candidate_files(rules_dir)
    runner = CliRunner()
    out = tmp_path / "report.json"
    result = runner.invoke(
        rules_cli, ["backtest", str(rules_dir), "--format", "json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    check(json.loads(out.read_text()), changed_id)
    table = runner.invoke(rules_cli, ["backtest", str(rules_dir)])
    assert "decisions changed          1" in table.output
    assert "approved -> escalated" in table.output
    csv_out = runner.invoke(rules_cli, ["backtest", str(rules_dir), "--format", "csv"])
    rows = [line for line in csv_out.output.splitlines() if "," in line]
    assert rows[0].startswith("claim_id,old_outcome,new_outcome")
    assert rows[1].startswith(f"{changed_id},approved,escalated,250.00,")
    none = runner.invoke(rules_cli, ["backtest", str(rules_dir), "--since", "2030-01-01"])
    assert none.exit_code == 0 and "no stored claims in that range" in none.output
    from service.usecases.backtest import list_backtests

    stored = list_backtests(rules_app.extensions["claims"])
    assert [b["source"] for b in stored] == ["cli", "cli", "cli"]  # json, table, csv runs
    assert {(b["changed"], b["outcome_changes"], b["reason_changes"]) for b in stored} == {
        (1, 1, 0)
    }
    from tests.auth_helpers import key

    listed = rules_app.test_client().get(
        "/v1/rulesets/backtests", headers=key(rules_app, "analyst", "ana")
    )
    assert listed.status_code == 200 and len(listed.get_json()["items"]) == 3


@pytest.fixture
def redis_queue() -> Any:
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown

    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisDown:
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    name = f"test-backtest-{uuid.uuid4().hex[:8]}"
    yield connection, name
    from rq import Queue
    from rq.serializers import JSONSerializer

    queue = Queue(name, connection=connection, serializer=JSONSerializer)
    for registry in (queue.finished_job_registry, queue.failed_job_registry):
        for job_id in registry.get_job_ids():
            connection.delete(f"rq:job:{job_id}")
    queue.delete(delete_jobs=True)
    for registry_key in connection.scan_iter(f"rq:*:{name}*"):
        connection.delete(registry_key)


def test_chunks_through_a_real_rq_worker_equal_the_in_process_result(
    rules_app: Any,
    rules_dir: Path,
    redis_queue: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from service.adapters.queue import get_queue

    connection, name = redis_queue
    changed_id = store_case(rules_app)
    config = rules_app.extensions["claims"].config
    for var in ("DATABASE_URL", "REDIS_URL", "RULES_DIR", "INSTANCE_DIR"):
        monkeypatch.setenv(var, str(getattr(config, var.lower())))
    monkeypatch.setenv("LOG_FORMAT", "text")
    rules_app.config.update(BACKTEST_QUEUE=name, BACKTEST_CHUNK_SIZE=2)
    client = rules_app.test_client()
    analyst = key(rules_app, "analyst")
    response = client.post(
        "/v1/rulesets/backtest", headers=analyst, json={"files": candidate_files(rules_dir)}
    )
    assert response.status_code == 202, response.get_json()
    started = response.get_json()
    assert started["chunks_total"] == 2 and started["status"] == "running"
    assert response.headers["Location"] == f"/v1/rulesets/backtest/{started['id']}"

    worker = SimpleWorker(
        [get_queue(connection, name)], connection=connection, serializer=JSONSerializer
    )
    worker.work(burst=True)
    body = client.get(f"/v1/rulesets/backtest/{started['id']}", headers=analyst).get_json()
    assert body["status"] == "done", body
    assert body["chunks_done"] == 2
    check(body["report"], changed_id)
