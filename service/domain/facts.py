"""The facts the rules see, computed before the rules run.

Rules stay simple comparisons because everything that needs arithmetic,
dates or history is worked out here, in Decimal and with explicit dates.
`FACTS` is the one catalogue of fact names and types: the rule checker,
the analysts' guide and the engine adapter all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from service.domain.model import (
    CLAIM_TYPES,
    LINES_OF_BUSINESS,
    POLICY_STATUSES,
    Claim,
    History,
    Policy,
)
from service.domain.money import ZERO


@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    description: str
    example: object
    values: tuple[str, ...] = ()


FACTS: dict[str, Fact] = {
    f.name: f
    for f in (
        Fact("claim.claim_type", "enum", "Type of loss", "device_damage", CLAIM_TYPES),
        Fact(
            "claim.line_of_business",
            "enum",
            "device, property or medical",
            "device",
            ("device", "property", "medical"),
        ),
        Fact("claim.amount", "money", "Amount claimed", "350.00"),
        Fact("claim.currency", "string", "ISO 4217 currency of the claim", "USD"),
        Fact("claim.date_of_loss", "date", "Day the loss happened", "2026-03-14"),
        Fact("claim.reported_on", "date", "Day the claim was reported (UTC)", "2026-03-16"),
        Fact("claim.documents_count", "integer", "Documents attached so far", 2),
        Fact("claim.line_items_count", "integer", "Line items on the claim", 0),
        Fact("policy.found", "boolean", "A policy with that number is on file", True),
        Fact("policy.status", "enum", "Policy status", "active", POLICY_STATUSES),
        Fact("policy.effective_from", "date", "First day of cover", "2026-01-01"),
        Fact("policy.effective_to", "date", "Last day of cover", "2026-12-31"),
        Fact("policy.currency", "string", "Currency of the policy", "USD"),
        Fact("coverage.found", "boolean", "The policy covers this claim type", True),
        Fact("coverage.limit_per_claim", "money", "Most paid for one claim", "800.00"),
        Fact("coverage.annual_aggregate", "money", "Most paid per policy year", "5000.00"),
        Fact("coverage.deductible", "money", "Part of the loss the holder pays", "50.00"),
        Fact("coverage.waiting_period_days", "integer", "Days after start with no cover", 0),
        Fact("days_to_report", "integer", "Days from loss to report", 2),
        Fact("policy_in_force", "boolean", "Active and in force on the date of loss", True),
        Fact("loss_before_policy_start", "boolean", "Loss before effective_from", False),
        Fact(
            "loss_after_policy_end",
            "boolean",
            "Loss after effective_to, or policy lapsed/cancelled",
            False,
        ),
        Fact("days_since_policy_start", "integer", "Days from effective_from to the loss", 72),
        Fact("within_waiting_period", "boolean", "Loss inside the waiting period", False),
        Fact("claims_last_12_months", "integer", "Earlier claims on the policy, 12 months", 1),
        Fact("aggregate_used", "money", "Paid this policy year for this claim type", "200.00"),
        Fact("aggregate_remaining", "money", "Annual aggregate still available", "4800.00"),
        Fact("possible_duplicate", "boolean", "Same policy, type, date and amount stored", False),
        Fact("missing_documents", "list", "Required documents not yet received", ["photos"]),
        Fact("missing_documents_count", "integer", "How many documents are missing", 1),
        Fact("over_limit_per_claim", "boolean", "Amount above the per-claim limit", False),
        Fact("over_remaining_aggregate", "boolean", "Amount above what remains", False),
        Fact("covered_amount", "money", "min(amount, limit, remaining)", "350.00"),
        Fact("payable_amount", "money", "covered_amount - deductible, not below 0", "300.00"),
        Fact("currency_matches", "boolean", "Claim currency equals policy currency", True),
    )
}


def build_facts(
    claim: Claim,
    policy: Policy | None,
    history: History,
    required_documents: Mapping[str, tuple[str, ...]],
) -> dict[str, Any]:
    """Everything the rules may read, as a nested dict (absent = unknown)."""
    reported_on = claim.reported_at.date()
    have = {d.type for d in claim.documents}
    missing = [d for d in required_documents.get(claim.claim_type, ()) if d not in have]
    facts: dict[str, Any] = {
        "claim": {
            "claim_type": claim.claim_type,
            "line_of_business": LINES_OF_BUSINESS.get(claim.claim_type, "other"),
            "amount": claim.amount,
            "currency": claim.currency,
            "date_of_loss": claim.date_of_loss,
            "reported_on": reported_on,
            "documents_count": len(claim.documents),
            "line_items_count": claim.line_items_count,
        },
        "days_to_report": (reported_on - claim.date_of_loss).days,
        "missing_documents": missing,
        "missing_documents_count": len(missing),
        "possible_duplicate": history.duplicate_of is not None,
        "claims_last_12_months": history.claims_last_12_months,
        "policy": {"found": policy is not None},
        "coverage": {"found": False},
    }
    if policy is None:
        return facts
    facts["policy"].update(
        status=policy.status,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        currency=policy.currency,
    )
    before = claim.date_of_loss < policy.effective_from
    after = claim.date_of_loss > policy.effective_to or policy.status != "active"
    facts.update(
        loss_before_policy_start=before,
        loss_after_policy_end=after,
        policy_in_force=not before and not after,
        days_since_policy_start=(claim.date_of_loss - policy.effective_from).days,
        currency_matches=claim.currency == policy.currency,
    )
    coverage = policy.coverage_for(claim.claim_type)
    if coverage is None:
        return facts
    facts["coverage"] = {
        "found": True,
        "limit_per_claim": coverage.limit_per_claim,
        "annual_aggregate": coverage.annual_aggregate,
        "deductible": coverage.deductible,
        "waiting_period_days": coverage.waiting_period_days,
    }
    facts.update(
        _amounts(
            claim.amount,
            coverage.limit_per_claim,
            coverage.annual_aggregate,
            coverage.deductible,
            history.paid_this_policy_year,
        )
    )
    facts["within_waiting_period"] = (
        0 <= facts["days_since_policy_start"] < coverage.waiting_period_days
    )
    return facts


def _amounts(
    amount: Decimal, limit: Decimal, aggregate: Decimal, deductible: Decimal, used: Decimal
) -> dict[str, Any]:
    remaining = max(aggregate - used, ZERO)
    covered = min(amount, limit, remaining)
    return {
        "aggregate_used": used,
        "aggregate_remaining": remaining,
        "over_limit_per_claim": amount > limit,
        "over_remaining_aggregate": amount > remaining,
        "covered_amount": covered,
        "payable_amount": max(covered - deductible, ZERO),
    }


def flatten(facts: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"claim": {"amount": x}} -> {"claim.amount": x}."""
    flat: dict[str, Any] = {}
    for key, value in facts.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def date_number(day: date) -> int:
    """Dates reach the engine as YYYYMMDD integers so that order comparisons work."""
    return day.year * 10000 + day.month * 100 + day.day


def facts_to_json(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Store facts as JSON: money as strings with two decimals, dates as ISO strings."""
    out: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, Mapping):
            out[key] = facts_to_json(value)
        elif isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, (list, tuple)):
            out[key] = list(value)
        else:
            out[key] = value
    return out


def facts_from_json(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of facts_to_json, guided by the FACTS catalogue's types."""
    flat = flatten(stored)
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        fact = FACTS.get(name)
        if fact is not None and value is not None:
            if fact.type == "money":
                value = Decimal(str(value))
            elif fact.type == "date":
                value = date.fromisoformat(str(value))
        target = nested
        *parents, leaf = name.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return nested
