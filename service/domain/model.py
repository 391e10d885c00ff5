"""Claims, policies and coverages as plain immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

CLAIM_TYPES = (
    "device_damage",
    "device_theft",
    "water_damage",
    "fire_damage",
    "medical_reimbursement",
)
LINES_OF_BUSINESS = {
    "device_damage": "device",
    "device_theft": "device",
    "water_damage": "property",
    "fire_damage": "property",
    "medical_reimbursement": "medical",
}
LANGUAGES = ("en", "zh", "es", "et", "vi")
POLICY_STATUSES = ("active", "lapsed", "cancelled")
OUTCOMES = ("approved", "rejected", "escalated", "pending_info")


@dataclass(frozen=True)
class Coverage:
    claim_type: str
    limit_per_claim: Decimal
    annual_aggregate: Decimal
    deductible: Decimal
    waiting_period_days: int = 0


@dataclass(frozen=True)
class Policy:
    number: str
    holder: str
    status: str
    effective_from: date
    effective_to: date
    currency: str
    coverages: tuple[Coverage, ...] = ()

    def coverage_for(self, claim_type: str) -> Coverage | None:
        return next((c for c in self.coverages if c.claim_type == claim_type), None)

    def policy_year_start(self, on: date) -> date:
        """Start of the policy year that contains `on` (anniversaries of effective_from)."""
        start = self.effective_from
        years = on.year - start.year
        candidate = add_years(start, years)
        if candidate > on:
            candidate = add_years(start, years - 1)
        return max(candidate, start)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Document:
    type: str
    ref: str


@dataclass(frozen=True)
class Claim:
    """A claim as the rules see it (personal data is not needed to decide)."""

    policy_number: str
    claim_type: str
    date_of_loss: date
    reported_at: datetime
    amount: Decimal
    currency: str
    documents: tuple[Document, ...] = ()
    line_items_count: int = 0
    id: str | None = None


@dataclass(frozen=True)
class PriorClaim:
    """What the history lookups need of an earlier claim on the same policy."""

    id: str
    claim_type: str
    date_of_loss: date
    amount: Decimal
    outcome: str | None
    payable_amount: Decimal | None


@dataclass(frozen=True)
class History:
    """Aggregates over earlier claims, computed by the data layer with indexed queries."""

    claims_last_12_months: int = 0
    paid_this_policy_year: Decimal = Decimal("0.00")
    duplicate_of: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
