"""Per-line adjudication of a claim with line items (health claims: one line per service).

Each line is decided on its own, as in an X12 835 service line (SVC + CAS) or a FHIR
ClaimResponse.item.adjudication:

    submitted - sum(adjustments) = paid          (per line, to the cent)

The cuts, in this order:

1. a line rule that rejects the line (an unknown code: CO 96; a code the fee schedule
   marks not covered: CO 204; any CARC the analyst's rule names) takes the whole line;
2. the fee schedule's maximum allowed for the code: CO 45 (charge exceeds the fee
   schedule), `allowed = min(submitted, allowed_maximum)`;
3. the claim's deductible, allocated **in line order** (the first line's allowed amount
   takes it first, then the next line's, ...): PR 1;
4. the claim-level per-claim limit and what remains of the annual aggregate, also in
   line order (the lines that come after the maximum is reached are cut): CO 119.

The claim's payable is the sum of the lines' paid amounts, and its adjustment lines are
the lines' cuts summed per (group, CARC, reason), so the claim balances too.

Shapes (`LineDecision.to_json()`), amounts as decimal strings in the claim's currency:

    {"sequence": 1, "code": "99213", "submitted": "120.00", "allowed": "100.00",
     "deductible": "50.00", "paid": "50.00", "outcome": "partly_paid",
     "adjustments": [{"group": "CO", "carc": "45", "amount": "20.00"},
                     {"group": "PR", "carc": "1", "amount": "50.00"}],
     "reasons": [{"code": "OVER_FEE_SCHEDULE", "carc": "45", "message": "..."}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.domain.money import ZERO, fmt
from service.domain.payable import (
    ANNUAL_AGGREGATE,
    DEDUCTIBLE,
    PER_CLAIM_LIMIT,
    Adjustment,
    Breakdown,
)

GROUPS = ("PR", "CO", "OA")
LINE_OUTCOMES = ("paid", "partly_paid", "denied")
FEE_SCHEDULE = "fee_schedule"  # reason slug of the CO 45 cut
LINE_DENIED = "line_denied"  # reason slug of a line a rule denied

OVER_FEE_SCHEDULE = {
    "code": "OVER_FEE_SCHEDULE",
    "carc": "45",
    "message": "The charge is above the maximum allowed for this service.",
}
DEDUCTIBLE_REASON = {
    "code": "DEDUCTIBLE_APPLIED",
    "carc": "1",
    "message": "Part of this service counted towards your deductible.",
}
LIMIT_REASON = {
    "code": "PAID_UP_TO_LIMIT",
    "carc": "119",
    "message": "The maximum of your cover was reached.",
}


@dataclass(frozen=True)
class LineAdjustment:
    """One cut on a line: group PR|CO|OA, its CARC, the amount (Decimal, minor units)."""

    group: str
    carc: str
    amount: Decimal

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"adjustment group {self.group!r} is not one of {GROUPS}")

    def to_json(self, currency: str | None = None) -> dict[str, Any]:
        return {"group": self.group, "carc": self.carc, "amount": fmt(self.amount, currency)}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> LineAdjustment:
        return cls(str(stored["group"]), str(stored["carc"]), Decimal(str(stored["amount"])))


@dataclass(frozen=True)
class LineDecision:
    """The decision on one line item. `sequence` is 1-based (the order received);
    `reasons` are {"code", "carc", "message"} dicts; submitted - sum(adjustments) = paid."""

    sequence: int
    code: str
    submitted: Decimal
    allowed: Decimal
    deductible: Decimal
    paid: Decimal
    outcome: str  # paid | partly_paid | denied (nothing allowed)
    adjustments: tuple[LineAdjustment, ...] = ()
    reasons: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.outcome not in LINE_OUTCOMES:
            raise ValueError(f"line outcome {self.outcome!r} is not one of {LINE_OUTCOMES}")

    @property
    def balances(self) -> bool:
        return self.submitted - sum((a.amount for a in self.adjustments), ZERO) == self.paid

    def to_json(self, currency: str | None = None) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "code": self.code,
            "submitted": fmt(self.submitted, currency),
            "allowed": fmt(self.allowed, currency),
            "deductible": fmt(self.deductible, currency),
            "paid": fmt(self.paid, currency),
            "outcome": self.outcome,
            "adjustments": [a.to_json(currency) for a in self.adjustments],
            "reasons": [dict(r) for r in self.reasons],
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> LineDecision:
        return cls(
            sequence=int(stored["sequence"]),
            code=str(stored["code"]),
            submitted=Decimal(str(stored["submitted"])),
            allowed=Decimal(str(stored["allowed"])),
            deductible=Decimal(str(stored["deductible"])),
            paid=Decimal(str(stored["paid"])),
            outcome=str(stored["outcome"]),
            adjustments=tuple(LineAdjustment.from_json(a) for a in stored.get("adjustments", ())),
            reasons=tuple(dict(r) for r in stored.get("reasons", ())),
        )


def lines_to_json(
    lines: Iterable[LineDecision], currency: str | None = None
) -> list[dict[str, Any]]:
    return [line.to_json(currency) for line in lines]


def lines_from_json(stored: Iterable[Mapping[str, Any]] | None) -> tuple[LineDecision, ...]:
    return tuple(LineDecision.from_json(item) for item in stored or ())


@dataclass(frozen=True)
class LineInput:
    """What deciding a line needs: its facts (code, amount, the fee schedule's maximum)
    and the reasons of the line rules that denied it (empty: not denied)."""

    sequence: int
    code: str
    amount: Decimal
    allowed_maximum: Decimal | None = None
    denials: tuple[dict[str, Any], ...] = ()  # {"code", "carc", "message"}


def _outcome(submitted: Decimal, allowed: Decimal, paid: Decimal) -> str:
    """denied: nothing allowed (a rule denied the line, or its maximum is 0); paid: in
    full; partly_paid: anything between, including a line whose allowed amount went
    entirely to the deductible or the limit (paid 0, but the service was covered)."""
    if allowed <= 0:
        return "denied"
    return "paid" if paid == submitted else "partly_paid"


def decide_lines(
    inputs: Sequence[LineInput],
    *,
    deductible: Decimal,
    limit_per_claim: Decimal,
    aggregate_remaining: Decimal,
) -> tuple[LineDecision, ...]:
    """Decide every line (see the module docstring for the order of the cuts).

    `deductible`: what of the deductible this claim can still take (the coverage's
    deductible per claim, or what remains of the yearly one); `limit_per_claim` and
    `aggregate_remaining` cap the sum of the lines' paid amounts, in line order."""
    deductible_left = max(deductible, ZERO)
    cap_left = max(min(limit_per_claim, aggregate_remaining), ZERO)
    out = []
    for item in inputs:
        cuts: list[LineAdjustment] = []
        reasons: list[dict[str, Any]] = []
        submitted = item.amount
        if item.denials:
            carc = next((str(d["carc"]) for d in item.denials if d.get("carc")), "96")
            if submitted > 0:
                cuts.append(LineAdjustment("CO", carc, submitted))
            out.append(
                LineDecision(
                    item.sequence,
                    item.code,
                    submitted,
                    ZERO,
                    ZERO,
                    ZERO,
                    "denied",
                    tuple(cuts),
                    tuple(dict(d) for d in item.denials),
                )
            )
            continue
        allowed = submitted
        if item.allowed_maximum is not None and submitted > max(item.allowed_maximum, ZERO):
            allowed = max(item.allowed_maximum, ZERO)
            cuts.append(LineAdjustment("CO", "45", submitted - allowed))
            reasons.append(dict(OVER_FEE_SCHEDULE))
        by_deductible = min(allowed, deductible_left)
        deductible_left -= by_deductible
        if by_deductible > 0:
            cuts.append(LineAdjustment("PR", "1", by_deductible))
            reasons.append(dict(DEDUCTIBLE_REASON))
        left = allowed - by_deductible
        by_cap = max(left - cap_left, ZERO)
        left -= by_cap
        cap_left -= left
        if by_cap > 0:
            cuts.append(LineAdjustment("CO", "119", by_cap))
            reasons.append(dict(LIMIT_REASON))
        out.append(
            LineDecision(
                item.sequence,
                item.code,
                submitted,
                allowed,
                by_deductible,
                left,
                _outcome(submitted, allowed, left),
                tuple(cuts),
                tuple(reasons),
            )
        )
    return tuple(out)


def claim_breakdown(
    lines: Sequence[LineDecision], *, limit_per_claim: Decimal, aggregate_remaining: Decimal
) -> Breakdown:
    """The claim's payable and adjustment lines from its lines: the sum of the paid
    amounts, and the lines' cuts summed per kind (deductible PR 1, fee schedule CO 45,
    denials CO <carc>, limit CO 119 named per_claim_limit or annual_aggregate after
    whichever of the two bound)."""
    claimed = sum((line.submitted for line in lines), ZERO)
    paid = sum((line.paid for line in lines), ZERO)
    cap_reason = PER_CLAIM_LIMIT if limit_per_claim <= aggregate_remaining else ANNUAL_AGGREGATE
    totals: dict[tuple[str, str, str], Decimal] = {}
    for line in lines:
        for cut in line.adjustments:
            if cut.group == "PR" and cut.carc == "1":
                reason = DEDUCTIBLE
            elif cut.carc == "45":
                reason = FEE_SCHEDULE
            elif cut.carc == "119" and line.outcome != "denied":
                reason = cap_reason
            else:
                reason = LINE_DENIED
            key = (cut.group, cut.carc, reason)
            totals[key] = totals.get(key, ZERO) + cut.amount
    order = {DEDUCTIBLE: 0, FEE_SCHEDULE: 1, LINE_DENIED: 2, PER_CLAIM_LIMIT: 3}
    adjustments = tuple(
        Adjustment(group, carc, amount, reason)
        for (group, carc, reason), amount in sorted(
            totals.items(), key=lambda kv: (order.get(kv[0][2], 4), kv[0][1])
        )
        if amount > 0
    )
    return Breakdown(claimed, paid, adjustments)


def denied_lines(
    lines: Sequence[LineDecision], carc: str | None, reason: dict[str, Any]
) -> tuple[LineDecision, ...]:
    """Every line denied in full (a rejected claim): CO <carc> (96 without one)."""
    return tuple(
        LineDecision(
            line.sequence,
            line.code,
            line.submitted,
            ZERO,
            ZERO,
            ZERO,
            "denied",
            (LineAdjustment("CO", carc or "96", line.submitted),) if line.submitted > 0 else (),
            (dict(reason),),
        )
        for line in lines
    )


SUPERVISOR_CUT = "150"  # OA 150: the information does not support more (payable.reduced)


def reduced_lines(lines: Sequence[LineDecision], paid: Decimal) -> tuple[LineDecision, ...]:
    """A supervisor pays `paid`, at most the lines' sum: the cut is taken from the last
    paid lines first (OA 150 on each), so every line still balances; () without lines."""
    if not lines:
        return ()
    total = sum((line.paid for line in lines), ZERO)
    if paid > total:
        raise ValueError("a supervisor pays at most what the lines allow")
    cut_left = total - paid
    out: list[LineDecision] = []
    for line in reversed(lines):
        cut = min(line.paid, cut_left)
        cut_left -= cut
        if cut > 0:
            left = line.paid - cut
            line = LineDecision(
                line.sequence,
                line.code,
                line.submitted,
                line.allowed,
                line.deductible,
                left,
                _outcome(line.submitted, line.allowed, left),
                (*line.adjustments, LineAdjustment("OA", SUPERVISOR_CUT, cut)),
                line.reasons,
            )
        out.append(line)
    return tuple(reversed(out))
