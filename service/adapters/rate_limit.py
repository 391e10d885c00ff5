"""Per-caller request rate limit, counted in the process and synced to Redis in batches.

A fixed window (`600/minute`: at most 600 requests per caller in each clock-aligned
minute, the same windows in every process) whose count lives in Redis, so that all API
processes share it. Sending every request to Redis cost 8-11 % of an intake request
(docs/performance.md), so each process counts locally and adds its hits to the Redis
count in one `INCRBY` once it holds `batch` of them or `sync_seconds` have passed.

Bounded overshoot: a process lets through at most `batch - 1` requests that Redis has not
seen yet, so a caller can exceed its limit by at most `processes x (batch - 1)` in a
window. `batch` is 1 (every request counted in Redis first, exact) for limits under 100
per window and at most 20 otherwise, i.e. at most 5 % over the limit per process.

Redis unreachable: the request is let through (intake must work without Redis), the
process keeps counting locally and retries Redis after `sync_seconds`. The counting
itself uses the `limits` library's Redis storage (`INCRBY` + expiry in one script).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem
from limits.storage import storage_from_string

log = logging.getLogger(__name__)
MAX_TRACKED = 10_000  # callers remembered per process; older windows are dropped beyond


def batch_for(amount: int) -> int:
    """How many local hits a process gathers before syncing: exact below 100 a window."""
    return 1 if amount < 100 else min(20, amount // 20)


@dataclass
class _Window:
    start: int
    seen: int = 0  # the Redis count after this process's last sync (all processes)
    pending: int = 0  # hits let through here that Redis has not been told of
    synced_at: float = 0.0


class BatchedRateLimiter:
    """`hit(key)`: None when the request may go on, else the seconds to wait (>= 1)."""

    def __init__(
        self,
        redis_url: str,
        item: RateLimitItem,
        *,
        prefix: str = "claims",
        sync_seconds: float = 0.25,
        clock: Callable[[], float] = time.time,
        storage: Any = None,
    ) -> None:
        self.amount = int(item.amount)
        self.seconds = int(item.get_expiry())
        self.batch = batch_for(self.amount)
        self.sync_seconds = sync_seconds
        self.prefix = prefix
        self._clock = clock
        self._storage = storage or storage_from_string(
            redis_url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0

    def hit(self, key: str) -> int | None:
        now = self._clock()
        start = int(now // self.seconds) * self.seconds
        with self._lock:
            window = self._window(key, start)
            if window.seen + window.pending >= self.amount:
                return self._wait(start, now)
            window.pending += 1
            if now < self._down_until:
                window.pending = 0  # Redis is away: let through, retry after sync_seconds
            elif window.pending >= self.batch or now - window.synced_at >= self.sync_seconds:
                if self._sync(key, window, now) and window.seen > self.amount:
                    return self._wait(start, now)  # another process used the rest first
        return None

    def _window(self, key: str, start: int) -> _Window:
        window = self._windows.get(key)
        if window is None or window.start != start:
            if len(self._windows) >= MAX_TRACKED:
                self._windows = {k: w for k, w in self._windows.items() if w.start == start}
            window = self._windows[key] = _Window(start)
        return window

    def _sync(self, key: str, window: _Window, now: float) -> bool:
        """Add the pending hits to Redis and learn the total; False when Redis is away."""
        window.synced_at = now
        try:
            window.seen = self._storage.incr(
                f"{self.prefix}/rl/{key}/{window.start}", self.seconds + 1, amount=window.pending
            )
        except Exception as exc:  # noqa: BLE001 - fail open: intake must work without Redis
            name = type(exc).__name__
            log.warning("rate limit store unreachable (%s); request let through", name)
            window.pending = 0
            self._down_until = now + self.sync_seconds
            return False
        window.pending = 0
        return True

    def _wait(self, start: int, now: float) -> int:
        return max(1, int(start + self.seconds - now + 0.999))
