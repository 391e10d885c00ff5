"""What is payable, and the adjustment lines that explain every cut.

Cover pays the part of the loss above the deductible, up to the per-claim limit and
what is left of the annual aggregate:

    payable = min(amount - deductible, limit_per_claim, aggregate_remaining), never below 0

Each cut is an adjustment line, as in an X12 835 CAS segment: a group (PR patient
responsibility, CO contractual obligation, OA other), a CARC and an amount, so that

    claimed - sum(adjustment amounts) = payable

Loss 1000, deductible 50, limit 800: PR 1 50.00 (deductible), CO 119 150.00
(per-claim limit), payable 800.00. Loss 700, deductible 500, limit 100: PR 1 500.00,
CO 119 100.00, payable 100.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.domain.money import ZERO, fmt

DEDUCTIBLE = "deductible"
PER_CLAIM_LIMIT = "per_claim_limit"
ANNUAL_AGGREGATE = "annual_aggregate"
SUPERVISOR_ADJUSTMENT = "supervisor_adjustment"


@dataclass(frozen=True)
class Adjustment:
    """One cut: group PR|CO|OA, its CARC, the amount cut and why (a reason slug)."""

    group: str
    carc: str
    amount: Decimal
    reason: str

    def as_dict(self, currency: str | None = None) -> dict[str, Any]:
        return {
            "group": self.group,
            "carc": self.carc,
            "amount": fmt(self.amount, currency),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Adjustment:
        return cls(
            str(stored["group"]), str(stored["carc"]), Decimal(stored["amount"]), stored["reason"]
        )


@dataclass(frozen=True)
class Breakdown:
    claimed: Decimal
    payable: Decimal
    adjustments: tuple[Adjustment, ...]

    @property
    def balances(self) -> bool:
        return self.claimed - sum((a.amount for a in self.adjustments), ZERO) == self.payable


def breakdown(
    claimed: Decimal, deductible: Decimal, limit_per_claim: Decimal, remaining: Decimal
) -> Breakdown:
    """The payable amount and its lines: deductible first (PR 1), then the per-claim
    limit (CO 119), then the remaining annual aggregate (CO 119). Lines of 0 are left out."""
    lines = []
    by_deductible = min(claimed, max(deductible, ZERO))
    left = claimed - by_deductible
    by_limit = max(left - max(limit_per_claim, ZERO), ZERO)
    left -= by_limit
    by_aggregate = max(left - max(remaining, ZERO), ZERO)
    left -= by_aggregate
    for amount, group, carc, reason in (
        (by_deductible, "PR", "1", DEDUCTIBLE),
        (by_limit, "CO", "119", PER_CLAIM_LIMIT),
        (by_aggregate, "CO", "119", ANNUAL_AGGREGATE),
    ):
        if amount > 0:
            lines.append(Adjustment(group, carc, amount, reason))
    return Breakdown(claimed, left, tuple(lines))


def denial(claimed: Decimal, carc: str | None, reason: str) -> Breakdown:
    """A rejection: the whole amount in one line (CO, the reason's CARC; 96 without one)."""
    return Breakdown(claimed, ZERO, (Adjustment("CO", carc or "96", claimed, reason),))


def reduced(base: Breakdown, paid: Decimal) -> Breakdown:
    """A supervisor pays `paid`, at most base.payable: the cut below what the cover
    allows is its own line (OA 150: the information does not support more)."""
    if paid > base.payable:
        raise ValueError("a supervisor pays at most what the cover allows")
    cut = base.payable - paid
    lines = base.adjustments
    if cut > 0:
        lines += (Adjustment("OA", "150", cut, SUPERVISOR_ADJUSTMENT),)
    return Breakdown(base.claimed, paid, lines)
