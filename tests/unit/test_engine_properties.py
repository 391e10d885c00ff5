"""Property tests of the engine path: build_facts -> RulesEngine -> decide.

payable is min(amount - deductible, limit, remaining aggregate), never negative,
and its adjustment lines balance; the decision is a
pure function of the facts (same facts, same decision, whatever was evaluated
before); the order claims are evaluated in never changes a result; and the
durable_rules engine agrees with the project's pure-Python evaluator.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.calendar import Duration
from service.domain.facts import build_facts
from service.domain.model import CLAIM_TYPES, Claim, Coverage, Document, History, Policy
from service.rules.compiler import evaluate_python
from service.rules.engine import RulesEngine, adjudicate, load_ruleset

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# `make test-fast` sets PROPERTY_EXAMPLES low for a quick loop; `make test` runs 150.
SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@functools.cache
def engine() -> RulesEngine:
    return RulesEngine(load_ruleset(ROOT / "rules"))


money = st.decimals(
    min_value=Decimal("0.01"),
    max_value=Decimal("60000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
small_money = st.decimals(
    min_value=Decimal("0"),
    max_value=Decimal("3000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))
DOCS = (
    "purchase_receipt",
    "photos",
    "police_report",
    "scope_notes",
    "estimate",
    "fire_report",
    "invoice",
    "medical_report",
    "id_card",
)


@st.composite
def coverages(draw: Any, claim_type: str) -> Coverage:
    limit = draw(money)
    return Coverage(
        claim_type=claim_type,
        limit_per_claim=limit,
        annual_aggregate=draw(st.one_of(st.just(limit), money)),
        deductible=draw(small_money),
        waiting_period=draw(
            st.sampled_from((Duration(0, "days"), Duration(14, "days"), Duration(1, "months")))
        ),
    )


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    """Facts of one claim: maybe a policy, maybe its coverage, some history."""
    claim_type = draw(st.sampled_from(CLAIM_TYPES))
    loss = draw(days)
    reported = loss + timedelta(
        days=draw(st.sampled_from((0, 1, 5, 28, 29, 30, 31, 200, 365, 366, 367, 500)))
    )
    claim = Claim(
        policy_number="P-1",
        claim_type=claim_type,
        date_of_loss=loss,
        reported_at=datetime.combine(reported, time(12), tzinfo=UTC),
        reported_on=reported,
        amount=draw(money),
        currency="USD",
        documents=tuple(
            Document(d, f"ref-{d}")
            for d in draw(st.lists(st.sampled_from(DOCS), unique=True, max_size=4))
        ),
    )
    policy = None
    if draw(st.booleans()) or draw(st.booleans()):
        start = draw(days)
        types = draw(st.lists(st.sampled_from(CLAIM_TYPES), unique=True, max_size=3))
        if draw(st.booleans()):
            types = [claim_type, *[t for t in types if t != claim_type]]
        status = draw(st.sampled_from(("active", "active", "active", "lapsed", "cancelled")))
        end = start + timedelta(days=draw(st.integers(0, 900)))
        stopped = start + timedelta(days=draw(st.integers(0, (end - start).days)))
        policy = Policy(
            number="P-1",
            holder="H",
            status=status,
            effective_from=start,
            effective_to=end,
            terminated_on=None if status == "active" else stopped,
            currency=draw(st.sampled_from(("USD", "USD", "USD", "EUR"))),
            coverages=tuple(draw(coverages(t)) for t in types),
        )
    history = History(
        claims_last_12_months=draw(st.integers(0, 6)),
        paid_this_policy_year=draw(st.one_of(st.just(Decimal("0.00")), money)),
        duplicate_of=draw(st.sampled_from((None, None, None, "c-0"))),
        similar_to=draw(st.sampled_from((None, None, None, "c-1"))),
    )
    return build_facts(claim, policy, history, engine().ruleset.required_documents)


def _key(decision: Any) -> tuple:
    return (
        decision.outcome,
        decision.payable_amount,
        tuple(r.rule for r in decision.reasons),
        decision.missing_documents,
    )


@SETTINGS
@given(cases())
def test_payable_never_negative_nor_above_the_limit(facts: dict[str, Any]) -> None:
    decision = adjudicate(engine(), facts)
    if decision.payable_amount is None:
        assert decision.outcome in ("escalated", "pending_info")
        return
    assert decision.payable_amount >= 0
    coverage = facts["coverage"]
    claimed = facts["claim"]["amount"]
    if decision.outcome == "approved":
        assert coverage["found"]
        assert facts["currency_matches"]  # another currency is never approved automatically
        assert decision.payable_amount == max(
            min(
                claimed - coverage["deductible"],
                coverage["limit_per_claim"],
                facts["aggregate_remaining"],
            ),
            0,
        )
    else:
        assert decision.payable_amount == 0
    # claimed - sum(adjustments) = payable, every line with a group and a CARC
    assert claimed - sum(a.amount for a in decision.adjustments) == decision.payable_amount
    assert all(a.group in ("PR", "CO", "OA") and a.carc for a in decision.adjustments)


@SETTINGS
@given(cases(), st.lists(cases(), max_size=5))
def test_decision_is_a_pure_function_of_the_facts(
    facts: dict[str, Any], others: list[dict[str, Any]]
) -> None:
    first = _key(adjudicate(engine(), facts))
    for other in others:
        adjudicate(engine(), other)
    assert _key(adjudicate(engine(), facts)) == first


@SETTINGS
@given(st.lists(cases(), min_size=2, max_size=8), st.randoms(use_true_random=False))
def test_evaluation_order_never_changes_a_result(batch: list[dict[str, Any]], rnd: Any) -> None:
    forward = [_key(adjudicate(engine(), f)) for f in batch]
    order = list(range(len(batch)))
    rnd.shuffle(order)
    shuffled = {i: _key(adjudicate(engine(), batch[i])) for i in order}
    assert [shuffled[i] for i in range(len(batch))] == forward


@SETTINGS
@given(cases())
def test_durable_engine_agrees_with_the_python_evaluator(facts: dict[str, Any]) -> None:
    durable = sorted(r.rule for r in engine().evaluate(facts))
    python = sorted(r.id for r in engine().ruleset.rules if evaluate_python(r, facts))
    assert durable == python
