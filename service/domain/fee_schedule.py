"""Fee schedules: the analysts' list of service codes, each with the most allowed for it,
whether the cover pays for it at all, and the dates the entry is valid (CSV files in
rules/fee_schedules/, read and checked by service/rules/fee_schedules.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class FeeEntry:
    """One code: `maximum` None = no maximum; valid_from/valid_to inclusive, None = open."""

    code: str
    description: str
    maximum: Decimal | None
    covered: bool
    valid_from: date | None = None
    valid_to: date | None = None
    file: str = ""
    line: int = 0

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def overlaps(self, other: FeeEntry) -> bool:
        start = max(self.valid_from or date.min, other.valid_from or date.min)
        end = min(self.valid_to or date.max, other.valid_to or date.max)
        return start <= end


@dataclass(frozen=True)
class FeeSchedule:
    """Every entry by code (a code may have several entries with separate validity)."""

    entries: dict[str, tuple[FeeEntry, ...]] = field(default_factory=dict)

    def lookup(self, code: str, on: date) -> FeeEntry | None:
        """The entry for `code` valid on `on` (the date of loss); None: not on the schedule."""
        return next((e for e in self.entries.get(code, ()) if e.valid_on(on)), None)

    def __len__(self) -> int:
        return sum(len(v) for v in self.entries.values())
