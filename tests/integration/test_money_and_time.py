"""Issue 12, points 1-7, through the HTTP API on SQLite and PostgreSQL: the payable
arithmetic and its adjustment lines, cover on the date of loss, calendar time, one
report date per claim, currencies, exact and suspected duplicates, line items.

Every expected value is written out; the clock is the fixture's 2026-06-15 09:00 UTC
unless a test moves it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from service.db.tables import OutboxRow
from service.usecases.notifications import build_email
from tests.auth_helpers import key
from tests.helpers import POLICIES, carcs, claim, codes, coverage, put_policies

pytestmark = pytest.mark.integration


def put(client, number, **changes):
    body = {**POLICIES["P-DEV"], **changes}
    response = client.put(f"/v1/policies/{number}", json=body)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def post(client, body):
    response = client.post("/v1/claims", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def lines(decision):
    return [(a["group"], a["carc"], a["amount"], a["reason"]) for a in decision["adjustments"]]


def letter(app, claim_id, event):
    """The claimant's email for `event`, built as the worker builds it."""
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        row = session.scalars(
            select(OutboxRow).where(OutboxRow.claim_id == claim_id, OutboxRow.event == event)
        ).one()
        return build_email(session, row, ctx.config)


def problem_fields(response):
    assert response.status_code == 422, response.get_json()
    return {e["field"]: e["message"] for e in response.get_json()["errors"]}


# --- 1. deductible before limit; adjustment lines that balance ---------------------


