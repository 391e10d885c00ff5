"""The supervisors' desk in Chromium: a queue of 2,000 claims paged and searched, the
decide form (outcome first, values kept after an error, with and without script), the
claim file and the operations chart; axe-core on every console page (no serious or
critical violation) and the security headers of every console response."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.auth_helpers import user
from tests.e2e.browser import axe, login, shot
from tests.helpers import claim, put_policies
from tests.queue_helpers import bulk_escalated, decided_claims

pytestmark = pytest.mark.e2e


def rows(page):
    return page.locator("tbody tr[data-claim]")


def no_serious_violations(page, what: str) -> None:
    found = axe(page)
    assert not found, f"axe on {what}: {found}"


def test_a_queue_of_two_thousand_pages_and_searches(app, clock, server, page, watch):
    ctx = app.extensions["claims"]
    bulk_escalated(ctx, 2000, clock.now())
    bulk_escalated(ctx, 5, clock.now() - timedelta(hours=40), start=2000)  # due soon
    bulk_escalated(ctx, 5, clock.now() - timedelta(hours=50), start=2005)  # overdue
    user(app, "sue", "supervisor")
    login(page, server, "sue")
    page.wait_for_url(re.compile(r"/console/queue"))
    assert rows(page).count() == 50
    assert "50 shown of 2010" in page.locator(".pager").inner_text()
    first_page = rows(page).first.get_attribute("data-claim")
    no_serious_violations(page, "the queue")

    page.get_by_label("Per page").select_option("200")
    page.get_by_label("Sort by").select_option("-amount")
    page.get_by_role("button", name="Apply").click()
    assert rows(page).count() == 200
    assert "Q-02009" in rows(page).first.inner_text()  # the largest amount leads
    page.get_by_role("link", name="Next page").click()
    assert rows(page).count() == 200
    assert "Q-01809" in rows(page).first.inner_text()
    assert page.get_by_label("Sort by").input_value() == "-amount"  # filters kept
    page.get_by_role("link", name="First page").click()
    assert "Q-02009" in rows(page).first.inner_text()

    page.get_by_label("Search").fill("q-01234")
    page.get_by_role("button", name="Apply").click()
    assert rows(page).count() == 1 and "Q-01234" in rows(page).first.inner_text()
    page.get_by_label("Search").fill("Dora Novak 3")
    page.get_by_label("Reason").select_option("AMOUNT_ABOVE_THRESHOLD")
    page.get_by_role("button", name="Apply").click()
    names = rows(page).locator("td:nth-child(3)").all_inner_texts()
    assert names and all(n.startswith("Dora Novak 3") for n in names)
    shot(page, "queue-search.png")

    page.get_by_label("Search").fill("nobody by this name")
    page.get_by_role("button", name="Apply").click()
    assert "No claims match these filters" in page.get_by_role("status").inner_text()
    no_serious_violations(page, "the queue without matches")
    page.get_by_role("link", name="Clear filters").first.click()
    assert rows(page).first.get_attribute("data-claim") == first_page
    assert page.locator("tr.overdue").count() == 5  # earliest deadline first
    assert page.locator("tr.due-soon").count() == 5
    first = rows(page).first.inner_text().lower()
    assert "overdue by 2 h" in first  # counted on the server's clock (a fixed one here)
    shot(page, "queue.png", docs=True)
    watch.check()


def escalated_claim(client):
    put_policies(client, ["P-DEV"])
    document = client.post("/v1/claims", json=claim(date_of_loss="2026-04-01")).get_json()
    assert document["decision"]["outcome"] == "escalated"
    return document


def test_decide_outcome_first_keeps_values_after_an_error(
    app, client, server, page, browser_context, watch
):
    document = escalated_claim(client)
    claim_id, ref = document["id"], document["external_ref"]
    user(app, "sue", "supervisor")
    login(page, server, "sue")
    page.goto(f"{server}/console/claims/{claim_id}")
    amount = page.get_by_label("Amount to pay")
    assert not amount.is_visible() and not page.get_by_label("Note (required)").is_visible()
    assert not page.get_by_role("button", name="Show the fields for this outcome").is_visible()
    page.get_by_label("Approve").check()
    assert amount.is_visible() and amount.input_value() == ""
    assert "at most 250.00" in page.locator("#amount-hint").inner_text()
    assert not page.get_by_label("Documents to request").is_visible()
    no_serious_violations(page, "the claim page")

    amount.fill("999.00")
    page.get_by_label("Note (required)").fill("Checked the receipt\nwith the shop")
    page.get_by_role("button", name="Record decision").click()
    assert "check the fields" in page.get_by_role("alert").inner_text()
    assert "above what the coverage allows" in page.locator("#amount-error").inner_text()
    assert page.get_by_label("Approve").is_checked()
    assert page.get_by_label("Amount to pay").input_value() == "999.00"
    assert (
        page.get_by_label("Note (required)").input_value() == "Checked the receipt\nwith the shop"
    )
    assert page.get_by_label("Amount to pay").get_attribute("aria-invalid") == "true"
    no_serious_violations(page, "the refused decide form")
    shot(page, "decide-error.png", docs=True, element="#decide")

    # switching outcome keeps what was typed in the others
    page.get_by_label("Reject").check()
    assert page.get_by_label(re.compile("Reason codes")).is_visible()
    assert not page.get_by_label("Amount to pay").is_visible()
    page.get_by_label("Approve").check()
    page.get_by_label("Amount to pay").fill("200.00")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_url(re.compile(r"/console/queue"))
    flash = page.locator(".flash").inner_text()
    assert f"Claim {ref} (Sam Claimant): approved, 200.00" in flash and claim_id not in flash
    watch.check()

    # without script: choose, then ask the server for the fields
    other = client.post("/v1/claims", json=claim(date_of_loss="2026-04-02", amount="310.00"))
    plain = browser_context.new_context(java_script_enabled=False)
    tab = plain.new_page()
    login(tab, server, "sue")
    tab.goto(f"{server}/console/claims/{other.get_json()['id']}")
    assert not tab.get_by_label("Amount to pay").is_visible()
    tab.get_by_label("Request documents").check()
    tab.get_by_role("button", name="Show the fields for this outcome").click()
    assert tab.get_by_label("Documents to request").is_visible()
    assert not tab.get_by_label("Amount to pay").is_visible()
    tab.get_by_label("Documents to request").fill("Receipt!")
    tab.get_by_label("Note (required)").fill("Need it")
    tab.get_by_role("button", name="Record decision").click()
    assert tab.locator("#documents-error").is_visible()
    assert tab.get_by_label("Documents to request").input_value() == "Receipt!"
    plain.close()


def test_claim_file_operations_chart_and_axe_on_every_page(
    app, client, clock, server, page, watch, browser_context
):
    ctx = app.extensions["claims"]
    put_policies(client, ["P-LAPSED"])
    rejected = client.post("/v1/claims", json=claim("P-LAPSED")).get_json()
    client.post(
        f"/v1/claims/{rejected['id']}/appeal",
        json={"reason": "My premium was paid on time; the bank statement shows it."},
    )
    rules, person = [("approved", "rules")], [("escalated", "rules"), ("rejected", "sue")]
    for days_ago in range(1, 6):
        when = clock.now() - timedelta(days=days_ago)
        decided_claims(ctx, [rules] * 4 + [person] * 2, when)
    user(app, "ada", "admin")
    login(page, server, "ada")

    page.goto(f"{server}/console/claims/{rejected['id']}")
    appeals = page.locator("#appeals")
    assert "My premium was paid on time" in appeals.inner_text()
    assert "answer due" in appeals.inner_text()
    assert page.locator("#h-facts").is_visible()
    no_serious_violations(page, "a claim file")
    shot(page, "claim.png", docs=True)
    page.get_by_role("link", name="Access log").click()
    assert "ada" in page.locator("tbody, table").first.inner_text()
    no_serious_violations(page, "the access log")

    page.goto(f"{server}/console/operations")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('decisions-chart'))"
    )
    legend = page.evaluate(
        "() => Chart.getChart(document.getElementById('decisions-chart'))"
        ".data.datasets.map(d => d.label)"
    )
    assert {"approved", "rejected", "escalated"} <= set(legend)
    no_serious_violations(page, "the operations page")
    shot(page, "operations.png", docs=True)

    for path in ("/console/analyst", "/console/messages", "/console/queue"):
        page.goto(f"{server}{path}")
        no_serious_violations(page, path)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/console/login"))
    no_serious_violations(page, "the login page")
    watch.check()

    # a viewer in Tokyo: from the second page on, times in the browser's zone
    tokyo = browser_context.new_context(timezone_id="Asia/Tokyo")
    tab = tokyo.new_page()
    login(tab, server, "ada")
    tab.wait_for_url(re.compile(r"/console/queue"))  # its script keeps the browser's zone
    tab.wait_for_load_state()
    tab.goto(f"{server}/console/claims/{rejected['id']}")
    assert "2026-06-15 18:00 JST" in tab.locator("#h-received + dl").inner_text()
    assert tab.get_by_label("Times in").input_value() == "Asia/Tokyo"
    tokyo.close()


def test_answer_an_appeal_uphold_or_overturn(app, client, server, page, watch):
    from tests.auth_helpers import key

    document = escalated_claim(client)
    claim_id, ref = document["id"], document["external_ref"]
    sup = key(app, "supervisor", "sam")
    tag = client.get(f"/v1/claims/{claim_id}", headers=sup).headers["ETag"]
    decided = client.post(
        f"/v1/claims/{claim_id}/decision",
        json={"outcome": "approve", "amount": "200.00", "note": "ok"},
        headers=sup | {"If-Match": tag},
    )
    assert decided.status_code == 200
    reason = {"reason": "The case was broken too; see the photo."}
    assert client.post(f"/v1/claims/{claim_id}/appeal", json=reason).status_code == 201
    user(app, "sue", "supervisor")
    login(page, server, "sue")
    page.goto(f"{server}/console/claims/{claim_id}")
    assert page.get_by_role("heading", name="Answer the appeal").is_visible()
    assert page.get_by_label("Approve", exact=True).count() == 0
    page.get_by_label(re.compile("Overturn: approve")).check()
    amount = page.get_by_label("New amount to pay")
    assert amount.is_visible() and amount.input_value() == ""
    hint = page.locator("#amount-hint").inner_text()
    assert "at most 250.00" in hint and "above the 200.00" in hint
    amount.fill("150.00")
    page.get_by_label("Note (required)").fill("The photo shows the case")
    page.get_by_role("button", name="Record decision").click()
    assert "already approved" in page.locator("#amount-error").inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"  # focus on the errors
    assert page.get_by_label(re.compile("Overturn: approve")).is_checked()
    assert page.get_by_label("New amount to pay").input_value() == "150.00"
    no_serious_violations(page, "the refused appeal answer")
    page.get_by_label("New amount to pay").fill("250.00")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_url(re.compile(r"/console/queue"))
    flash = page.locator(".flash").inner_text()
    assert f"Claim {ref} (Sam Claimant): appeal overturned, 250.00" in flash
    watch.check()
