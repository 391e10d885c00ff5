"""Bad input gets a clear RFC 9457 problem and changes nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from service.db.tables import ClaimRow, OutboxRow
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


def stored_claims(context) -> int:
    with context.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(ClaimRow))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_malformed_json_is_400(client, context):
    response = client.post("/v1/claims", data="{not json", content_type="application/json")
    assert_problem(response, 400)
    assert stored_claims(context) == 0


def test_wrong_content_type_is_415(client, context):
    response = client.post(
        "/v1/claims", data="a=b", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)
    assert stored_claims(context) == 0


def test_body_over_the_limit_is_413(client, context):
    big = claim(description="x" * (1024 * 1024 + 10))
    response = client.post("/v1/claims", data=json.dumps(big), content_type="application/json")
    assert_problem(response, 413)
    assert stored_claims(context) == 0


def test_every_invalid_field_is_named(client, context):
    body = claim(amount="-5", currency="usd", claim_type="spaceship", date_of_loss="yesterday")
    body["claimant"] = {"name": "", "email": "not-an-email", "preferred_language": "fr"}
    body["colour"] = "blue"
    problem = assert_problem(client.post("/v1/claims", json=body), 422)
    fields = {e["field"] for e in problem["errors"]}
    expected = {
        "amount",
        "currency",
        "claim_type",
        "date_of_loss",
        "claimant.name",
        "claimant.email",
        "claimant.preferred_language",
        "colour",
    }
    assert expected <= fields, problem["errors"]
    assert stored_claims(context) == 0


@pytest.mark.parametrize(
    "amount", ["1.234", "NaN", "Infinity", True, None, "1e400", "12,00", 10**15]
)
def test_bad_amounts_are_refused(client, context, amount):
    problem = assert_problem(client.post("/v1/claims", json=claim(amount=amount)), 422)
    assert any(e["field"] == "amount" for e in problem["errors"])
    assert stored_claims(context) == 0


def test_json_number_amount_is_exact(client):
    put_policies(client, ["P-DEV"])
    body = claim(amount=0)
    raw = json.dumps(body).replace('"amount": 0', '"amount": 310.10')
    response = client.post("/v1/claims", data=raw, content_type="application/json")
    assert response.status_code == 201
    assert response.get_json()["amount"] == "310.10"
    assert response.get_json()["decision"]["payable_amount"] == "260.10"


def test_loss_after_report_is_refused(client, context):
    body = claim(date_of_loss="2026-06-20")  # the clock says 2026-06-15
    problem = assert_problem(client.post("/v1/claims", json=body), 422)
    assert problem["errors"][0]["field"] == "date_of_loss"


def test_naive_reported_at_is_refused(client):
    problem = assert_problem(
        client.post("/v1/claims", json=claim(reported_at="2026-06-14T10:00:00")), 422
    )
    assert problem["errors"][0]["field"] == "reported_at"


def test_unknown_claim_is_404(client):
    assert_problem(client.get("/v1/claims/does-not-exist"), 404)
    assert_problem(client.get("/v1/policies/NOPE"), 404)


def test_wrong_method_is_405_problem(client):
    assert_problem(client.delete("/v1/claims"), 405)


def test_unknown_route_is_404_problem(client):
    assert_problem(client.get("/v1/nothing-here"), 404)


def test_bad_cursor_is_400(client):
    assert_problem(client.get("/v1/claims?cursor=@@@"), 400)


def test_private_callback_url_is_refused_unless_allowed(client, context, app, monkeypatch):
    monkeypatch.setattr(context, "config", replace(context.config, callback_allow_private=False))
    body = claim(callback_url="http://127.0.0.1:9/hook")
    problem = assert_problem(client.post("/v1/claims", json=body), 422)
    assert problem["errors"][0]["field"] == "callback_url"
    body = claim(callback_url="ftp://example.com/hook")
    assert_problem(client.post("/v1/claims", json=body), 422)
    assert stored_claims(context) == 0


def test_policy_validation(client):
    bad = {
        "holder": "X",
        "status": "sleeping",
        "effective_from": "2026-02-01",
        "effective_to": "2026-01-01",
        "currency": "USD",
        "coverages": [
            {
                "claim_type": "device_damage",
                "limit_per_claim": "-1",
                "annual_aggregate": "10",
                "deductible": "0",
            }
        ],
    }
    problem = assert_problem(client.put("/v1/policies/P-1", json=bad), 422)
    fields = {e["field"] for e in problem["errors"]}
    assert {"status", "coverages.0.limit_per_claim"} <= fields


def test_outbox_written_with_the_decision(client, context):
    put_policies(client, ["P-DEV"])
    body = claim(callback_url="https://intake.example.com/hooks/claims")
    claim_id = client.post("/v1/claims", json=body).get_json()["id"]
    with context.unit_of_work() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.claim_id == claim_id)).all()
    kinds = sorted((r.event, r.channel) for r in rows)
    assert kinds == [
        ("acknowledgment", "email"),
        ("approved", "email"),
        ("claim.decided", "webhook"),
    ]
    assert all(r.status == "pending" for r in rows)
    assert all("sam@example.com" not in json.dumps(r.payload) for r in rows)


@pytest.mark.parametrize(
    ("field", "value"),
    [("date_of_loss", "0001-01-01"), ("reported_at", "0001-01-01T00:00:00+05:00")],
)
def test_dates_out_of_range_are_422_not_500(client, context, field, value):
    """Found by the schema fuzzer: year 1 overflowed the 12-month history window."""
    problem = assert_problem(client.post("/v1/claims", json=claim(**{field: value})), 422)
    assert problem["errors"][0]["field"] == field
    assert stored_claims(context) == 0
