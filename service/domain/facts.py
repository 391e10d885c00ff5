"""The facts the rules see, computed before the rules run.

Rules stay simple comparisons because everything that needs arithmetic,
dates or history is worked out here, in Decimal and with explicit dates.
`FACTS` is the one catalogue of fact names and types: the rule checker,
the analysts' guide and the engine adapter all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from service.domain.calendar import Span, local_date
from service.domain.fee_schedule import FeeSchedule
from service.domain.lines import LineDecision, LineInput, decide_lines
from service.domain.model import (
    CLAIM_TYPES,
    LINES_OF_BUSINESS,
    PERIODS,
    POLICY_STATUSES,
    Claim,
    Coverage,
    History,
    Policy,
)
from service.domain.money import ZERO, is_currency, quantum
from service.domain.payable import (
    ANNUAL_AGGREGATE,
    DEDUCTIBLE,
    PER_CLAIM_LIMIT,
    Breakdown,
    breakdown,
)


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
        Fact(
            "claim.reported_on",
            "date",
            "Day the claim was reported, in the policy's time zone (fixed at intake)",
            "2026-03-16",
        ),
        Fact("claim.documents_count", "integer", "Documents attached so far", 2),
        Fact("claim.line_items_count", "integer", "Line items on the claim", 0),
        Fact("policy.found", "boolean", "A policy with that number is on file", True),
        Fact("policy.status", "enum", "Policy status", "active", POLICY_STATUSES),
        Fact("policy.effective_from", "date", "First day of cover", "2026-01-01"),
        Fact("policy.effective_to", "date", "Last day of the policy term", "2026-12-31"),
        Fact(
            "policy.terminated_on",
            "date",
            "Last day of cover of a lapsed or cancelled policy (unknown if active)",
            "2026-11-15",
        ),
        Fact(
            "policy.cover_ends_on",
            "date",
            "Last day of cover: effective_to, or terminated_on if earlier",
            "2026-12-31",
        ),
        Fact(
            "policy.year_start",
            "date",
            "First day of the policy year of the loss (calendar.policy_year)",
            "2026-01-01",
        ),
        Fact(
            "policy.year_end",
            "date",
            "Last day of the policy year of the loss",
            "2026-12-31",
        ),
        Fact("policy.currency", "string", "Currency of the policy", "USD"),
        Fact("coverage.found", "boolean", "The policy covers this claim type", True),
        Fact("coverage.limit_per_claim", "money", "Most paid for one claim", "800.00"),
        Fact("coverage.annual_aggregate", "money", "Most paid per policy year", "5000.00"),
        Fact("coverage.deductible", "money", "Part of the loss the holder pays", "50.00"),
        Fact(
            "coverage.deductible_period",
            "enum",
            "claim: each claim its own deductible; policy_year: met once a policy year",
            "claim",
            PERIODS,
        ),
        Fact(
            "coverage.out_of_pocket_maximum",
            "money",
            "Most the insured pays (deductible) per out_of_pocket_period (unknown if none)",
            "1000.00",
        ),
        Fact("coverage.out_of_pocket_period", "enum", "claim or policy_year", "claim", PERIODS),
        Fact(
            "deductible_met",
            "money",
            "Deductible already taken this policy year by other approved claims of this type "
            "(0 when the deductible counts per claim)",
            "300.00",
        ),
        Fact(
            "deductible_remaining",
            "money",
            "What of the deductible this claim can still take (after deductible_met and the "
            "out-of-pocket maximum)",
            "200.00",
        ),
        Fact(
            "out_of_pocket_met",
            "money",
            "Patient responsibility (PR cuts) already counted this policy year",
            "300.00",
        ),
        Fact(
            "out_of_pocket_remaining",
            "money",
            "What the insured may still be made to pay before the out-of-pocket maximum "
            "(unknown without one)",
            "700.00",
        ),
        Fact(
            "allowed_amount",
            "money",
            "Amount claimed less fee-schedule cuts (CO 45) and lines denied by line rules; "
            "the amount claimed for a claim without line items",
            "320.00",
        ),
        Fact(
            "lines_denied_count",
            "integer",
            "Line items denied by line rules (0 without line items)",
            0,
        ),
        Fact("line.sequence", "integer", "The line's position on the claim, from 1", 1),
        Fact("line.code", "string", "The line's service or procedure code", "99213"),
        Fact("line.amount", "money", "Amount submitted for the line", "120.00"),
        Fact(
            "line.known",
            "boolean",
            "The code is on the fee schedule (rules/fee_schedules/) on the date of loss",
            True,
        ),
        Fact(
            "line.covered",
            "boolean",
            "The fee schedule marks the code covered (unknown if the code is not on it)",
            True,
        ),
        Fact(
            "line.allowed_maximum",
            "money",
            "The fee schedule's maximum allowed for the code (unknown if none is set)",
            "100.00",
        ),
        Fact(
            "line.over_maximum",
            "boolean",
            "The line's amount is above its allowed maximum (cut CO 45)",
            False,
        ),
        Fact(
            "report_delay",
            "duration",
            "Calendar time from the loss to the report date; compare with "
            "{years: n}, {months: n} or {days: n}",
            {"months": 0, "days": 2},
        ),
        Fact("days_to_report", "integer", "Days from loss to report date", 2),
        Fact("policy_in_force", "boolean", "Cover in force on the date of loss", True),
        Fact("loss_before_policy_start", "boolean", "Loss before effective_from", False),
        Fact(
            "loss_after_policy_end",
            "boolean",
            "Loss after the last day of cover (policy.cover_ends_on)",
            False,
        ),
        Fact("days_since_policy_start", "integer", "Days from effective_from to the loss", 72),
        Fact(
            "within_waiting_period",
            "boolean",
            "Loss before the coverage's waiting period (calendar) has run from effective_from",
            False,
        ),
        Fact(
            "claims_last_12_months",
            "integer",
            "Claims on the policy submitted before this one, loss in the 12 months up to its loss",
            1,
        ),
        Fact("aggregate_used", "money", "Paid this policy year for this claim type", "200.00"),
        Fact("aggregate_remaining", "money", "Annual aggregate still available", "4800.00"),
        Fact(
            "exact_duplicate",
            "boolean",
            "An earlier claim: same policy, type, date, amount and a shared document "
            "reference or the same line items",
            False,
        ),
        Fact("duplicate_of", "string", "The first exact duplicate's claim id", "c0ffee00-..."),
        Fact(
            "suspected_duplicate",
            "boolean",
            "An earlier claim with the same policy, type, date and amount, other evidence",
            False,
        ),
        Fact("similar_claim", "string", "The suspected duplicate's claim id", "c0ffee00-..."),
        Fact("missing_documents", "list", "Required documents not yet received", ["photos"]),
        Fact("missing_documents_count", "integer", "How many documents are missing", 1),
        Fact("deductible_applied", "money", "Cut by the deductible (PR, CARC 1)", "50.00"),
        Fact(
            "over_limit_per_claim",
            "boolean",
            "Amount less the deductible is above the per-claim limit",
            False,
        ),
        Fact(
            "over_remaining_aggregate",
            "boolean",
            "What the per-claim limit allows is above what remains of the aggregate",
            False,
        ),
        Fact(
            "payable_amount",
            "money",
            "min(amount - deductible, limit_per_claim, aggregate_remaining), not below 0",
            "300.00",
        ),
        Fact("currency_matches", "boolean", "Claim currency equals policy currency", True),
    )
}


def report_date(reported_at: datetime, policy: Policy | None, default_zone: str) -> date:
    """The report date: `reported_at` as a calendar date in the policy's time zone (or
    `default_zone`, the DEFAULT_TIME_ZONE setting). Worked out once, at intake."""
    return local_date(reported_at, zone_of(policy, default_zone))


def zone_of(policy: Policy | None, default_zone: str) -> str:
    return policy.time_zone if policy is not None and policy.time_zone else default_zone


def build_facts(
    claim: Claim,
    policy: Policy | None,
    history: History,
    required_documents: Mapping[str, tuple[str, ...]],
) -> dict[str, Any]:
    """Everything the rules may read, as a nested dict (absent = unknown).

    `claim.reported_on` is the report date fixed at intake; a claim without one is
    taken as reported on its UTC date."""
    reported_on = claim.reported_on or claim.reported_at.astimezone(UTC).date()
    have = {d.type for d in claim.documents}
    missing = [d for d in required_documents.get(claim.claim_type, ()) if d not in have]
    lines = [
        {"sequence": i, "code": item.code, "amount": item.amount}
        for i, item in enumerate(claim.line_items, start=1)
    ]
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
        "report_delay": Span.between(claim.date_of_loss, reported_on),
        "days_to_report": (reported_on - claim.date_of_loss).days,
        "missing_documents": missing,
        "missing_documents_count": len(missing),
        "exact_duplicate": history.duplicate_of is not None,
        "suspected_duplicate": history.duplicate_of is None and history.similar_to is not None,
        "claims_last_12_months": history.claims_last_12_months,
        "policy": {"found": policy is not None},
        "coverage": {"found": False},
        "allowed_amount": claim.amount,
        "lines_denied_count": 0,
    }
    if lines:
        facts["lines"] = lines  # each line's facts; the rules see one at a time as `line`
    if history.duplicate_of is not None:
        facts["duplicate_of"] = history.duplicate_of
    elif history.similar_to is not None:
        facts["similar_claim"] = history.similar_to
    if policy is None:
        return facts
    facts["policy"].update(
        status=policy.status,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        cover_ends_on=policy.cover_ends_on,
        currency=policy.currency,
    )
    year_start, next_year = policy.policy_year(claim.date_of_loss)  # the aggregate's year
    facts["policy"].update(year_start=year_start, year_end=next_year - timedelta(days=1))
    if policy.terminated_on is not None:
        facts["policy"]["terminated_on"] = policy.terminated_on
    before = claim.date_of_loss < policy.effective_from
    after = claim.date_of_loss > policy.cover_ends_on
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
    facts["coverage"] = {"found": True}
    facts["within_waiting_period"] = (
        policy.effective_from
        <= claim.date_of_loss
        < coverage.waiting_period.after(policy.effective_from)
    )
    if claim.currency != policy.currency:
        # No arithmetic across currencies: the cover's figures are in the policy's
        # currency, the claim's amount in another. They stay unknown, so no rule
        # compares them and nothing payable is worked out (the claim is escalated,
        # CURRENCY_MISMATCH, service/domain/decision.py).
        return facts
    facts["coverage"].update(
        limit_per_claim=coverage.limit_per_claim,
        annual_aggregate=coverage.annual_aggregate,
        deductible=coverage.deductible,
        deductible_period=coverage.deductible_period,
        out_of_pocket_period=coverage.out_of_pocket_period,
    )
    if coverage.out_of_pocket_maximum is not None:
        facts["coverage"]["out_of_pocket_maximum"] = coverage.out_of_pocket_maximum
    facts.update(_deductible(coverage, history))
    facts.update(
        _amounts(claim.amount, coverage, history.paid_this_policy_year, policy.currency, facts)
    )
    return facts


def _deductible(coverage: Coverage, history: History) -> dict[str, Any]:
    """What of the deductible this claim can take: the coverage's deductible per claim,
    or what is left of it this policy year; never more than what is left of the
    out-of-pocket maximum (per claim, or per policy year)."""
    yearly = coverage.deductible_period == "policy_year"
    met = history.deductible_met if yearly else ZERO
    remaining = max(coverage.deductible - met, ZERO)
    out: dict[str, Any] = {"deductible_met": met}
    if coverage.out_of_pocket_maximum is not None:
        oop_yearly = coverage.out_of_pocket_period == "policy_year"
        oop_met = history.out_of_pocket_met if oop_yearly else ZERO
        oop_remaining = max(coverage.out_of_pocket_maximum - oop_met, ZERO)
        remaining = min(remaining, oop_remaining)
        out.update(out_of_pocket_met=oop_met, out_of_pocket_remaining=oop_remaining)
    out["deductible_remaining"] = remaining
    return out


def _amounts(
    amount: Decimal, coverage: Coverage, used: Decimal, currency: str, facts: Mapping[str, Any]
) -> dict[str, Any]:
    """The amounts worked out from the cover, each in the currency's minor units (JPY
    900, not 900.00; KWD 0.000): what the facts store and show."""
    remaining = max(coverage.annual_aggregate - used, ZERO)
    deductible = Decimal(str(facts["deductible_remaining"]))
    result = breakdown(amount, deductible, coverage.limit_per_claim, remaining)
    cuts = {line.reason: line.amount for line in result.adjustments}
    step = quantum(currency) if is_currency(currency) else None

    def money(value: Decimal) -> Decimal:
        return value.quantize(step) if step is not None else value

    return {
        "aggregate_used": money(used),
        "aggregate_remaining": money(remaining),
        "deductible_applied": money(cuts.get(DEDUCTIBLE, ZERO)),
        "over_limit_per_claim": PER_CLAIM_LIMIT in cuts,
        "over_remaining_aggregate": ANNUAL_AGGREGATE in cuts,
        "payable_amount": money(result.payable),
    }


def breakdown_from_facts(facts: Mapping[str, Any]) -> Breakdown | None:
    """The payable amount and its adjustment lines, from the facts (None: no coverage,
    or no amounts worked out because the claim is in another currency than the policy)."""
    coverage = facts.get("coverage") or {}
    if not coverage.get("found") or "aggregate_remaining" not in facts:
        return None
    return breakdown(
        Decimal(str(facts["claim"]["amount"])),
        Decimal(str(facts.get("deductible_remaining", coverage["deductible"]))),
        Decimal(str(coverage["limit_per_claim"])),
        Decimal(str(facts["aggregate_remaining"])),
    )


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
    """Store facts as JSON: money as strings (with the decimals it has), dates as ISO
    strings, calendar spans as {months, days, total_days}."""
    out: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, Mapping):
            out[key] = facts_to_json(value)
        elif isinstance(value, Span):
            out[key] = value.as_dict()
        elif isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, (list, tuple)):
            out[key] = [facts_to_json(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


def facts_from_json(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of facts_to_json, guided by the FACTS catalogue's types."""
    stored = dict(stored)
    lines = stored.pop("lines", None)
    spans = {
        name: Span.from_dict(stored.pop(name))
        for name, fact in FACTS.items()
        if fact.type == "duration" and isinstance(stored.get(name), Mapping)
    }
    flat = flatten(stored)
    nested: dict[str, Any] = dict(spans)
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
    if isinstance(lines, list):
        nested["lines"] = [
            facts_from_json({"line": line}).get("line", {})
            for line in lines
            if isinstance(line, Mapping)
        ]
    return nested


