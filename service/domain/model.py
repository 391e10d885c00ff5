"""Claims, policies and coverages as plain immutable values."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from service.domain.calendar import Duration, policy_year

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
TERMINATED_STATUSES = ("lapsed", "cancelled")  # these carry terminated_on
PERIODS = ("claim", "policy_year")  # what a deductible or out-of-pocket maximum counts
OUTCOMES = ("approved", "rejected", "escalated", "pending_info")


@dataclass(frozen=True)
class Coverage:
    claim_type: str
    limit_per_claim: Decimal
    annual_aggregate: Decimal
    deductible: Decimal
    waiting_period: Duration = field(default_factory=lambda: Duration(0, "days"))
    # "claim": each claim has its own deductible (device, property); "policy_year": met
    # once a policy year across claims of this type (health)
    deductible_period: str = "claim"
    out_of_pocket_maximum: Decimal | None = None  # most the insured pays (PR cuts)
    out_of_pocket_period: str = "claim"  # claim | policy_year, like deductible_period


@dataclass(frozen=True)
class Policy:
    number: str
    holder: str
    status: str
    effective_from: date
    effective_to: date
    currency: str
    coverages: tuple[Coverage, ...] = ()
    terminated_on: date | None = None  # lapsed or cancelled: the last day of cover
    time_zone: str | None = None  # IANA name; None: the DEFAULT_TIME_ZONE setting

    @property
    def cover_ends_on(self) -> date:
        """The last day of cover: effective_to, or terminated_on when that is earlier."""
        if self.terminated_on is not None and self.terminated_on < self.effective_to:
            return self.terminated_on
        return self.effective_to

    def coverage_for(self, claim_type: str) -> Coverage | None:
        return next((c for c in self.coverages if c.claim_type == claim_type), None)

    def policy_year(self, on: date) -> tuple[date, date]:
        """[start, next start) of the policy year that contains `on`
        (service.domain.calendar.policy_year: anniversaries of effective_from, a 29
        February start's anniversary is 28 February in common years); the first
        policy year for a day before the policy started."""
        return policy_year(self.effective_from, on)


@dataclass(frozen=True)
class Document:
    type: str
    ref: str


@dataclass(frozen=True)
class LineItem:
    code: str
    amount: Decimal
    description: str = ""


@dataclass(frozen=True)
class Claim:
    """A claim as the rules see it (personal data is not needed to decide).

    `reported_on`: the report date in the policy's time zone, worked out once at
    intake (service/domain/facts.py report_date) and stored; None before that."""

    policy_number: str
    claim_type: str
    date_of_loss: date
    reported_at: datetime
    amount: Decimal
    currency: str
    documents: tuple[Document, ...] = ()
    line_items_count: int = 0
    id: str | None = None
    reported_on: date | None = None
    line_items_key: str | None = None  # digest of the line items (exact duplicates)
    line_items: tuple[LineItem, ...] = ()  # in the order received (sequence 1, 2, ...)


@dataclass(frozen=True)
class PriorClaim:
    """What the history lookups need of an earlier claim on the same policy."""

    id: str
    claim_type: str
    date_of_loss: date
    amount: Decimal
    outcome: str | None
    payable_amount: Decimal | None
    document_refs: frozenset[str] = frozenset()
    line_items_key: str | None = None
    deductible_applied: Decimal = Decimal("0.00")  # PR 1 counted by its approval
    patient_responsibility: Decimal = Decimal("0.00")  # every PR cut of its approval


@dataclass(frozen=True)
class History:
    """Aggregates over earlier claims, computed by the data layer with indexed queries."""

    claims_last_12_months: int = 0
    paid_this_policy_year: Decimal = Decimal("0.00")
    duplicate_of: str | None = None  # exact: same evidence (a document ref or line items)
    similar_to: str | None = None  # suspected: same policy, type, date and amount only
    deductible_met: Decimal = Decimal("0.00")  # PR 1 counted this policy year (this type)
    out_of_pocket_met: Decimal = Decimal("0.00")  # every PR cut counted this policy year
    extra: dict[str, object] = field(default_factory=dict)


def line_items_key(items: tuple[LineItem, ...]) -> str | None:
    """A digest of the line items (service code and amount, in any order), so that two
    claims with identical lines compare equal; None without lines."""
    if not items:
        return None
    canonical = ";".join(sorted(f"{i.code}={i.amount.normalize():f}" for i in items))
    return hashlib.sha256(canonical.encode()).hexdigest()
