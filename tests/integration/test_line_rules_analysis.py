# ruff: noqa: F811 - the fixtures rules_app and rules_dir come from test_rulesets_api
"""Backtest and shadow runs on line-level rules and fee schedules (issue 16 points 1, 3).

The stored claim, on P-MED (no deductible, limit 5,000): two lines decided by the
shipped ruleset: 99213 90.00 (maximum 90.00) and 85025 25.00 (maximum 25.00), both
paid, payable 115.00.
  candidate A adds a line rule denying 85025 (CO 204): payable 90.00, change -25.00;
  candidate B lowers 99213's fee-schedule maximum to 60.00: payable 85.00 (CO 45 30.00).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from service.rules.engine import load_ruleset
from tests.auth_helpers import key
from tests.conftest import ROOT
from tests.helpers import claim, put_policies
from tests.integration.test_rulesets_api import (  # noqa: F401 - fixtures
    rules_app,
    rules_dir,
)
from tests.integration.test_shadow import shadow_app

pytestmark = pytest.mark.integration

DENY_LAB = """
  - id: LAB_NOT_COVERED
    description: Blood counts are no longer covered
    owner: claims-analytics
    when:
      line.code: "85025"
    then:
      action: reject
      code: LAB_NOT_COVERED
      carc: "204"
      message: Blood counts are not covered.
"""


def store_lined_claim(app: Any) -> str:
    client = app.test_client()
    put_policies(client, ["P-MED"])
    items = [
        {"code": "99213", "amount": "90.00", "description": "visit"},
        {"code": "85025", "amount": "25.00", "description": "lab"},
    ]
    body = claim("P-MED", "medical_reimbursement", "115.00", line_items=items)
    response = client.post("/v1/claims", json=body)
    assert response.status_code == 201, response.get_json()
    decision = response.get_json()["decision"]
    assert decision["payable_amount"] == "115.00"
    return str(response.get_json()["id"])


def run_backtest(app: Any, files: dict[str, str]) -> dict[str, Any]:
    from service.usecases import backtest

    ctx = app.extensions["claims"]
    jobs: list[tuple[str, tuple[Any, ...]]] = []

    def enqueue(func: str, *args: Any, job_id: str) -> None:
        jobs.append((func, args))

    started = backtest.start_backtest(ctx, files, None, None, "ana", enqueue, chunk_size=10)
    for func, args in list(jobs):
        if func != backtest.MERGE_JOB:
            backtest.run_chunk(ctx, *args, enqueue)
    report: dict[str, Any] = backtest.merge(ctx, started["id"])["report"]
    return report


def folder_files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and (p.suffix == ".yaml" or p.parent.name == "fee_schedules")
    }


def test_backtest_of_a_new_line_rule(rules_app: Any, rules_dir: Path) -> None:
    claim_id = store_lined_claim(rules_app)
    lines = rules_dir / "lines.yaml"
    lines.write_text(lines.read_text() + DENY_LAB)
    report = run_backtest(rules_app, folder_files(rules_dir))
    assert report["total"] == 1 and report["changed"] == 1
    assert report["payable_before"] == "115.00" and report["payable_after"] == "90.00"
    (changed,) = report["changed_claims"]
    assert changed["claim_id"] == claim_id


def test_backtest_of_a_fee_schedule_change(rules_app: Any, rules_dir: Path) -> None:
    store_lined_claim(rules_app)
    schedule = rules_dir / "fee_schedules" / "medical.csv"
    text = schedule.read_text()
    assert '99213,"Office visit, established patient",90.00,yes,,' in text
    schedule.write_text(text.replace('patient",90.00,yes', 'patient",60.00,yes'))
    report = run_backtest(rules_app, folder_files(rules_dir))
    assert report["changed"] == 1
    assert report["payable_after"] == "85.00"


def test_fee_schedule_is_part_of_the_ruleset_version(rules_dir: Path) -> None:
    before = load_ruleset(rules_dir)
    assert "fee_schedules/medical.csv" in before.files
    schedule = rules_dir / "fee_schedules" / "medical.csv"
    schedule.write_text(schedule.read_text().replace("90.00,yes", "91.00,yes"))
    assert load_ruleset(rules_dir).version != before.version


def test_shadow_runs_the_challengers_line_rules(db_url: str, tmp_path: Path, clock: Any) -> None:
    challenger = tmp_path / "challenger"
    shutil.copytree(ROOT / "rules", challenger, ignore=shutil.ignore_patterns("tests", "schema"))
    lines = challenger / "lines.yaml"
    lines.write_text(lines.read_text() + DENY_LAB)
    app = shadow_app(db_url, tmp_path, clock, challenger)
    claim_id = store_lined_claim(app)  # live: 115.00, the challenger would pay 90.00
    stored = app.test_client().get(f"/v1/claims/{claim_id}").get_json()
    assert [line["paid"] for line in stored["decision"]["lines"]] == ["90.00", "25.00"]
    report = (
        app.test_client().get("/v1/rulesets/shadow/report", headers=key(app, "analyst")).get_json()
    )
    assert report["disagreements"] == 1
    (recent,) = report["recent_disagreements"]
    assert (recent["active_payable"], recent["shadow_payable"]) == ("115.00", "90.00")
