"""Calendar time: durations in years, months or days, and the distance between two dates.

One rule for month ends, stated once: adding months keeps the day of the month,
or takes the last day of the target month when it is shorter. So 31 January plus
one month is 28 (or 29) February, and **the anniversary of 29 February in a year
without one is 28 February**. One year is twelve months.

**Policy years** are defined once, here (`policy_year`): year k of a policy runs from
the k-th anniversary of its start up to the day before the (k+1)-th, each anniversary
counted from the start itself (never from the previous anniversary). A policy that
starts on 29 February therefore has its anniversaries on 28 February in common years
and on 29 February again in leap years: the policy year starting 2027-02-28 ends on
2028-02-28 and the next starts on 2028-02-29. The years tile the calendar: every day
on or after the start is in exactly one policy year, none is skipped. (We chose 28
February over 1 March so that a policy year never runs past the day its anniversary
would fall on, the same rule as every other anniversary here.)

A filing limit of "one calendar year from the date of service" (42 CFR 424.44) is
then `report_delay <= {years: 1}`: a loss of 2023-03-01 may be reported up to and
including 2024-03-01, though 2024 has a leap day (366 days later).
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

UNITS = ("years", "months", "days")
MAX_COUNT = {"years": 100, "months": 1200, "days": 36600}
_ISO = re.compile(r"^P(?:(\d{1,4})Y|(\d{1,4})M|(\d{1,5})D)$")


def add_months(day: date, months: int) -> date:
    """`day` plus whole calendar months, the day clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_years(day: date, years: int) -> date:
    """`day` plus whole years: 29 February becomes 28 February in a common year."""
    return add_months(day, 12 * years)


def policy_year(start: date, on: date) -> tuple[date, date]:
    """The policy year that holds `on` for a policy that starts on `start`, as
    [first day, first day of the next year): the latest anniversary of `start` on or
    before `on`, and the anniversary after it, both counted from `start` (so 29
    February stays 29 February in leap years). A day before `start` is in the first
    policy year. The only definition of a policy year: the aggregate, the facts and the
    reports all use it."""
    years = max(on.year - start.year, 0)
    if add_years(start, years) > on:
        years = max(years - 1, 0)
    return add_years(start, years), add_years(start, years + 1)


def twelve_months_before(day: date) -> date:
    """The first day of "the last 12 months" up to and including `day`: the same day
    of the month a year earlier (28 February for 29 February). The window
    [twelve_months_before(day), day] is the one `claims_last_12_months` counts, in
    Python (service/domain/history.py) and in SQL (service/db/claims.py) alike."""
    return add_months(day, -12)


@dataclass(frozen=True)
class Duration:
    """A calendar duration in exactly one unit: {years: 1}, {months: 1} or {days: 30}."""

    count: int
    unit: str  # years | months | days

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}")
        if not 0 <= self.count <= MAX_COUNT[self.unit]:
            raise ValueError(f"{self.unit} must be 0 to {MAX_COUNT[self.unit]}")

    @property
    def months(self) -> int:
        """Whole months (years x 12); 0 for a duration in days."""
        return {"years": self.count * 12, "months": self.count}.get(self.unit, 0)

    def after(self, day: date) -> date:
        """The date this long after `day` (the last day still inside is one before)."""
        if self.unit == "days":
            return day + timedelta(days=self.count)
        return add_months(day, self.months)

    def as_dict(self) -> dict[str, int]:
        return {self.unit: self.count}

    def iso(self) -> str:
        """ISO 8601 text: P1Y, P6M, P30D."""
        return f"P{self.count}{self.unit[0].upper()}"

    @classmethod
    def parse(cls, value: object) -> Duration:
        """From {years|months|days: n} (one key, a whole number) or ISO text P1Y/P6M/P30D."""
        if isinstance(value, str):
            match = _ISO.match(value)
            if not match:
                raise ValueError("write a duration as P<n>Y, P<n>M or P<n>D")
            years, months, days = match.groups()
            if years is not None:
                return cls(int(years), "years")
            if months is not None:
                return cls(int(months), "months")
            return cls(int(days), "days")
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError("a duration is one of {years: n}, {months: n} or {days: n}")
        ((unit, count),) = value.items()
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; use years, months or days")
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"{unit} must be a whole number")
        return cls(count, str(unit))

    def __str__(self) -> str:
        return f"{self.count} {self.unit}"


