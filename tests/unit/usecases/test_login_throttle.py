"""login_throttle: three free failures, then doubling delays (capped), a lock at
LOGIN_LOCK_AFTER for LOGIN_LOCK_MINUTES, and everything forgotten after that."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from service.db.tables import LoginThrottleRow
from service.usecases.login_throttle import (
    count_attempt,
    delay_seconds,
    retry_after,
    throttle_keys,
)
from tests.unit.usecases.conftest import T0

pytestmark = pytest.mark.unit

LONG_AGO = T0 - timedelta(days=1)


def fresh(*keys: str) -> dict[str, LoginThrottleRow]:
    """Rows as `accounts.throttles_for_update` hands them over for keys never seen."""
    return {key: LoginThrottleRow(key=key, failures=0, last_attempt_at=LONG_AGO) for key in keys}


def test_keys_are_the_username_and_the_address_truncated():
    assert throttle_keys("sue", "192.0.2.1") == ["user:sue", "address:192.0.2.1"]
    assert throttle_keys("sue", None) == ["user:sue"]
    assert throttle_keys("sue", "") == ["user:sue"]
    long_name, long_address = "n" * 100, "a" * 100
    assert throttle_keys(long_name, long_address) == ["user:" + "n" * 64, "address:" + "a" * 64]


def test_delays_are_free_for_three_failures_then_double_up_to_the_cap(ctx):
    config = ctx.config  # LOGIN_DELAY_SECONDS=1
    assert [delay_seconds(n, config) for n in range(11)] == [
        0.0, 0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0,
    ]  # fmt: skip
    half = replace(config, login_delay_seconds=0.5)
    assert [delay_seconds(n, half) for n in (3, 4, 5)] == [0.5, 1.0, 2.0]


def test_a_huge_failure_count_waits_the_cap_and_does_not_overflow(ctx):
    """LOGIN_LOCK_AFTER may be set high; 2.0 ** 1100 used to raise OverflowError (a 500)."""
    assert delay_seconds(1100, ctx.config) == 60.0
    assert delay_seconds(10**6, replace(ctx.config, login_delay_seconds=0)) == 0.0
    config = replace(ctx.config, login_lock_after=5000)
    rows = {"user:sue": LoginThrottleRow(key="user:sue", failures=1100, last_attempt_at=T0)}
    assert retry_after(rows, T0 + timedelta(seconds=10), config) == 50


def test_each_failure_doubles_the_wait_until_the_lock_then_it_is_forgotten(ctx):
    config = replace(ctx.config, login_lock_after=6)  # LOGIN_LOCK_MINUTES=15
    rows = fresh("user:sue")
    now = T0
    waits, locks = [], []
    for _ in range(6):
        wait = retry_after(rows, now, config)
        waits.append(wait)
        now += timedelta(seconds=wait)  # the client waits as told, then tries again
        assert retry_after(rows, now, config) == 0
        locks.append(count_attempt(rows, now, config))
    assert waits == [0, 0, 0, 1, 2, 4]
    assert locks == [[], [], [], [], [], ["user:sue"]]  # reported once, by the 6th failure
    assert rows["user:sue"].failures == 6 and rows["user:sue"].last_attempt_at == now

    assert retry_after(rows, now, config) == 15 * 60  # locked from the last attempt
    assert retry_after(rows, now + timedelta(minutes=14, seconds=59.5), config) == 1  # rounded up
    forgotten = now + timedelta(minutes=15)
    assert retry_after(rows, forgotten, config) == 0
    assert count_attempt(rows, forgotten, config) == []
    assert rows["user:sue"].failures == 1  # the count started again


def test_a_quiet_spell_shorter_than_the_lock_keeps_the_count(ctx):
    rows = fresh("user:sue")
    for _ in range(4):
        count_attempt(rows, T0, ctx.config)
    later = T0 + timedelta(minutes=14)
    assert retry_after(rows, later, ctx.config) == 0  # the 2 s delay has long passed
    count_attempt(rows, later, ctx.config)
    assert rows["user:sue"].failures == 5
    assert retry_after(rows, later, ctx.config) == 4


def test_an_address_has_no_delays_only_a_lock_and_the_longest_wait_wins(ctx):
    config = replace(ctx.config, login_lock_after=10, login_address_lock_after=5)
    rows = fresh("user:sue", "address:192.0.2.1")
    locked = []
    for _ in range(5):
        rows["user:sue"].failures = 0  # many names from one address: no username delay
        assert retry_after(rows, T0, config) == 0
        locked.append(count_attempt(rows, T0, config))
    assert locked[:4] == [[], [], [], []] and locked[4] == ["address:192.0.2.1"]
    assert retry_after(rows, T0 + timedelta(minutes=5), config) == 10 * 60

    alone = {"address:192.0.2.1": rows["address:192.0.2.1"]}
    alone["address:192.0.2.1"].failures = 4  # below its lock: no wait at all
    assert retry_after(alone, T0, config) == 0


def test_a_username_lock_applies_whatever_the_address(ctx):
    config = replace(ctx.config, login_lock_after=3)
    rows = fresh("user:sue", "address:192.0.2.1")
    for _ in range(3):
        count_attempt(rows, T0, config)
    elsewhere = {"user:sue": rows["user:sue"], **fresh("address:198.51.100.7")}
    assert retry_after(elsewhere, T0 + timedelta(minutes=1), config) == 14 * 60
