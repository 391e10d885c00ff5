"""The claims auditor's review of issue 12, over the HTTP API on SQLite and PostgreSQL:
policy years of a 29 February start (F1), no cross-currency arithmetic (F3), no report
before the loss (F4), no currency change under existing claims (F5), 12 calendar
months (F6), a cover that pays nothing (F7), real IANA zones only (F8).

Every expected value is written out; the clock is the fixture's 2026-06-15 09:00 UTC
unless a test moves it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from service.db import claims as claims_db
from service.domain.calendar import add_years
from service.domain.history import summarise_history
from service.domain.model import Claim, PriorClaim
from service.usecases.manage_policies import get_policy
from tests.auth_helpers import key
from tests.helpers import POLICIES, claim, codes, coverage

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


def problem_fields(response):
    assert response.status_code == 422, response.get_json()
    return {e["field"]: e["message"] for e in response.get_json()["errors"]}


def facts_of(client, claim_id):
    return client.get(f"/v1/claims/{claim_id}").get_json()["decisions"][0]["facts"]


# --- F1. policy years of a 29 February start tile the calendar ----------------------


def test_a_29_february_policy_year_has_no_gap_day_before_a_leap_anniversary(client, clock):
    """Start 2024-02-29: the policy year from 2027-02-28 runs to 2028-02-28 inclusive
    and the next starts on 2028-02-29. A loss on 2028-02-28 is in the first of them,
    with what was paid on that same day (the old year ended the day before: gap)."""
    clock.set(datetime(2028, 3, 1, 9, 0, tzinfo=UTC))
    put(
        client,
        "P-LEAP",
        effective_from="2024-02-29",
        effective_to="2029-02-27",
        coverages=[coverage("device_damage", "800", "1000", "0")],
    )
    reported = "2028-02-29T10:00:00Z"
    first = post(client, claim("P-LEAP", amount="800", date_of_loss="2028-02-28"))
    assert (first["decision"]["outcome"], first["decision"]["payable_amount"]) == (
        "approved",
        "800.00",
    )
    second_body = claim(
        "P-LEAP",
        amount="500",
        date_of_loss="2028-02-28",
        reported_at=reported,
        documents=[],
    )
    second_body["documents"] = [
        {"type": "purchase_receipt", "ref": "s3://docs/other-receipt.pdf"},
        {"type": "photos", "ref": "s3://docs/other-photos.pdf"},
    ]
    second_document = post(client, second_body)
    second = second_document["decision"]
    assert (second["outcome"], second["payable_amount"]) == ("approved", "200.00")
    assert lines(second) == [("CO", "119", "300.00", "annual_aggregate")]
    assert facts_of(client, second_document["id"])["aggregate_used"] == "800.00"
    # and the day after, 2028-02-29, starts a fresh policy year
    third = post(client, claim("P-LEAP", amount="600", date_of_loss="2028-02-29"))["decision"]
    assert (third["outcome"], third["payable_amount"]) == ("approved", "600.00")


# --- F3. no arithmetic across currencies ---------------------------------------------


def test_a_claim_in_another_currency_is_not_held_against_the_deductible(app, client):
    """40 JPY on a USD policy with a 50 USD deductible: not 'within the deductible'
    (that compares yen with dollars); escalated for the currency, no amounts worked out."""
    put(client, "P-DEV")
    document = post(client, claim(amount="40", currency="JPY"))
    decision = document["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("escalated", None)
    assert codes(decision) == {"CURRENCY_MISMATCH"}
    assert decision["adjustments"] == []
    facts = facts_of(client, document["id"])
    for name in ("payable_amount", "aggregate_remaining", "aggregate_used", "deductible_applied"):
        assert name not in facts, name
    assert facts["currency_matches"] is False


def test_a_large_claim_in_another_currency_gets_no_payable_worked_out(app, client):
    put(client, "P-DEV")
    document = post(client, claim(amount="5000", currency="JPY"))
    decision = document["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("escalated", None)
    assert codes(decision) == {"CURRENCY_MISMATCH"}
    facts = facts_of(client, document["id"])
    assert "payable_amount" not in facts and "over_limit_per_claim" not in facts
    sup = key(app, "supervisor", "sue")
    tag = client.get(f"/v1/claims/{document['id']}", headers=sup).headers["ETag"]
    response = client.post(
        f"/v1/claims/{document['id']}/decision",
        json={"outcome": "approve", "amount": "5", "note": "n"},
        headers=sup | {"If-Match": tag},
    )
    assert response.status_code == 422 and response.get_json()["code"] == "currency_mismatch"


# --- F4. a claim reported before its loss ---------------------------------------------


def test_a_report_date_before_the_date_of_loss_is_a_422_and_nothing_is_stored(client):
    """23:30 on 14 June in New York is 03:30 on the 15th in UTC: in the policy's zone the
    claim was reported on the 14th, the day before its loss of the 15th."""
    put(client, "P-NY", time_zone="America/New_York")
    body = claim("P-NY", date_of_loss="2026-06-15", reported_at="2026-06-14T23:30:00-04:00")
    response = client.post("/v1/claims", json=body, headers={"Idempotency-Key": "f4-key"})
    fields = problem_fields(response)
    assert set(fields) == {"date_of_loss"}
    assert "2026-06-14" in fields["date_of_loss"] and "America/New_York" in fields["date_of_loss"]
    assert client.get("/v1/claims").get_json()["items"] == []
    fixed = body | {"reported_at": "2026-06-15T04:30:00-04:00"}
    response = client.post("/v1/claims", json=fixed, headers={"Idempotency-Key": "f4-key-2"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["reported_on"] == "2026-06-15"


def test_a_loss_later_than_today_in_the_policys_zone_is_a_422(client, clock):
    """No reported_at: the claim is reported now, 02:00 UTC on 15 June, still the 14th in
    New York; a loss of the 15th is after the report."""
    clock.set(datetime(2026, 6, 15, 2, 0, tzinfo=UTC))
    put(client, "P-NY", time_zone="America/New_York")
    fields = problem_fields(
        client.post("/v1/claims", json=claim("P-NY", date_of_loss="2026-06-15"))
    )
    assert set(fields) == {"date_of_loss"}
    assert client.get("/v1/claims").get_json()["items"] == []


# --- F5. a policy's currency cannot change under its claims ---------------------------


def test_changing_a_policys_currency_after_claims_is_refused(client):
    put(client, "P-DEV")
    put(client, "P-DEV", currency="EUR")  # no claims yet: allowed
    put(client, "P-DEV", currency="USD")
    post(client, claim(amount="300"))
    response = client.put("/v1/policies/P-DEV", json={**POLICIES["P-DEV"], "currency": "EUR"})
    assert response.status_code == 409, response.get_json()
    problem = response.get_json()
    assert problem["code"] == "currency_change_refused"
    assert "USD" in problem["detail"] and "EUR" in problem["detail"]
    assert client.get("/v1/policies/P-DEV").get_json()["currency"] == "USD"
    # other changes to the policy are still fine
    put(client, "P-DEV", holder="Dana Renamed")
    assert client.get("/v1/policies/P-DEV").get_json()["holder"] == "Dana Renamed"


# --- F6. claims in the last 12 calendar months ----------------------------------------


def test_the_last_12_months_are_calendar_months_across_a_leap_day(client, clock):
    """Loss 2024-03-01: the last 12 months start on 2023-03-01 (366 days earlier, 2024
    has a leap day); a loss on 2023-03-01 counts, one on 2023-02-28 does not."""
    clock.set(datetime(2024, 3, 5, 9, 0, tzinfo=UTC))
    put(client, "P-12M", effective_from="2023-01-01", effective_to="2024-12-31")
    for day, amount in (("2023-02-28", "101"), ("2023-03-01", "102")):
        post(client, claim("P-12M", amount=amount, date_of_loss=day, reported_at=f"{day}T12:00Z"))
    document = post(
        client,
        claim("P-12M", amount="103", date_of_loss="2024-03-01", reported_at="2024-03-02T12:00Z"),
    )
    assert facts_of(client, document["id"])["claims_last_12_months"] == 1


def test_sql_and_definition_agree_on_12_months_and_policy_years_at_leap_edges(context):
    """One claim on every day from 2023-01-01 to 2029-03-31 on a policy that starts
    2024-02-29; probes on the days around every 28/29 February and 1 March."""
    from service.db import policies

    client_policy = dict(POLICIES["P-DEV"]) | {"effective_from": "2024-02-29"}
    client_policy["effective_to"] = "2029-02-27"
    from service.api.schemas import PolicySchema
    from service.usecases.manage_policies import policy_from_data

    policy = policy_from_data("P-EDGE", PolicySchema().load(client_policy))
    start = date(2023, 1, 1)
    priors = [
        PriorClaim(
            id=str(uuid.UUID(int=n + 1)),
            claim_type="device_damage",
            date_of_loss=start + timedelta(days=n),
            amount=Decimal(1 + n % 7),
            outcome="approved",
            payable_amount=Decimal(1 + n % 7),
        )
        for n in range((date(2029, 3, 31) - start).days + 1)
    ]
    now = datetime(2029, 4, 1, tzinfo=UTC)
    with context.unit_of_work() as session:
        policies.save_policy(session, policy, now)
        for i, prior in enumerate(priors):
            at = now + timedelta(microseconds=i)
            claims_db.insert_claim(
                session,
                {
                    "id": prior.id,
                    "client_id": "edge",
                    "external_ref": f"edge-{i}",
                    "policy_number": policy.number,
                    "claim_type": prior.claim_type,
                    "date_of_loss": prior.date_of_loss,
                    "reported_at": now,
                    "reported_on": now.date(),
                    "time_zone": "UTC",
                    "claims_last_12_months": 0,
                    "line_items_key": None,
                    "amount": prior.amount,
                    "currency": "USD",
                    "description": "",
                    "claimant": {},
                    "preferred_language": "en",
                    "callback_url": None,
                    "payload": {},
                    "status": "approved",
                    "payable_amount": prior.payable_amount,
                    "version": 1,
                    "created_at": at,
                    "updated_at": at,
                },
                [],
            )
        session.commit()
    probes = []
    for year in range(2024, 2030):
        for day in (date(year, 2, 27), date(year, 2, 28), date(year, 3, 1), date(year, 3, 2)):
            probes.append(day)
        if year % 4 == 0:
            probes.append(date(year, 2, 29))
    with context.unit_of_work(read_only=True) as session:
        for loss in probes:
            probe = Claim(
                policy_number=policy.number,
                claim_type="device_damage",
                date_of_loss=loss,
                reported_at=now,
                amount=Decimal("999"),
                currency="USD",
                id=str(uuid.uuid4()),
            )
            expected = summarise_history(probe, policy, priors)
            got = claims_db.history_for(session, probe, policy)
            assert got.claims_last_12_months == expected.claims_last_12_months, loss
            assert got.paid_this_policy_year == expected.paid_this_policy_year, loss
            # 12 calendar months: the same day a year earlier up to the loss, inclusive
            first = add_years(loss, -1)
            assert expected.claims_last_12_months == (loss - first).days + 1, loss


# --- F7. a cover that pays nothing ----------------------------------------------------


@pytest.mark.parametrize("cover", [("0", "2000"), ("800", "0")], ids=["limit-0", "aggregate-0"])
def test_a_cover_with_a_zero_limit_says_it_pays_nothing(client, cover):
    limit, aggregate = cover
    put(client, "P-ZERO", coverages=[coverage("device_damage", limit, aggregate, "50")])
    decision = post(client, claim("P-ZERO", amount="300"))["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("rejected", "0.00")
    assert codes(decision) == {"NO_BENEFIT"}
    (reason,) = decision["reasons"]
    assert reason["carc"] == "119"
    assert reason["message"] == "This cover pays nothing for this type of loss."
    assert "yearly maximum" not in reason["message"]
    assert lines(decision) == [("CO", "119", "300.00", "no_benefit")]


# --- F8. real IANA geographic zones only ----------------------------------------------


@pytest.mark.parametrize(
    "zone", ["localtime", "Factory", "posixrules", "posix/Europe/Tallinn", "right/UTC"]
)
def test_policy_time_zone_must_be_a_real_calendar_zone(client, zone):
    fields = problem_fields(
        client.put("/v1/policies/P-X", json=POLICIES["P-DEV"] | {"time_zone": zone})
    )
    assert set(fields) == {"time_zone"}
    assert client.get("/v1/policies/P-X").status_code == 404


def test_real_zones_are_still_accepted(client, app):
    for zone in ("Europe/Tallinn", "UTC", "Etc/UTC", "America/Argentina/Buenos_Aires"):
        put(client, "P-Z", time_zone=zone)
        assert get_policy(app.extensions["claims"], "P-Z").time_zone == zone
