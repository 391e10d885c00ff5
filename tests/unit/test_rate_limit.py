"""The batched rate limiter: exact for small limits, bounded overshoot, shared windows."""

from __future__ import annotations

import pytest
from limits import parse

from service.adapters.rate_limit import BatchedRateLimiter, batch_for

pytestmark = pytest.mark.unit


class FakeStorage:
    """The `limits` storage interface the limiter uses: incr(key, expiry, amount)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.calls = 0
        self.down = False

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        self.calls += 1
        if self.down:
            raise ConnectionError("redis away")
        self.counts[key] = self.counts.get(key, 0) + amount
        return self.counts[key]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(limit: str, storage: FakeStorage, clock: Clock) -> BatchedRateLimiter:
    return BatchedRateLimiter("memory://", parse(limit), storage=storage, clock=clock)


def test_small_limits_are_exact_and_every_hit_reaches_the_store():
    store, clock = FakeStorage(), Clock(120.0)
    one = limiter("3/minute", store, clock)
    assert [one.hit("k") for _ in range(4)] == [None, None, None, 60]
    assert store.calls == 3  # the refused hit is decided locally
    assert one.hit("other") is None  # per key


def test_two_processes_share_the_window_and_a_small_limit_stays_exact():
    store, clock = FakeStorage(), Clock(0.0)
    a, b = limiter("5/minute", store, clock), limiter("5/minute", store, clock)
    results = [(a if i % 2 else b).hit("k") for i in range(8)]
    assert results.count(None) == 5


def test_large_limits_batch_the_store_and_overshoot_is_bounded():
    store, clock = FakeStorage(), Clock(0.0)
    processes = [limiter("600/minute", store, clock) for _ in range(4)]
    batch = batch_for(600)
    assert batch == 20
    allowed = 0
    for i in range(2000):
        clock.now = i * 0.001  # 2 s: inside one window, under the sync interval per hit
        if processes[i % 4].hit("k") is None:
            allowed += 1
    assert 600 <= allowed <= 600 + 4 * (batch - 1)
    assert store.calls < 2000 / 10  # at most one round trip per batch, not one per request


def test_windows_are_clock_aligned_and_the_wait_runs_to_the_next_one():
    store, clock = FakeStorage(), Clock(59.5)
    one = limiter("1/minute", store, clock)
    assert one.hit("k") is None
    assert one.hit("k") == 1  # half a second left, rounded up
    clock.now = 60.0
    assert one.hit("k") is None  # a new window


def test_redis_away_lets_requests_through_and_retries_later():
    store, clock = FakeStorage(), Clock(0.0)
    store.down = True
    one = limiter("1/minute", store, clock)
    assert [one.hit("k") for _ in range(5)] == [None] * 5
    assert store.calls == 1  # not one timeout per request
    clock.now = 1.0
    store.down = False
    assert one.hit("k") is None and store.calls == 2
    assert one.hit("k") == 59
