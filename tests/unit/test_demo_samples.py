"""The demo's samples cover every outcome and line of business, and stay valid over time."""

from __future__ import annotations

from datetime import date

import pytest

from devtools.demo import samples
from devtools.demo.table import row_lines
from service.domain.model import CLAIM_TYPES, OUTCOMES

pytestmark = pytest.mark.unit
TODAY = date(2026, 3, 1)


def test_every_outcome_and_claim_type_appears():
    claims = samples.claims(TODAY)
    assert 18 <= len(claims) <= 30
    assert {c.expect for c in claims} == set(OUTCOMES)
    assert {c.payload["claim_type"] for c in claims} == set(CLAIM_TYPES)


def test_claims_refer_to_sample_policies_except_the_unknown_one():
    numbers = {p.number for p in samples.policies(TODAY)}
    unknown = [c for c in samples.claims(TODAY) if c.payload["policy_number"] not in numbers]
    assert [c.expect for c in unknown] == ["escalated"]


def test_external_refs_are_unique_and_the_duplicate_differs_only_by_ref():
    claims = samples.claims(TODAY)
    refs = [c.payload["external_ref"] for c in claims]
    assert len(refs) == len(set(refs))

    def without_ref(claim):
        return {k: v for k, v in claim.payload.items() if k != "external_ref"}

    pairs = [
        (a, b)
        for i, a in enumerate(claims)
        for b in claims[i + 1 :]
        if without_ref(a) == without_ref(b)
    ]
    assert [(a.expect, b.expect) for a, b in pairs] == [("approved", "rejected")]


def test_no_policy_gets_three_earlier_claims_except_the_frequency_one():
    per_policy: dict[str, int] = {}
    for claim in samples.claims(TODAY):
        per_policy[claim.payload["policy_number"]] = (
            per_policy.get(claim.payload["policy_number"], 0) + 1
        )
    assert per_policy.pop("FREQ-4001") == 4
    assert max(per_policy.values()) <= 3


def test_personal_data_is_fake():
    for claim in samples.claims(TODAY):
        assert claim.payload["claimant"]["email"].endswith("@example.com")
        assert claim.payload.get("reported_at", "9999") >= claim.payload["date_of_loss"]


def test_table_row_shows_reasons_and_flags_a_mismatch():
    sample = samples.claims(TODAY)[0]
    body = {
        "decision": {
            "outcome": "rejected",
            "payable_amount": "0.00",
            "reasons": [
                {"code": "DEDUCTIBLE", "carc": "1", "message": "Nothing payable", "rule": "r1"}
            ],
        }
    }
    lines, matched = row_lines(sample, 201, body)
    assert not matched and "DEDUCTIBLE (CARC 1): Nothing payable" in lines[0]
    body["decision"]["reasons"].append({"code": "OK", "action": "approve", "message": "ok"})
    assert not any("OK" in line for line in row_lines(sample, 201, body)[0])
    assert "expected approved" in lines[-1]
    lines, matched = row_lines(sample, 422, {"title": "Unprocessable", "errors": {"x": ["bad"]}})
    assert not matched and "HTTP 422" in lines[0]