# ---- line items: their facts, and the claim's amounts once the lines are decided ----


def fill_line_facts(facts: dict[str, Any], schedule: FeeSchedule) -> None:
    """Add the fee schedule's facts to each line of `facts["lines"]` (in place): `known`
    (the code is on the schedule on the date of loss), `covered`, `allowed_maximum`
    (absent without one) and `over_maximum`. Called with the ruleset that decides, so a
    backtest or shadow run reads its own candidate's schedule."""
    loss = facts["claim"]["date_of_loss"]
    for line in facts.get("lines") or []:
        for stale in ("known", "covered", "allowed_maximum", "over_maximum"):
            line.pop(stale, None)
        entry = schedule.lookup(str(line["code"]), loss)
        line["known"] = entry is not None
        line["over_maximum"] = False
        if entry is None:
            continue
        line["covered"] = entry.covered
        if entry.maximum is not None:
            line["allowed_maximum"] = entry.maximum
            line["over_maximum"] = Decimal(str(line["amount"])) > entry.maximum


def apply_line_decisions(
    facts: dict[str, Any], denials: list[list[dict[str, Any]]]
) -> tuple[LineDecision, ...]:
    """Decide each line (service/domain/lines.py) given the reasons the line rules
    denied it for (`denials[i]` for line i; empty: not denied), and update the claim's
    amount facts in place to follow from the lines: `allowed_amount`,
    `lines_denied_count`, `deductible_applied`, `over_limit_per_claim`,
    `over_remaining_aggregate`, `payable_amount` (the sum of the lines' paid amounts)."""
    lines = facts.get("lines") or []
    if not lines:
        return ()
    inputs = [
        LineInput(
            int(line["sequence"]),
            str(line["code"]),
            Decimal(str(line["amount"])),
            None if line.get("allowed_maximum") is None else Decimal(str(line["allowed_maximum"])),
            tuple(denials[i]) if i < len(denials) else (),
        )
        for i, line in enumerate(lines)
    ]
    coverage = facts.get("coverage") or {}
    claimed = sum((item.amount for item in inputs), ZERO)
    # amounts are known with cover in the policy's currency (none across currencies)
    priced = bool(coverage.get("found")) and "aggregate_remaining" in facts
    if priced:
        deductible = Decimal(str(facts.get("deductible_remaining", coverage["deductible"])))
        limit = Decimal(str(coverage["limit_per_claim"]))
        remaining = Decimal(str(facts["aggregate_remaining"]))
    else:  # nothing is payable without cover: the lines only show the rules' denials
        deductible, limit, remaining = ZERO, claimed, claimed
    decided = decide_lines(
        inputs, deductible=deductible, limit_per_claim=limit, aggregate_remaining=remaining
    )
    denied = sum(1 for item in inputs if item.denials)
    allowed = sum((d.allowed for d in decided), ZERO)
    facts["allowed_amount"] = allowed
    facts["lines_denied_count"] = denied
    if priced:
        after_deductible = allowed - sum((d.deductible for d in decided), ZERO)
        paid = sum((d.paid for d in decided), ZERO)
        facts.update(
            deductible_applied=sum((d.deductible for d in decided), ZERO),
            over_limit_per_claim=after_deductible > limit,
            over_remaining_aggregate=min(after_deductible, limit) > remaining,
            payable_amount=paid,
        )
    return decided