def test_deductible_comes_off_before_the_limit_and_the_lines_balance(app, client):
    """Loss 1000, deductible 50, limit 800: min(950, 800) = 800 (the old formula paid 750)."""
    put_policies(client, ["P-DEV"])
    document = post(client, claim(amount="1000"))
    decision = document["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("approved", "800.00")
    assert lines(decision) == [
        ("PR", "1", "50.00", "deductible"),
        ("CO", "119", "150.00", "per_claim_limit"),
    ]
    stored = client.get(f"/v1/claims/{document['id']}").get_json()
    assert stored["decision"]["adjustments"] == decision["adjustments"]
    email = letter(app, document["id"], "approved")
    assert "We will pay 800.00 USD." in email.text
    assert "You claimed 1000.00 USD. Taken off:" in email.text
    assert "- 50.00 USD: Part of the amount is your deductible" in email.text
    assert "- 150.00 USD: Above the most the policy pays for one claim of this kind." in email.text


def test_loss_700_deductible_500_limit_100_pays_100(client):
    """Escalated before as "yearly maximum reached" on a policy that had paid nothing."""
    put(client, "P-SMALL", coverages=[coverage("device_damage", "100", "5000", "500")])
    decision = post(client, claim("P-SMALL", amount="700"))["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("approved", "100.00")
    assert lines(decision) == [
        ("PR", "1", "500.00", "deductible"),
        ("CO", "119", "100.00", "per_claim_limit"),
    ]


def test_remaining_aggregate_cut_is_its_own_line(client):
    put(client, "P-AGG", coverages=[coverage("device_damage", "800", "1000", "50")])
    post(client, claim("P-AGG", amount="850", date_of_loss="2026-06-01"))  # pays 800
    decision = post(client, claim("P-AGG", amount="400", date_of_loss="2026-06-02"))["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("approved", "200.00")
    assert lines(decision) == [
        ("PR", "1", "50.00", "deductible"),
        ("CO", "119", "150.00", "annual_aggregate"),
    ]


def test_supervisor_approval_carries_balancing_lines_with_the_cut_as_its_own(app, client):
    put(client, "P-BIG", coverages=[coverage("device_damage", "2000", "5000", "50")])
    document = post(client, claim("P-BIG", amount="1500"))  # payable 1450 > 1000: escalated
    assert document["decision"]["outcome"] == "escalated"
    sup = key(app, "supervisor", "sue")
    tag = client.get(f"/v1/claims/{document['id']}", headers=sup).headers["ETag"]
    response = client.post(
        f"/v1/claims/{document['id']}/decision",
        json={"outcome": "approve", "amount": "1200", "note": "Receipt shows 1,250"},
        headers=sup | {"If-Match": tag},
    )
    assert response.status_code == 200, response.get_json()
    decision = response.get_json()["decision"]
    assert decision["payable_amount"] == "1200.00"
    assert lines(decision) == [
        ("PR", "1", "50.00", "deductible"),
        ("OA", "150", "250.00", "supervisor_adjustment"),
    ]
    email = letter(app, document["id"], "decision_after_review")
    assert "We will pay 1200.00 USD." in email.text
    assert "- 250.00 USD: A claims handler reviewed the claim" in email.text


def test_a_rejection_carries_one_line_for_the_whole_amount(client):
    put_policies(client, ["P-ENDED"])
    decision = post(client, claim("P-ENDED", amount="300", date_of_loss="2026-02-01"))["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("rejected", "0.00")
    assert lines(decision) == [("CO", "27", "300.00", "after_coverage")]


# --- 2. cover judged on the date of loss; terminated_on --------------------------


def test_lapsed_or_cancelled_policy_needs_the_day_it_stopped(client):
    body = {**POLICIES["P-DEV"], "status": "lapsed"}
    fields = problem_fields(client.put("/v1/policies/P-X", json=body))
    assert fields == {"terminated_on": "Required when the status is lapsed: the last day of cover."}
    fields = problem_fields(
        client.put("/v1/policies/P-X", json=body | {"terminated_on": "2025-12-31"})
    )
    assert fields == {"terminated_on": "Must not be before effective_from."}
    active = {**POLICIES["P-DEV"], "terminated_on": "2026-05-01"}
    assert "terminated_on" in problem_fields(client.put("/v1/policies/P-X", json=active))
    ok = client.put(
        "/v1/policies/P-X",
        json={**POLICIES["P-DEV"], "status": "cancelled"} | {"terminated_on": "2026-11-15"},
    )
    assert ok.status_code == 201 and ok.get_json()["terminated_on"] == "2026-11-15"


def test_a_lapsed_policy_covers_a_loss_before_it_stopped(client, clock):
    clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    put(client, "P-LAPSE", status="lapsed", terminated_on="2026-11-15")
    before = post(client, claim("P-LAPSE", date_of_loss="2026-11-10"))["decision"]
    assert (before["outcome"], before["payable_amount"]) == ("approved", "250.00")
    on_the_day = post(client, claim("P-LAPSE", "device_damage", "301", "2026-11-15"))
    assert on_the_day["decision"]["outcome"] == "approved"
    after = post(client, claim("P-LAPSE", date_of_loss="2026-11-20"))["decision"]
    assert after["outcome"] == "rejected" and carcs(after) == {"27"}


# --- 3. calendar time -------------------------------------------------------------


def test_filing_on_the_first_anniversary_across_a_leap_day_is_in_time(client, clock):
    """42 CFR 424.44: loss 2023-03-01, reported 2024-03-01 (366 days later) is in time."""
    clock.set(datetime(2024, 3, 3, 9, 0, tzinfo=UTC))
    put(
        client,
        "P-MED23",
        effective_from="2023-01-01",
        effective_to="2023-12-31",
        coverages=[coverage("medical_reimbursement", "5000", "10000", "0")],
    )

    def submit(reported, amount):
        body = claim(
            "P-MED23",
            "medical_reimbursement",
            amount,
            "2023-03-01",
            reported_at=f"{reported}T10:00:00+00:00",
        )
        return post(client, body)["decision"]

    in_time = submit("2024-03-01", "500")
    assert in_time["outcome"] == "escalated" and codes(in_time) == {"LATE_REPORTING"}
    too_late = submit("2024-03-02", "510")
    assert too_late["outcome"] == "rejected" and codes(too_late) == {"FILING_LIMIT_EXPIRED"}


def test_waiting_period_of_one_calendar_month(client):
    """P-DEV device_theft: waiting period {months: 1} from 2026-01-01."""
    put_policies(client, ["P-DEV"])

    def theft(day, reported):
        body = claim("P-DEV", "device_theft", "500", day, reported_at=f"{reported}T09:00:00Z")
        return post(client, body)["decision"]

    inside = theft("2026-01-31", "2026-02-01")
    assert inside["outcome"] == "rejected" and codes(inside) == {"WAITING_PERIOD"}
    covered = theft("2026-02-01", "2026-02-02")
    assert (covered["outcome"], covered["payable_amount"]) == ("approved", "400.00")
    policy = client.get("/v1/policies/P-DEV").get_json()
    assert policy["coverages"][1]["waiting_period"] == {"months": 1}


# --- 4. one report date per claim, in the policy's time zone ------------------------


def test_report_date_is_taken_once_in_the_policys_time_zone(client, clock):
    """20:00 on 15 February in New York is 01:00 on the 16th in UTC: one calendar month
    after a loss of 15 January locally (not late), one month and a day in UTC (late)."""
    clock.set(datetime(2026, 2, 16, 2, 0, tzinfo=UTC))
    put(client, "P-NY", time_zone="America/New_York")
    body = claim(
        "P-NY",
        date_of_loss="2026-01-15",
        reported_at="2026-02-15T20:00:00-05:00",
        documents=["purchase_receipt"],
    )
    first = post(client, body)
    assert first["decision"]["outcome"] == "pending_info"
    assert (first["reported_on"], first["time_zone"]) == ("2026-02-15", "America/New_York")
    clock.advance(days=3)  # documents arrive later: nothing about the report changes
    response = client.post(
        f"/v1/claims/{first['id']}/documents",
        json={"documents": [{"type": "photos", "ref": "s3://docs/p.jpg"}]},
    )
    assert response.status_code == 200, response.get_json()
    stored = client.get(f"/v1/claims/{first['id']}").get_json()
    assert stored["decision"]["outcome"] == "approved", stored["decision"]["reasons"]
    assert [d["facts"]["claim"]["reported_on"] for d in stored["decisions"]] == [
        "2026-02-15",
        "2026-02-15",
    ]


def test_default_time_zone_setting_applies_to_policies_without_one(db_url, tmp_path, clock):
    from service.api.app import create_app
    from service.usecases.context import build_context
    from tests.conftest import make_config

    clock.set(datetime(2026, 2, 16, 2, 0, tzinfo=UTC))
    outcomes = {}
    for zone, amount in (("UTC", "300"), ("America/New_York", "310")):
        ctx = build_context(make_config(db_url, tmp_path, DEFAULT_TIME_ZONE=zone))
        ctx.clock = clock
        client = create_app(ctx.config, ctx).test_client()
        put(client, "P-TZ")
        reported = "2026-02-15T20:00:00-05:00"
        body = claim("P-TZ", amount=amount, date_of_loss="2026-01-15", reported_at=reported)
        document = post(client, body)
        outcomes[zone] = (document["reported_on"], document["decision"]["outcome"])
    assert outcomes == {
        "UTC": ("2026-02-16", "escalated"),  # late: one month and a day
        "America/New_York": ("2026-02-15", "approved"),
    }


def test_policy_time_zone_must_be_an_iana_name(client):
    for bad in ("EST5EDT/../x", "Mars/Olympus", "+05:00"):
        fields = problem_fields(
            client.put("/v1/policies/P-X", json=POLICIES["P-DEV"] | {"time_zone": bad})
        )
        assert "time_zone" in fields


def test_facts_each_decision_saw_are_kept_and_a_first_claim_has_no_earlier_claims(app, client):
    """The first claim on a policy, decided by a supervisor after two later claims with
    the same date of loss: its facts say 0 earlier claims in 12 months (said 2 before)."""
    put_policies(client, ["P-DEV"])
    first = post(client, claim(date_of_loss="2026-04-01"))  # late: escalated
    assert first["decision"]["outcome"] == "escalated"
    for amount in ("120", "130"):
        post(client, claim(amount=amount, date_of_loss="2026-04-01"))
    sup = key(app, "supervisor", "sue")
    tag = client.get(f"/v1/claims/{first['id']}", headers=sup).headers["ETag"]
    response = client.post(
        f"/v1/claims/{first['id']}/decision",
        json={"outcome": "approve", "amount": "250", "note": "Late, but the receipt is good"},
        headers=sup | {"If-Match": tag},
    )
    assert response.status_code == 200, response.get_json()
    stored = client.get(f"/v1/claims/{first['id']}").get_json()
    assert [d["facts"]["claims_last_12_months"] for d in stored["decisions"]] == [0, 0]
    assert stored["facts"]["claims_last_12_months"] == 0
    assert stored["decisions"][0]["facts"] == first_facts(app, first["id"])


def first_facts(app, claim_id):
    from service.db.tables import DecisionRow

    with app.extensions["claims"].unit_of_work() as session:
        return session.scalars(
            select(DecisionRow.facts)
            .where(DecisionRow.claim_id == claim_id)
            .order_by(DecisionRow.id)
        ).first()


# --- 5. currencies ----------------------------------------------------------------


def test_currency_codes_are_iso_4217(client):
    assert "currency" in problem_fields(
        client.put("/v1/policies/P-X", json=POLICIES["P-DEV"] | {"currency": "XYZ"})
    )
    put_policies(client, ["P-DEV"])
    for bad in ("XYZ", "usd", "XAU"):
        assert "currency" in problem_fields(client.post("/v1/claims", json=claim(currency=bad)))


def test_a_claim_in_another_currency_is_escalated_never_approved(app, client):
    put_policies(client, ["P-DEV"])
    document = post(client, claim(amount="900", currency="JPY"))
    decision = document["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("escalated", None)
    reason = next(r for r in decision["reasons"] if r["code"] == "CURRENCY_MISMATCH")
    assert "JPY" in reason["message"] and "USD" in reason["message"]
    sup = key(app, "supervisor", "sue")
    tag = client.get(f"/v1/claims/{document['id']}", headers=sup).headers["ETag"]
    response = client.post(
        f"/v1/claims/{document['id']}/decision",
        json={"outcome": "approve", "amount": "5", "note": "n"},
        headers=sup | {"If-Match": tag},
    )
    assert response.status_code == 422 and response.get_json()["code"] == "currency_mismatch"


def test_amounts_have_the_currencys_minor_units(app, client):
    jpy = [coverage("device_damage", "80000", "500000", "50")]
    put(client, "P-JPY", currency="JPY", coverages=jpy)
    fields = problem_fields(
        client.post("/v1/claims", json=claim("P-JPY", amount="900.75", currency="JPY"))
    )
    assert fields == {"amount": "Not a valid amount in JPY: JPY has no decimal places."}
    yen = post(client, claim("P-JPY", amount="900", currency="JPY"))
    assert (yen["amount"], yen["decision"]["payable_amount"]) == ("900", "850")
    assert lines(yen["decision"]) == [("PR", "1", "50", "deductible")]
    bad_cover = [coverage("device_damage", "800.5", "5000", "0")]
    assert "coverages.0.limit_per_claim" in problem_fields(
        client.put(
            "/v1/policies/P-J2",
            json={**POLICIES["P-DEV"], "currency": "JPY"} | {"coverages": bad_cover},
        )
    )

    kwd = [coverage("device_damage", "800", "5000", "0")]
    put(client, "P-KWD", currency="KWD", coverages=kwd)
    fils = post(client, claim("P-KWD", amount="85.125", currency="KWD"))
    assert (fils["amount"], fils["decision"]["payable_amount"]) == ("85.125", "85.125")
    assert client.get(f"/v1/claims/{fils['id']}").get_json()["payable_amount"] == "85.125"
    assert "We will pay 85.125 KWD." in letter(app, fils["id"], "approved").text
    assert "amount" in problem_fields(
        client.post("/v1/claims", json=claim("P-KWD", amount="1.0005", currency="KWD"))
    )

    from service.usecases.write_bordereau import bordereau_csv

    report = bordereau_csv(app.extensions["claims"], "2026-06")
    assert ",KWD,85.125,85.125,1" in report and ",JPY,900,850,1" in report


@pytest.mark.parametrize(
    "amount",
    [
        "１２３",
        "١٢٣",
        "1e3",
        "1e999999999",
        " 12",
        "12 ",
        "+12",
        "-12",
        "12.5.3",
        ".5",
        "5.",
        "1,000",
    ],
)
def test_amount_text_is_ascii_digits_with_one_decimal_point(client, amount):
    put_policies(client, ["P-DEV"])
    fields = problem_fields(client.post("/v1/claims", json=claim(amount=amount)))
    assert fields["amount"].startswith("Not a valid amount"), fields


@pytest.mark.parametrize("number", ["1e999999999", "1E+400", "1e-999999999", "-0.5"])
def test_huge_or_tiny_json_numbers_are_a_422_never_a_500(client, number):
    put_policies(client, ["P-DEV"])
    body = json.dumps(claim()).replace('"amount": "300.00"', f'"amount": {number}')
    assert f'"amount": {number}' in body
    response = client.post("/v1/claims", data=body, content_type="application/json")
    assert "amount" in problem_fields(response)


def test_json_numbers_are_money_not_floats(client):
    put_policies(client, ["P-DEV"])
    body = json.dumps(claim()).replace('"amount": "300.00"', '"amount": 300.10')
    document = client.post("/v1/claims", data=body, content_type="application/json").get_json()
    assert (document["amount"], document["decision"]["payable_amount"]) == ("300.10", "250.10")


# --- 6. exact and suspected duplicates --------------------------------------------


def test_same_day_and_amount_with_other_evidence_is_a_suspected_duplicate(client):
    put_policies(client, ["P-DEV"])
    first = post(client, claim(amount="349", description="Phone dropped on stairs"))
    second_body = claim(
        amount="349.00",
        description="Tablet screen cracked",
        documents=[],
    ) | {
        "documents": [
            {"type": "purchase_receipt", "ref": "s3://docs/tablet-receipt.pdf"},
            {"type": "photos", "ref": "s3://docs/tablet.jpg"},
        ]
    }
    decision = post(client, second_body)["decision"]
    assert decision["outcome"] == "escalated"
    reason = next(r for r in decision["reasons"] if r["code"] == "SUSPECTED_DUPLICATE")
    assert first["id"] in reason["message"]
    assert "18" not in carcs(decision)


def test_same_evidence_is_an_exact_duplicate_naming_the_first_claim(client):
    put_policies(client, ["P-DEV"])
    first = post(client, claim(amount="349"))
    again = claim(amount="349.00") | {
        "documents": [
            {"type": "purchase_receipt", "ref": "s3://docs/purchase_receipt.pdf"},  # the same
            {"type": "photos", "ref": "s3://docs/other-photo.jpg"},
        ]
    }
    decision = post(client, again)["decision"]
    assert decision["outcome"] == "rejected" and carcs(decision) == {"18"}
    reason = next(r for r in decision["reasons"] if r["code"] == "DUPLICATE")
    assert first["id"] in reason["message"]


def test_identical_line_items_make_an_exact_duplicate(client):
    put_policies(client, ["P-MED"])
    items = [{"code": "99213", "amount": "120"}, {"code": "87880", "amount": "15.00"}]

    def body(refs):
        return claim("P-MED", "medical_reimbursement", "135", line_items=items) | {
            "documents": [
                {"type": t, "ref": f"s3://{refs}/{t}"} for t in ("invoice", "medical_report")
            ]
        }

    first = post(client, body("first"))
    decision = post(client, body("second"))["decision"]
    assert decision["outcome"] == "rejected" and first["id"] in decision["reasons"][0]["message"]


# --- 7. line items add up ----------------------------------------------------------


def test_line_items_must_add_up_to_the_claim_amount(client):
    put_policies(client, ["P-MED"])
    items = [{"code": "99213", "amount": "120"}, {"code": "87880", "amount": "15"}]
    body = claim("P-MED", "medical_reimbursement", "1900", line_items=items)
    fields = problem_fields(client.post("/v1/claims", json=body))
    assert fields == {
        "line_items": "The line items add up to 135.00 USD, not the claim amount 1900.00 USD."
    }
    document = post(client, claim("P-MED", "medical_reimbursement", "135", line_items=items))
    # each line decided on its own (issue 16): 99213 is cut to its fee-schedule maximum
    # of 90.00 (CO 45 30.00); 87880 is not on the fee schedule: denied (CO 96 15.00)
    assert document["decision"]["payable_amount"] == "90.00"
    shown = client.get(f"/v1/claims/{document['id']}").get_json()["line_items"]
    assert [(i["code"], i["amount"]) for i in shown] == [("99213", "120.00"), ("87880", "15.00")]
    assert sum(Decimal(i["amount"]) for i in shown) == Decimal("135")
