"""backtest (plan, chunks, merge) and shadow, with an in-memory job queue."""

from __future__ import annotations

import pytest

from service.rules.loader import rule_files
from service.rules.manager import RulesetManager
from service.usecases import backtest, manage_policies
from service.usecases.shadow import shadow_report
from service.usecases.submit_claim import submit_claim
from tests.fakes import ROOT
from tests.unit.usecases.test_intake import POLICY, body

pytestmark = pytest.mark.unit


def shipped_rules() -> dict[str, str]:
    folder = ROOT / "rules"
    return {p.relative_to(folder).as_posix(): p.read_text() for p in rule_files(folder)}


def test_backtest_in_chunks_equals_the_history(ctx):
    manage_policies.put_policy(ctx, POLICY)
    for n in range(3):
        submit_claim(ctx, body(external_ref=f"E{n}"), client_id="c")
    jobs = []

    def enqueue(func, *args, job_id):
        jobs.append((func, args))

    started = backtest.start_backtest(ctx, shipped_rules(), None, None, "ana", enqueue, 2)
    assert started["chunks_total"] == 2 and len(jobs) == 2
    for _, (backtest_id, chunk_no) in list(jobs):
        backtest.run_chunk(ctx, backtest_id, chunk_no, enqueue)
    assert jobs[-1][0] == backtest.MERGE_JOB
    done = backtest.merge(ctx, started["id"])
    assert done["status"] == "done"
    assert (done["report"]["total"], done["report"]["changed"]) == (3, 0)
    assert backtest.latest_backtest(ctx)["id"] == started["id"]


def test_shadow_decides_beside_the_live_rules(ctx):
    ctx.shadow = RulesetManager(ROOT / "rules", 0)
    manage_policies.put_policy(ctx, POLICY)
    submit_claim(ctx, body(), client_id="c")
    report = shadow_report(ctx)
    assert (report["evaluated"], report["disagreements"]) == (1, 0)
    assert report["transitions"] == {"approved": {"approved": 1}}
