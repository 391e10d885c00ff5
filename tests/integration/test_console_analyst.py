"""The analysts' console page: active ruleset, reload error, rules, latest backtest report."""

from __future__ import annotations

import re

import pytest

from service.db.tables import BacktestRow
from tests.auth_helpers import PASSWORD, user

pytestmark = pytest.mark.integration


def login(client, username):
    client.default_auth = False
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"username": username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/console/login", data=form).status_code == 302


def test_analyst_page_shows_the_latest_backtest(app, client, context, clock):
    user(app, "ana", "analyst")
    login(client, "ana")
    page = client.get("/console/analyst").get_data(as_text=True)
    assert "No backtest yet" in page
    assert re.search(r"<title>[^<]*</title>", page), "the page title is plain text"
    assert page.count("Latest backtest") == 1
    assert context.engine.ruleset.version[:16] in page
    report = {
        "total": 40,
        "changed": 3,
        "unchanged": 37,
        "errors": 0,
        "transitions": {"approved": {"approved": 37, "escalated": 3}},
        "payable_before": "1200.00",
        "payable_after": "900.00",
        "payable_change": "-300.00",
        "changed_claims": [],
        "changed_claims_listed": 0,
        "error_claims": [],
    }
    with context.unit_of_work() as session:
        session.add(
            BacktestRow(
                id="bt-1",
                status="done",
                params={},
                candidate_version="c" * 64,
                candidate_files={},
                chunks_total=1,
                chunks_done=1,
                report=report,
                created_at=clock.now(),
                finished_at=clock.now(),
            )
        )
        session.commit()
    page = client.get("/console/analyst").get_data(as_text=True)
    assert "Decisions that change" in page
    assert "1200.00 → 900.00 (-300.00)" in page
    assert re.search(r"<td>approved</td><td>escalated</td><td>3</td>", page)


def test_analyst_page_lists_cli_and_api_backtests_and_links_changed_claims(
    app, client, context, clock
):
    user(app, "ana", "analyst")
    login(client, "ana")
    changed = {
        "decision_id": 7,
        "claim_id": "4a2c0c2e-0000-4000-8000-000000000001",
        "claim_ref": "EXT-42",
        "change": "reasons",
        "old_outcome": "approved",
        "new_outcome": "approved",
        "old_payable": "100.00",
        "new_payable": "100.00",
    }
    report = {
        "total": 10,
        "changed": 3,
        "outcome_changes": 2,
        "reason_changes": 1,
        "transitions": {},
        "payable_before": "0.00",
        "payable_after": "0.00",
        "payable_change": "0.00",
        "changed_claims": [changed],
        "changed_claims_listed": 1,
        "error_claims": [],
    }
    with context.unit_of_work() as session:
        for backtest_id, source in (("bt-api", "api"), ("bt-cli", "cli")):
            session.add(
                BacktestRow(
                    id=backtest_id,
                    status="done",
                    params={"source": source},
                    candidate_version=backtest_id[-3:] * 20,
                    candidate_files={},
                    chunks_total=1,
                    chunks_done=1,
                    report=report,
                    created_at=clock.now(),
                    finished_at=clock.now(),
                )
            )
        session.commit()
    page = client.get("/console/analyst").get_data(as_text=True)
    assert "3: 2 in outcome or amount, 1 in reasons only" in page
    assert f'<a href="/console/claims/{changed["claim_id"]}">EXT-42</a>' in page
    assert "<td>CLI</td>" in page and "<td>API</td>" in page
    assert "(the first 1)" in page  # 3 changed, 1 listed
