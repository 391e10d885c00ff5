"""payments: lock_policy, current_facts and settle (the remaining annual aggregate)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from service.domain.decision import Decision
from service.domain.model import Claim, Document
from service.domain.payable import Adjustment
from service.usecases import manage_policies
from service.usecases.payments import AggregateExceeded, current_facts, lock_policy, settle
from service.usecases.submit_claim import submit_claim
from tests.unit.usecases.conftest import T0
from tests.unit.usecases.test_intake import POLICY as DEVICE_POLICY

pytestmark = pytest.mark.unit

# limit 800 a claim, 2000 a policy year, deductible 50
POLICY = replace(DEVICE_POLICY, number="P-PAY")


def submit(ctx, ref: str, amount: str, loss: date) -> dict:
    body = {
        "external_ref": ref,
        "policy_number": "P-PAY",
        "claim_type": "device_damage",
        "date_of_loss": loss,
        "amount": Decimal(amount),
        "currency": "USD",
        "claimant": {"name": "Sam", "email": "sam@example.com"},
        "documents": [
            {"type": "purchase_receipt", "ref": f"r-{ref}"},
            {"type": "photos", "ref": f"p-{ref}"},
        ],
    }
    return submit_claim(ctx, body, client_id="c").document


def new_claim(amount: str) -> Claim:
    return Claim(
        policy_number="P-PAY",
        claim_type="device_damage",
        date_of_loss=date(2026, 2, 25),
        reported_at=T0,
        amount=Decimal(amount),
        currency="USD",
        documents=(Document("purchase_receipt", "r-new"), Document("photos", "p-new")),
    )


def approved(payable: str, cut: str) -> Decision:
    return Decision(
        outcome="approved",
        payable_amount=Decimal(payable),
        reasons=(),
        missing_documents=(),
        ruleset_version="test",
        adjustments=(Adjustment("PR", "1", Decimal(cut), "test"),),
    )


@pytest.fixture
def paid_1450(ctx):
    """Two approvals: 850 - 50 -> 800 (the limit), 700 - 50 -> 650: 550 remains."""
    manage_policies.put_policy(ctx, POLICY)
    first = submit(ctx, "A", "850.00", date(2026, 2, 10))
    second = submit(ctx, "B", "700.00", date(2026, 2, 12))
    assert first["decision"]["payable_amount"] == "800.00"
    assert second["decision"]["payable_amount"] == "650.00"


def settle_with(ctx, claim: Claim, decision: Decision):
    with ctx.unit_of_work() as session:
        policy = lock_policy(session, claim.policy_number)
        return settle(
            session,
            claim,
            policy,
            required_documents=ctx.engine.ruleset.required_documents,
            default_zone=ctx.config.default_time_zone,
            decide=lambda facts: decision,
        )


def test_current_facts_show_the_remaining_aggregate_and_the_report_date(ctx, paid_1450):
    with ctx.unit_of_work(read_only=True) as session:
        policy = lock_policy(session, "P-PAY")
        assert policy == POLICY
        claim, history, facts = current_facts(
            session,
            new_claim("900.00"),
            policy,
            required_documents=ctx.engine.ruleset.required_documents,
            default_zone="UTC",
        )
    assert claim.reported_on == date(2026, 3, 2)
    assert history.paid_this_policy_year == Decimal("1450.00")
    assert history.claims_last_12_months == 2
    assert facts["aggregate_remaining"] == Decimal("550.00")  # 2000 - 1450
    assert facts["payable_amount"] == Decimal("550.00")  # min(900 - 50, 800, 550)


def test_settle_refuses_a_payment_above_what_remains(ctx, paid_1450):
    with pytest.raises(AggregateExceeded) as refused:
        settle_with(ctx, new_claim("900.00"), approved("550.01", "349.99"))
    assert refused.value.remaining == Decimal("550.00")
    assert refused.value.amount == Decimal("550.01")
    assert refused.value.currency == "USD"
    assert "550.00 USD" in str(refused.value)


def test_settle_accepts_exactly_what_remains_when_the_lines_balance(ctx, paid_1450):
    settled = settle_with(ctx, new_claim("900.00"), approved("550.00", "350.00"))
    assert settled.decision.payable_amount == Decimal("550.00")
    assert settled.facts["aggregate_remaining"] == Decimal("550.00")
    assert settled.time_zone == ctx.config.default_time_zone
    assert settled.claim.reported_on == date(2026, 3, 2)
    with pytest.raises(RuntimeError, match="do not balance"):
        settle_with(ctx, new_claim("900.00"), approved("550.00", "349.00"))


def test_without_a_policy_any_payment_is_refused_but_a_rejection_passes(ctx):
    with pytest.raises(AggregateExceeded) as refused:
        settle_with(ctx, new_claim("100.00"), approved("50.00", "50.00"))
    assert refused.value.remaining == Decimal("0")
    rejection = Decision("rejected", Decimal("0.00"), (), (), "test")
    assert settle_with(ctx, new_claim("100.00"), rejection).policy is None


def test_intake_pays_only_what_remains_then_nothing(ctx, paid_1450):
    third = submit(ctx, "C", "900.00", date(2026, 2, 25))
    assert third["decision"]["outcome"] == "approved"
    assert third["decision"]["payable_amount"] == "550.00"  # min(850, 800, 550)
    with ctx.unit_of_work(read_only=True) as session:
        _, _, facts = current_facts(
            session,
            new_claim("100.00"),
            lock_policy(session, "P-PAY"),
            required_documents=ctx.engine.ruleset.required_documents,
            default_zone="UTC",
        )
    assert facts["aggregate_remaining"] == Decimal("0.00")
    assert facts["payable_amount"] == Decimal("0.00")
