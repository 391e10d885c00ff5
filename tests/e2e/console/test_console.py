"""The console in a real browser: Debian's Chromium driven by Playwright, a real server thread.

Without /usr/bin/chromium these tests skip locally and FAIL in CI (env CI set).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from service.db.tables import OutboxRow
from tests.auth_helpers import user
from tests.e2e.browser import CHROMIUM, SHOTS, login
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.e2e


def test_supervisor_decides_an_escalated_claim(app, client, server, page, watch):
    put_policies(client, ["P-DEV"])
    escalated = client.post("/v1/claims", json=claim(date_of_loss="2026-04-01")).get_json()
    assert escalated["decision"]["outcome"] == "escalated"
    claim_id, ref = escalated["id"], escalated["external_ref"]
    user(app, "sue", "supervisor")

    login(page, server, "sue")
    page.wait_for_url(re.compile(r"/console/queue"))
    row = page.locator(f"tr[data-claim='{claim_id}']")
    assert row.is_visible()
    assert "LATE_REPORTING" in row.inner_text()
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)

    page.get_by_role("link", name=ref).click()
    page.wait_for_url(re.compile(rf"/console/claims/{claim_id}"))
    page.get_by_role("button", name="Assign to me").click()
    page.wait_for_url(re.compile(rf"/console/claims/{claim_id}"))
    assert "sue" in page.locator("dd").all_inner_texts()
    page.screenshot(path=str(SHOTS / "claim.png"), full_page=True)

    page.get_by_label("Approve").check()
    page.get_by_label(re.compile("Amount to pay")).fill("999.00")
    page.get_by_label("Note (required)").fill("Too much")
    page.get_by_role("button", name="Record decision").click()
    assert "above what the coverage allows" in page.locator("#amount-error").inner_text()

    page.get_by_label(re.compile("Amount to pay")).fill("200.00")
    page.get_by_label("Note (required)").fill("Receipt checked by phone")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_url(re.compile(r"/console/queue"))
    assert f"Claim {ref} (Sam Claimant): approved" in page.locator(".flash").inner_text()
    assert page.locator(f"tr[data-claim='{claim_id}']").count() == 0

    with app.extensions["claims"].unit_of_work() as session:
        events = session.scalars(
            select(OutboxRow.event).where(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id)
        ).all()
    assert events[-1] == "decision_after_review"

    page.goto(f"{server}/console/analyst")
    assert page.get_by_role("heading", name="Active ruleset").is_visible()
    page.screenshot(path=str(SHOTS / "analyst.png"), full_page=True)
    page.goto(f"{server}/console/operations")
    assert page.locator("canvas#decisions-chart").is_visible()
    page.screenshot(path=str(SHOTS / "operations.png"), full_page=True)
    watch.check()  # headers on every console response, no CSP complaint


def test_user_without_the_supervisor_role_is_refused(app, server, page):
    user(app, "fin", "finance")
    login(page, server, "fin")
    page.wait_for_url(re.compile(r"/console/operations"))
    response = page.goto(f"{server}/console/queue")
    assert response.status == 403
    assert "may not do this" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(SHOTS / "refused.png"))


def test_wrong_password_stays_on_login(app, server, page):
    user(app, "sue", "supervisor")
    page.goto(f"{server}/console/queue")
    page.wait_for_url(re.compile(r"/console/login"))
    page.get_by_label("Username").fill("sue")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert "Wrong username or password" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(SHOTS / "login.png"))


def test_chromium_is_where_the_tests_expect_it():
    if not shutil.which("chromium") and not os.environ.get("CI"):
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    assert Path(CHROMIUM).exists()
