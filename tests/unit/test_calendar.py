"""Calendar time: months and years as the calendar counts them, policy years for every
start date (a property test over every start day of four consecutive years), and
calendar spans that compare with durations exactly as the dates do."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.calendar import (
    Duration,
    Span,
    add_months,
    add_years,
    is_time_zone,
    local_date,
    policy_year,
    twelve_months_before,
)
from service.domain.model import Policy

pytestmark = pytest.mark.unit

# Every start day of 2023-2026: a leap year, three common years, every month end.
STARTS = [
    date(2023, 1, 1) + timedelta(days=n) for n in range((date(2027, 1, 1) - date(2023, 1, 1)).days)
]
ON = st.dates(min_value=date(2023, 1, 1), max_value=date(2034, 12, 31))


def test_the_leap_day_rule_stated_once():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_one_calendar_year_from_the_date_of_service():
    """42 CFR 424.44: 2023-03-01 may be filed until 2024-03-01 (366 days later)."""
    limit = Duration(1, "years")
    assert Span.between(date(2023, 3, 1), date(2024, 3, 1)) <= limit
    assert Span.between(date(2023, 3, 1), date(2024, 3, 2)) > limit
    assert Span.between(date(2024, 2, 29), date(2025, 2, 28)) <= limit
    assert Span.between(date(2024, 2, 29), date(2025, 3, 1)) > limit
    assert Span.between(date(2023, 3, 1), date(2024, 3, 1)) > Duration(365, "days")


@settings(max_examples=100, deadline=None)
@given(on=ON)
def test_policy_years_are_right_for_every_start_day(on: date) -> None:
    """For each of the 1,461 start days: the policy year holding `on` is the latest
    anniversary on or before it, it lasts until the next anniversary, and the next
    one starts where it ends (no day in two years, none in no year)."""
    for start in STARTS:
        policy = Policy("P", "H", "active", start, add_years(start, 12), "USD")
        year_start = policy.policy_year(on)[0]
        if on < start:
            assert year_start == start
            continue
        years = next(k for k in range(13) if add_years(start, k) == year_start)
        year_end = add_years(start, years + 1)
        assert year_start <= on < year_end
        assert policy.policy_year(year_end)[0] == year_end
        assert policy.policy_year(year_end - timedelta(days=1)) == (year_start, year_end)
        if start.month == 2 and start.day == 29:  # the stated rule: 28 Feb in common years
            assert year_start.day == 29 or (year_start.month, year_start.day) == (2, 28)
        else:
            assert (year_start.month, year_start.day) == (start.month, start.day)


def test_policy_years_tile_the_calendar_for_every_start_day() -> None:
    """For each of the 1,461 start days of 2023-2026 (29 February 2024 among them) and
    every day of the next twelve years: the day is in its policy year, and the next
    day is either in the same year or starts the next one exactly where this one ends
    (no gap day, no day in two years). A 29 February start: the year from 2027-02-28
    ends on 2028-02-28 and the next starts 2028-02-29 (the old end, 2027-02-28 plus
    one year, left 2028-02-28 in no year)."""
    for start in STARTS:
        for k in range(12):
            first, following = add_years(start, k), add_years(start, k + 1)
            last = following - timedelta(days=1)
            assert first < following
            assert policy_year(start, first) == (first, following)
            assert policy_year(start, last) == (first, following)
            middle = first + (following - first) / 2
            assert policy_year(start, middle) == (first, following)
    leap = date(2024, 2, 29)
    assert policy_year(leap, date(2028, 2, 28)) == (date(2027, 2, 28), date(2028, 2, 29))
    assert policy_year(leap, date(2028, 2, 29)) == (date(2028, 2, 29), date(2029, 2, 28))
    assert policy_year(leap, date(2025, 2, 27)) == (leap, date(2025, 2, 28))


def test_the_last_12_months_start_on_the_same_day_a_year_earlier() -> None:
    assert twelve_months_before(date(2024, 3, 1)) == date(2023, 3, 1)  # 366 days back
    assert twelve_months_before(date(2025, 3, 1)) == date(2024, 3, 1)
    assert twelve_months_before(date(2024, 2, 29)) == date(2023, 2, 28)
    assert twelve_months_before(date(2026, 6, 15)) == date(2025, 6, 15)


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(0, 800),
    duration=st.one_of(
        st.builds(Duration, st.integers(0, 3), st.just("years")),
        st.builds(Duration, st.integers(0, 26), st.just("months")),
        st.builds(Duration, st.integers(0, 800), st.just("days")),
    ),
)
def test_a_span_compares_with_a_duration_as_the_dates_do(
    start: date, days: int, duration: Duration
) -> None:
    """span > duration exactly when end > start + duration, in the calendar; and the
    engine's number (months x 100 + days) orders the same way."""
    end = start + timedelta(days=days)
    span = Span.between(start, end)
    limit = duration.after(start)
    assert (span > duration) == (end > limit)
    assert (span <= duration) == (end <= limit)
    assert (span >= duration) == (end >= limit)
    assert (span < duration) == (end < limit)
    assert add_months(start, span.months) + timedelta(days=span.days) == end
    if duration.unit != "days":
        assert (span.calendar_number() > duration.months * 100) == (end > limit)


def test_durations_parse_from_rules_and_iso_text():
    assert Duration.parse({"years": 1}) == Duration(1, "years")
    assert Duration.parse("P30D") == Duration(30, "days")
    assert Duration.parse("P6M").iso() == "P6M"
    for bad in ({"weeks": 2}, {"days": 1.5}, {"days": -1}, {"days": 1, "months": 1}, "P1W", "1M"):
        with pytest.raises(ValueError):
            Duration.parse(bad)


def test_a_moment_becomes_a_date_in_a_named_time_zone():
    evening = datetime.fromisoformat("2026-02-15T20:00:00-05:00")
    assert local_date(evening, "America/New_York") == date(2026, 2, 15)
    assert local_date(evening, "UTC") == date(2026, 2, 16)
    assert is_time_zone("Europe/Tallinn") and is_time_zone("UTC")
    assert not any(
        map(is_time_zone, ("+05:00", "../etc/passwd", "Europe/Nowhere", "Mars/Olympus", None))
    )


def test_default_time_zone_setting_is_checked_at_start_up():
    from service.config import ConfigError, load

    assert load({"DEFAULT_TIME_ZONE": "Europe/Tallinn"}).default_time_zone == "Europe/Tallinn"
    assert load({}).default_time_zone == "UTC"
    with pytest.raises(ConfigError, match="DEFAULT_TIME_ZONE='Mars/Olympus'"):
        load({"DEFAULT_TIME_ZONE": "Mars/Olympus"})


def test_only_zones_for_a_place_or_utc_are_time_zones() -> None:
    """The host's zoneinfo folder also holds localtime, posixrules and posix/ and right/
    copies, and IANA ships the Factory placeholder: none is a calendar to date claims in."""
    for name in ("localtime", "Factory", "posixrules", "posix/Europe/Tallinn", "right/UTC"):
        assert not is_time_zone(name), name
    for name in ("Europe/Tallinn", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5"):
        assert is_time_zone(name), name
