"""The supervisors' desk pages served by Flask (the browser tests drive the same pages)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.auth_helpers import key, user
from tests.helpers import claim, put_policies
from tests.queue_helpers import add_open_appeal, bulk_escalated, decided_claims

pytestmark = pytest.mark.integration


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def sup(app):
    return key(app, "supervisor", "sue")


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-claim="([^"]+)"', html)


def test_queue_pages_with_a_chosen_size_and_keeps_filters_in_the_next_link(app, client, clock, sup):
    bulk_escalated(app.extensions["claims"], 120, clock.now())
    page = client.get("/console/queue?size=25&reason=LATE_REPORTING&sort=-amount", headers=sup)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and len(rows(html)) == 25
    assert "25 shown of 60" in html
    assert '<option value="LATE_REPORTING" selected>' in html  # a select, not free text
    following = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "reason=LATE_REPORTING" in following and "sort=-amount" in following
    second = client.get(following, headers=sup).get_data(as_text=True)
    assert len(rows(second)) == 25 and not set(rows(second)) & set(rows(html))
    assert "First page" in second


def test_no_match_is_not_nothing_waiting(app, client, clock, sup):
    empty = client.get("/console/queue", headers=sup).get_data(as_text=True)
    assert "Nothing waiting" in empty and "No claims match" not in empty
    bulk_escalated(app.extensions["claims"], 3, clock.now())
    none = client.get("/console/queue?q=nobody-by-this-name", headers=sup).get_data(as_text=True)
    assert "No claims match these filters" in none and "Nothing waiting" not in none


def test_unknown_reason_size_or_cursor_is_a_400_page(app, client, sup):
    for query in ("reason=MADE_UP", "size=7", "sort=colour", "cursor=xyz"):
        response = client.get(f"/console/queue?{query}", headers=sup)
        assert response.status_code == 400, query
        assert 'role="alert"' in response.get_data(as_text=True)


def test_due_soon_and_appeal_rows(app, client, clock, sup):
    ctx = app.extensions["claims"]
    made = bulk_escalated(ctx, 2, clock.now(), sla_hours=10)
    add_open_appeal(
        ctx, made[1]["id"], "The repair shop invoice was attached on day one", clock.now()
    )
    clock.advance(hours=8, minutes=30)
    html = client.get("/console/queue", headers=sup).get_data(as_text=True)
    assert 'class="due-soon" data-claim="{}"'.format(made[0]["id"]) in html
    assert "Due soon" in html
    assert "The repair shop invoice was attached on day one" in html
    appeal_row = html[html.index(made[1]["id"]) :].split("</tr>")[0]
    assert "LATE_REPORTING" not in appeal_row and "AMOUNT_ABOVE_THRESHOLD" not in appeal_row


# --- the claim page and the decide form -------------------------------------------


def escalated(client):
    put_policies(client, ["P-DEV"])
    document = client.post("/v1/claims", json=claim(date_of_loss="2026-04-01")).get_json()
    assert document["decision"]["outcome"] == "escalated"
    return document


def form_of(html: str) -> dict[str, str]:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    seen = re.search(r'name="seen" value="(\d+)"', html).group(1)
    return {"csrf_token": token, "version": version, "seen": seen}


def browser(app):
    from tests.integration.test_sessions import login

    user(app, "sue", "supervisor")
    return login(app, "sue")


def test_outcome_first_amount_empty_with_at_most_beside_it(app, client):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert 'data-outcome="approve" hidden disabled' in html  # no outcome chosen: no fields
    chosen = sue.get(f"/console/claims/{claim_id}?outcome=approve").get_data(as_text=True)
    assert 'data-outcome="approve" hidden' not in chosen
    assert 'data-outcome="reject" hidden disabled' in chosen
    amount = re.search(r'<input id="amount"[^>]*>', chosen).group(0)
    assert 'value=""' in amount  # never pre-filled
    assert re.search(r"at most 250.00 [A-Z]{3}<", chosen)


def test_refused_form_keeps_every_value_with_the_error_by_its_field(app, client):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    long_note = "n" * 5001
    refused = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "999.00", "note": long_note},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="note-error"' in page  # the API's limit, 5000 characters
    assert long_note in page and 'value="999.00"' in page

    above = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "999.00", "note": "Checked"},
    )
    page = above.get_data(as_text=True)
    assert above.status_code == 422
    error = re.search(r'<p class="field-error" id="amount-error">([^<]+)</p>', page).group(1)
    assert "above what the coverage allows" in error
    assert 'value="999.00"' in page and ">Checked</textarea>" in page

    documents = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={
            **form_of(html),
            "outcome": "request_info",
            "documents": "Receipt!, photos",
            "note": "Need them",
        },
    )
    page = documents.get_data(as_text=True)
    assert documents.status_code == 422 and 'id="documents-error"' in page
    assert 'value="Receipt!, photos"' in page
    too_many = ", ".join(f"doc_{i}" for i in range(21))
    many = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "request_info", "documents": too_many, "note": "x"},
    )
    assert many.status_code == 422 and 'id="documents-error"' in many.get_data(as_text=True)

    rejected = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={
            **form_of(html),
            "outcome": "reject",
            "note": "Late",
            "reason_codes": ["carc_29", "FILING_LIMIT_EXPIRED"],
        },
    )
    page = rejected.get_data(as_text=True)
    assert rejected.status_code == 200 or rejected.status_code == 302, page[:500]


def test_stale_form_keeps_the_values_and_says_what_changed(app, client):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    sam = key(app, "supervisor", "sam")
    assert client.post(f"/v1/escalations/{claim_id}/assign", headers=sam).status_code == 200
    stale = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "120.00", "note": "Phoned"},
    )
    page = stale.get_data(as_text=True)
    assert stale.status_code == 412
    assert "What changed since you opened the form" in page
    changed = page[
        page.index("What changed") : page.index("</section>", page.index("What changed"))
    ]
    assert "sam" in changed and "assigned (assignee: sam)" in changed
    assert "claim.assigned" not in changed and "{" not in changed and "[" not in changed
    assert 'value="120.00"' in page and ">Phoned</textarea>" in page
    again = sue.post(  # the page carries the claim's new version: checked, sent again
        f"/console/claims/{claim_id}/decide",
        data={**form_of(page), "outcome": "approve", "amount": "120.00", "note": "Phoned"},
    )
    assert again.status_code == 302


def test_confirmation_names_reference_and_claimant(app, client):
    document = escalated(client)
    claim_id = document["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    done = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "200.00", "note": "Fine"},
        follow_redirects=True,
    )
    page = done.get_data(as_text=True)
    name = document["claimant"]["name"]
    currency = document["currency"]
    assert f"Claim {document['external_ref']} ({name}): approved, 200.00 {currency} to pay." in page
    assert claim_id not in page.split('role="status"')[1].split("</p>")[0]


# --- the claim page as a claim file -----------------------------------------------


def test_claim_file_times_facts_documents_other_claims_and_access_log(app, client, clock):
    document = escalated(client)
    claim_id = document["id"]
    other = client.post("/v1/claims", json=claim(amount="120.00")).get_json()
    sue = browser(app)
    sue.get(f"/console/claims/{claim_id}")  # a page view: to the access log, not the history
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)

    # facts as a table with units and currencies, never a Python repr
    facts = html[html.index('id="h-facts"') :]
    currency = document["currency"]
    assert re.search(rf"<code>claim.amount</code></th><td>300.00 {currency}</td>", facts)
    assert re.search(r"<code>days_to_report</code></th><td>\d+ days</td>", facts)
    assert "<code>policy_in_force</code></th><td>yes</td>" in facts
    assert "{'" not in facts and "Decimal(" not in facts and "True<" not in facts

    # history without page views; the access log has them
    history = html[html.index('id="h-history"') :]
    assert (
        "claim.viewed" not in history and "(1 page view," in history
    )  # this one is logged after it
    log = sue.get(f"/console/claims/{claim_id}/access").get_data(as_text=True)
    assert log.count("<td>sue</td>") == 2

    # the other claim on the same policy, linked
    assert f'href="/console/claims/{other["id"]}"' in html

    # times in the viewer's zone, to the minute
    reported = clock.now()
    assert reported.strftime("%Y-%m-%d %H:%M UTC") in html  # DEFAULT_TIME_ZONE
    page = sue.get(f"/console/claims/{claim_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    sue.post(
        "/console/timezone",
        data={"tz": "Asia/Tokyo", "csrf_token": token, "next": f"/console/claims/{claim_id}"},
    )
    tokyo = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert "2026-06-15 18:00 JST" in tokyo  # 09:00 UTC
    bad = sue.post("/console/timezone", data={"tz": "Mars/Olympus", "csrf_token": token})
    assert bad.status_code == 400


def test_documents_a_supervisor_asked_for_and_the_appeal_above_the_history(app, client, clock):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    asked = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={
            **form_of(html),
            "outcome": "request_info",
            "documents": "repair_quote",
            "note": "Need the quote",
        },
    )
    assert asked.status_code == 302
    page = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    requested = page[page.index('id="h-requested-docs"') :].split("</table>")[0]
    assert "repair_quote" in requested and "sue" in requested and "still missing" in requested
    client.post(
        f"/v1/claims/{claim_id}/documents",
        json={"documents": [{"type": "repair_quote", "ref": "s3://bucket/q1"}]},
    )
    page = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    requested = page[page.index('id="h-requested-docs"') :].split("</table>")[0]
    assert "still missing" not in requested


def test_appeal_is_shown_above_the_history(app, client, clock):
    put_policies(client, ["P-LAPSED"])
    claim_id = client.post("/v1/claims", json=claim("P-LAPSED")).json["id"]
    appealed = client.post(
        f"/v1/claims/{claim_id}/appeal", json={"reason": "My policy was paid up.\nSee bank."}
    )
    assert appealed.status_code == 201, appealed.json
    sue = browser(app)
    page = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    appeals = page.index('id="h-appeals"')
    assert appeals < page.index('id="h-history"')
    section = page[appeals:].split("</section>")[0]
    assert "My policy was paid up.\nSee bank." in section and "answer due" in section
    assert "Filed by default" in section


# --- the operations page ------------------------------------------------------------


def test_operations_counts_chart_touchless_and_warnings(app, client, clock, sup):
    ctx = app.extensions["claims"]
    rules, person = [("approved", "rules")], [("escalated", "rules"), ("rejected", "sue")]
    pended = [("pending_info", "rules"), ("approved", "rules")]  # by the rules, but pended
    # three days ago: 10 claims of which 5 touchless (the usual rate: 50%)
    decided_claims(ctx, [rules] * 5 + [person] * 3 + [pended] * 2, clock.now() - timedelta(days=3))
    # today: 6 approved by the rules alone (100%, far above the usual 50%)
    decided_claims(ctx, [rules] * 6, clock.now())
    bulk_escalated(ctx, 3, clock.now() - timedelta(hours=60))  # overdue (48 h SLA)
    bulk_escalated(ctx, 2, clock.now() - timedelta(hours=40), start=3)  # due later today

    html = client.get("/console/operations", headers=sup).get_data(as_text=True)
    assert re.search(r'<span class="figure">3</span> overdue', html)
    assert re.search(r'<span class="figure">2</span> due later today', html)
    chart = json.loads(re.search(r"data-chart='([^']+)'", html).group(1).replace("&#34;", '"'))
    assert len(chart["days"]) == 14 and chart["days"][-1] == "2026-06-15"
    today, three_days_ago = chart["days"].index("2026-06-15"), chart["days"].index("2026-06-12")
    assert chart["series"]["approved"][today] == 6
    assert chart["series"]["approved"][three_days_ago] == 7
    assert chart["series"]["rejected"][three_days_ago] == 3
    assert chart["series"]["escalated"][three_days_ago] == 3 + 3  # and the 3 overdue ones
    assert chart["series"]["pending_info"][three_days_ago] == 2
    assert "vendor/chartjs-4.6.1/chart.umd.min.js" in html
    touchless = html[html.index('id="h-touchless"') :].split("</section>")[0]
    assert re.search(
        r"<td>2026-06-15</td><td>device_damage</td><td class=\"num\">6</td>", touchless
    )
    assert "100.0%" in touchless and "50.0%" in touchless and "far above usual" in touchless
    assert "touchless rate 100% for device_damage on 2026-06-15, usually 50%" in html
    assert "claims past the SLA deadline" in html


def test_security_headers_on_every_console_response(app, client, sup):
    claim_id = escalated(client)["id"]
    paths = [
        "/console/login",
        "/console/queue",
        "/console/queue?reason=MADE_UP",  # a 400 page
        f"/console/claims/{claim_id}",
        f"/console/claims/{claim_id}/access",
        "/console/claims/nope",  # a 404 page
        "/console/operations",
        "/console/static/console.js",
        "/console/static/operations.js",
        "/console/static/vendor/chartjs-4.6.1/chart.umd.min.js",
    ]
    for path in paths:
        response = client.get(path, headers=sup)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert headers.get("X-Frame-Options") == "DENY", path
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        assert headers.get("Referrer-Policy") == "same-origin", path


# --- issue 17 review: appeals in the console, stale forms, limits, amounts --------------


def decide_api(client, claim_id, headers, body):
    tag = client.get(f"/v1/claims/{claim_id}", headers=headers).headers["ETag"]
    return client.post(
        f"/v1/claims/{claim_id}/decision", json=body, headers=headers | {"If-Match": tag}
    )


def appealed(client, sup, paid="200.00"):
    """An escalated claim of 300 (up to 250.00 payable), approved at `paid`, appealed."""
    claim_id = escalated(client)["id"]
    done = decide_api(client, claim_id, sup, {"outcome": "approve", "amount": paid, "note": "ok"})
    assert done.status_code == 200, done.json
    appeal = client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "The case too"})
    assert appeal.status_code == 201, appeal.json
    return claim_id


def test_an_appealed_claim_is_answered_with_uphold_or_overturn(app, client, sup):
    claim_id = appealed(client, sup)
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert "Answer the appeal" in html
    radios = re.findall(r'name="outcome" value="([a-z_]+)" data-outcome-choice', html)
    assert radios == ["uphold", "overturn"]
    chosen = sue.get(f"/console/claims/{claim_id}?outcome=overturn").get_data(as_text=True)
    amount = re.search(r'<input id="amount"[^>]*>', chosen).group(0)
    assert 'value=""' in amount
    assert re.search(r"at most 250.00 USD; above the 200.00 USD already approved<", chosen)

    lower = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "overturn", "amount": "150.00", "note": "More"},
    )
    page = lower.get_data(as_text=True)
    assert lower.status_code == 422
    error = re.search(r'<p class="field-error" id="amount-error">([^<]+)</p>', page).group(1)
    assert "already approved" in error and 'value="150.00"' in page
    no_note = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "uphold", "note": " "},
    )
    assert no_note.status_code == 422 and 'id="note-error"' in no_note.get_data(as_text=True)
    done = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "overturn", "amount": "250.00", "note": "Case too"},
        follow_redirects=True,
    )
    assert "appeal overturned, 250.00 USD to pay" in done.get_data(as_text=True)
    shown = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    assert (shown["status"], shown["payable_amount"]) == ("overturned", "250.00")


def test_uphold_in_the_console_keeps_the_payment(app, client, sup):
    claim_id = appealed(client, sup)
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}?outcome=uphold").get_data(as_text=True)
    done = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "uphold", "note": "Receipt says 200"},
        follow_redirects=True,
    )
    assert "appeal upheld, the decision stands (200.00 USD to pay)" in done.get_data(as_text=True)
    shown = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    assert (shown["status"], shown["payable_amount"]) == ("upheld", "200.00")


def test_a_stale_form_with_a_field_error_still_says_what_changed(app, client):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    bob = key(app, "supervisor", "bob")
    assert client.post(f"/v1/escalations/{claim_id}/assign", headers=bob).status_code == 200
    typo = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "12o", "note": "Phoned"},
    )
    page = typo.get_data(as_text=True)
    assert typo.status_code == 412, page[:300]  # the version first: bob's change is shown
    assert "What changed since you opened the form" in page and "bob" in page
    assert 'value="12o"' in page and ">Phoned</textarea>" in page


def test_a_field_error_keeps_the_version_the_form_was_opened_with(app, client):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    opened = form_of(html)
    typo = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**opened, "outcome": "approve", "amount": "12o", "note": "Phoned"},
    )
    page = typo.get_data(as_text=True)
    assert typo.status_code == 422
    assert form_of(page)["version"] == opened["version"] and form_of(page)["seen"] == opened["seen"]
    assert 'id="error-summary" tabindex="-1" autofocus' in page  # focus goes to the errors
    again = sue.get(f"/console/claims/{claim_id}/decide")  # a reload of the refused page
    assert again.status_code == 302 and again.headers["Location"].endswith(
        f"/console/claims/{claim_id}"
    )


def test_approve_of_nothing_is_refused_in_the_console_and_the_api(app, client, sup):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    for amount in ("0", "0.00"):
        zero = sue.post(
            f"/console/claims/{claim_id}/decide",
            data={**form_of(html), "outcome": "approve", "amount": amount, "note": "x"},
        )
        page = zero.get_data(as_text=True)
        assert zero.status_code == 422
        error = re.search(r'<p class="field-error" id="amount-error">([^<]+)</p>', page).group(1)
        assert "Choose Reject to pay nothing" in error
    api = decide_api(client, claim_id, sup, {"outcome": "approve", "amount": "0.00", "note": "x"})
    assert api.status_code == 422 and "amount" in json.dumps(api.json)
    assert client.get(f"/v1/claims/{claim_id}", headers=sup).json["status"] == "escalated"


def test_at_most_is_what_the_coverage_pays_now(app, client, sup):
    claim_id = escalated(client)["id"]  # 300 claimed: 250.00 after the deductible
    sue = browser(app)
    assert "at most 250.00 USD<" in sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    paid = [("800.00", "750.00", "02"), ("799.00", "749.00", "03"), ("451.00", "401.00", "04")]
    for amount, pay, day in paid:  # 1900.00 of the 2000.00 annual aggregate
        body = claim(amount=amount, date_of_loss=f"2026-04-{day}")
        other = client.post("/v1/claims", json=body).get_json()
        assert other["status"] == "escalated", other
        done = decide_api(
            client, other["id"], sup, {"outcome": "approve", "amount": pay, "note": "k"}
        )
        assert done.status_code == 200, done.json
    html = sue.get(f"/console/claims/{claim_id}?outcome=approve").get_data(as_text=True)
    assert "at most 100.00 USD<" in html  # the aggregate as it remains now
    above = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "100.01", "note": "x"},
    )
    assert above.status_code == 422  # the use case checks the same figure


def test_currency_mismatch_says_so_beside_the_amount(app, client, sup):
    put_policies(client, ["P-DEV"])
    body = claim(date_of_loss="2026-04-01", currency="EUR")
    document = client.post("/v1/claims", json=body).get_json()
    if document.get("status") != "escalated":
        pytest.skip("a claim in another currency is not escalated by these rules")
    sue = browser(app)
    html = sue.get(f"/console/claims/{document['id']}").get_data(as_text=True)
    assert "at most nothing: the claim is in EUR but the policy pays in USD" in html


def test_security_headers_also_on_unmatched_and_refused_console_responses(app, client, sup):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    refused = sue.post(  # a 422 page
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "x", "note": "n"},
    )
    responses = {
        "404 no route": client.get("/console/no-such-page", headers=sup),
        "405": client.post("/console/queue", headers=sup),
        "422": refused,
        "page": client.get("/console/queue", headers=sup),
    }
    assert responses["404 no route"].status_code == 404
    assert responses["405"].status_code == 405 and refused.status_code == 422
    for name, response in responses.items():
        headers = response.headers
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), name
        assert headers.get("X-Frame-Options") == "DENY", name
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("Referrer-Policy") == "same-origin", name
        assert headers.get("Cache-Control") == "no-store", name
    static = client.get("/console/static/console.js")
    assert static.headers.get("X-Content-Type-Options") == "nosniff"
    assert static.headers.get("Cache-Control") != "no-store"
    api = client.get("/v1/claims/nope", headers=sup)
    assert api.headers.get("X-Content-Type-Options") == "nosniff"
    assert "frame-ancestors 'none'" in api.headers.get("Content-Security-Policy", "")


def test_operations_lists_claims_by_reference_and_oldest_by_reported_time(app, client, clock, sup):
    from sqlalchemy import update

    from service.db.tables import ClaimRow

    ctx = app.extensions["claims"]
    made = bulk_escalated(ctx, 3, clock.now())
    # Q-00002 was reported first, though it reached us (created_at) last
    with ctx.unit_of_work() as session:
        session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == made[2]["id"])
            .values(reported_at=clock.now() - timedelta(days=30))
        )
        session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == made[0]["id"])
            .values(created_at=clock.now() - timedelta(days=60))
        )
        session.commit()
    html = client.get("/console/operations", headers=sup).get_data(as_text=True)
    oldest = html[html.index('id="h-oldest"') :].split("</table>")[0]
    refs = re.findall(r">(Q-\d{5})</a>", oldest)
    assert refs[0] == "Q-00002", refs
    assert "30 d" in oldest
    clocks = html[html.index('id="h-clocks"') :].split("</section>")[0]
    assert f'href="/console/claims/{made[2]["id"]}">Q-00002</a>' in clocks  # not a UUID prefix


def test_claim_page_shows_the_line_items_as_a_table(app, client):
    from tests.integration.test_line_items import MEDICAL

    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    items = [
        {"code": "99213", "amount": "120.00", "description": "Office visit"},
        {"code": "15780", "amount": "200.00", "description": "Dermabrasion"},
    ]
    body = claim("P-LINES", "medical_reimbursement", "320.00", line_items=items)
    body["currency"] = "USD"
    claim_id = client.post("/v1/claims", json=body).get_json()["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    table = html[html.index('id="h-lines"') :].split("</table>")[0]
    first = table[table.index('data-line="1"') :].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", first, re.S)
    assert cells[1:8] == [
        "<code>99213</code>",
        "Office visit",
        "120.00 USD",
        "90.00 USD",
        "90.00 USD",
        "0.00 USD",
        "partly paid",
    ]
    second = table[table.index('data-line="2"') :].split("</tr>")[0]
    assert "Dermabrasion" in second and "denied" in second and "CARC 204" in second


def test_what_changed_is_in_plain_words(app, client, sup):
    claim_id = escalated(client)["id"]
    sue = browser(app)
    html = sue.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    sam = key(app, "supervisor", "sam")
    body = {"outcome": "approve", "amount": "100.00", "note": "ok"}
    assert decide_api(client, claim_id, sam, body).status_code == 200
    version = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    stale = sue.post(
        f"/console/claims/{claim_id}/decide",
        data={**form_of(html), "outcome": "approve", "amount": "120.00", "note": "Phoned"},
    )
    page = stale.get_data(as_text=True)
    changed = page[page.index("What changed") :].split("</section>")[0]
    assert "status: approved, payable amount: 100.00 USD" in changed
    assert "reason codes: supervisor_approved" in changed
    assert "['" not in changed and "{'" not in changed
    assert version["decision"]["ruleset_version"] not in changed  # no raw digests