@dataclass(frozen=True, order=False)
class Span:
    """The calendar distance from one date to a later one, e.g. from the loss to the
    report: `months` whole months (the most for which start + months <= end) and
    `days` left over, and `total_days`. Compared with a Duration by what the
    calendar says: span > {months: k} exactly when end > start + k months, and
    span > {days: n} exactly when end > start + n days."""

    months: int
    days: int
    total_days: int

    @classmethod
    def between(cls, start: date, end: date) -> Span:
        total = (end - start).days
        if total < 0:
            return cls(0, total, total)  # before the start: shorter than any duration
        months = (end.year - start.year) * 12 + (end.month - start.month)
        if add_months(start, months) > end:
            months -= 1
        return cls(months, (end - add_months(start, months)).days, total)

    def calendar_number(self) -> int:
        """months x 100 + days: ordered like the span against durations in months
        (days < 31 always), for the rules engine, which compares numbers only."""
        return self.months * 100 + self.days if self.total_days >= 0 else self.total_days

    def _key(self, other: Duration) -> tuple[int, int]:
        if self.unit_of(other) == "days":
            return self.total_days, other.count
        return self.calendar_number(), other.months * 100

    @staticmethod
    def unit_of(other: Duration) -> str:
        return "days" if other.unit == "days" else "months"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        mine, theirs = self._key(other)
        return mine < theirs

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        mine, theirs = self._key(other)
        return mine <= theirs

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        mine, theirs = self._key(other)
        return mine > theirs

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        mine, theirs = self._key(other)
        return mine >= theirs

    def as_dict(self) -> dict[str, int]:
        return {"months": self.months, "days": self.days, "total_days": self.total_days}

    @classmethod
    def from_dict(cls, stored: dict[str, int]) -> Span:
        return cls(int(stored["months"]), int(stored["days"]), int(stored["total_days"]))


# Names the system's zoneinfo folder or the IANA data carry that are no place's
# calendar: the system's own zone (whatever the host is set to), the POSIX rules
# template, IANA's "Factory" placeholder (no offset, abbreviation -00), and the
# posix/ and right/ copies (right/ counts leap seconds: its clocks are off by 27 s).
NOT_CALENDARS = frozenset({"localtime", "posixrules", "Factory"})
_NOT_CALENDAR_PREFIXES = ("posix/", "right/")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*$")


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA time zone name a policy may use: the zones the tzdata package lists
    (Area/Location names such as Europe/Tallinn, their backward-compatible links such
    as US/Eastern, UTC and the Etc/ fixed offsets), less NOT_CALENDARS. Not the
    host's zoneinfo folder, which adds localtime, posixrules and more."""
    try:
        listed = resources.files("tzdata").joinpath("zones").read_text("utf-8").split()
    except (ModuleNotFoundError, FileNotFoundError):  # no tzdata package: the host's list
        listed = sorted(available_timezones())
    return frozenset(
        name
        for name in listed
        if name not in NOT_CALENDARS
        and not name.startswith(_NOT_CALENDAR_PREFIXES)
        and _ZONE_NAME.match(name)
    )


def is_time_zone(name: object) -> bool:
    """An IANA zone name usable for calendars, such as Europe/Tallinn or UTC: not a
    path, an abbreviation, localtime, posixrules or Factory (see time_zones)."""
    return isinstance(name, str) and name in time_zones()


def local_date(moment: datetime, zone: str) -> date:
    """The calendar date of an aware `moment` in the IANA time zone `zone`:
    20:00 on 15 February in New York (UTC-5) is 15 February, though it is
    already 16 February in UTC."""
    return moment.astimezone(ZoneInfo(zone)).date()
