"""Every default rule, through the HTTP API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.helpers import carcs, claim, codes, put_policies

pytestmark = pytest.mark.integration

# (name, claim body, expected outcome, expected payable, codes that must be present, CARCs)
SCENARIOS = [
    (
        "approve_with_deductible",
        claim(amount="300"),
        "approved",
        "250.00",
        {"DEDUCTIBLE_APPLIED"},
        {"1"},
    ),
    (
        "approve_no_deductible",
        claim("P-MED", "medical_reimbursement", "1200.50"),
        "approved",
        "1200.50",
        set(),
        set(),
    ),
    ("policy_not_found", claim("NOPE-1"), "escalated", None, {"POLICY_NOT_FOUND"}, set()),
    (
        "before_start",
        claim("P-FUTURE", date_of_loss="2026-05-01"),
        "rejected",
        "0.00",
        set(),
        {"26"},
    ),
    ("lapsed", claim("P-LAPSED"), "rejected", "0.00", set(), {"27"}),
    ("after_end", claim("P-ENDED", date_of_loss="2026-02-01"), "rejected", "0.00", set(), {"27"}),
    (
        "in_force_last_day",
        claim("P-ENDED", date_of_loss="2025-12-31", reported_at="2026-01-02T10:00:00+00:00"),
        "approved",
        "250.00",
        set(),
        set(),
    ),
    ("not_covered", claim("P-MED", "device_damage"), "rejected", "0.00", set(), {"96"}),
    (
        "waiting_period",
        claim("P-DEV", "device_theft", "500", date_of_loss="2026-01-20"),
        "rejected",
        "0.00",
        set(),
        None,
    ),
    ("filing_limit", claim("P-DEV", date_of_loss="2025-05-01"), "rejected", "0.00", set(), {"29"}),
    (
        "late_reporting",
        claim(date_of_loss="2026-04-01"),
        "escalated",
        None,
        {"LATE_REPORTING"},
        set(),
    ),
    ("missing_documents", claim(documents=["photos"]), "pending_info", None, set(), {"16"}),
    ("at_deductible", claim(amount="50"), "rejected", "0.00", set(), {"1"}),
    (
        "above_threshold_medical",
        claim("P-MED", "medical_reimbursement", "2500"),
        "escalated",
        None,
        {"AMOUNT_ABOVE_THRESHOLD"},
        set(),
    ),
    (
        "above_threshold_property",
        claim("P-PROP", "fire_damage", "7000", date_of_loss="2026-06-01"),
        "escalated",
        None,
        {"AMOUNT_ABOVE_THRESHOLD"},
        set(),
    ),
    # deductible first, then the limit: min(1000 - 50, 800)
    ("over_limit_paid_to_limit", claim(amount="1000"), "approved", "800.00", set(), {"119"}),
]


@pytest.mark.parametrize(
    ("name", "body", "outcome", "payable", "must_codes", "must_carcs"),
    SCENARIOS,
    ids=[s[0] for s in SCENARIOS],
)
def test_default_rule(client, name, body, outcome, payable, must_codes, must_carcs):
    put_policies(client)
    response = client.post("/v1/claims", json=body)
    assert response.status_code == 201, response.get_json()
    decision = response.get_json()["decision"]
    assert decision["outcome"] == outcome, decision["reasons"]
    if outcome in ("approved", "rejected"):
        assert decision["payable_amount"] == payable
    assert must_codes <= codes(decision), decision["reasons"]
    if must_carcs is not None:
        assert must_carcs <= carcs(decision), decision["reasons"]
    assert len(decision["ruleset_version"]) == 64
    assert decision["trace"], "the fired rules are traced"


def test_missing_documents_are_listed(client):
    put_policies(client)
    body = claim("P-PROP", "water_damage", "900", date_of_loss="2026-06-01", documents=["photos"])
    decision = client.post("/v1/claims", json=body).get_json()["decision"]
    assert decision["outcome"] == "pending_info"
    assert decision["missing_documents"] == ["scope_notes", "estimate"]


def test_duplicate_is_rejected(client):
    put_policies(client)
    first = claim(amount="120")
    second = dict(first, external_ref=first["external_ref"] + "-again")
    assert client.post("/v1/claims", json=first).get_json()["status"] == "approved"
    decision = client.post("/v1/claims", json=second).get_json()["decision"]
    assert decision["outcome"] == "rejected"
    assert "18" in carcs(decision)


def test_frequency_review_after_three_claims(client):
    put_policies(client)
    for day in ("2026-02-01", "2026-03-01", "2026-04-20"):
        body = claim(
            "P-MED",
            "medical_reimbursement",
            "100",
            date_of_loss=day,
            reported_at=f"{day}T12:00:00+00:00",
        )
        assert client.post("/v1/claims", json=body).status_code == 201
    decision = client.post(
        "/v1/claims", json=claim("P-MED", "medical_reimbursement", "100")
    ).get_json()["decision"]
    assert decision["outcome"] == "escalated"
    assert "FREQUENCY_REVIEW" in codes(decision)


def test_aggregate_is_consumed_then_exhausted(client):
    """P-DEV device_damage: limit 800, aggregate 2000, deductible 50."""
    put_policies(client)
    paid = []
    for i, day in enumerate(("2026-06-01", "2026-06-05", "2026-06-09")):
        body = claim(amount="900", date_of_loss=day, reported_at=f"{day}T12:00:00+00:00")
        decision = client.post("/v1/claims", json=body).get_json()["decision"]
        paid.append((decision["outcome"], decision["payable_amount"]))
        assert decision["outcome"] == "approved", (i, decision["reasons"])
    # min(900 - 50, 800) twice; then 2000 - 1600 = 400 remains of the aggregate
    assert paid == [("approved", "800.00"), ("approved", "800.00"), ("approved", "400.00")]
    body = claim(amount="900", date_of_loss="2026-06-12")  # nothing remains
    decision = client.post("/v1/claims", json=body).get_json()["decision"]
    assert decision["outcome"] == "escalated"
    assert "119" in carcs(decision)
