"""How long a login must wait, from the recent failures of its username and client address.

- Per username: the first FREE_FAILURES failures cost nothing; after that each attempt
  waits LOGIN_DELAY_SECONDS, doubling with every further failure (at most
  MAX_DELAY_SECONDS); at LOGIN_LOCK_AFTER failures the username is locked for
  LOGIN_LOCK_MINUTES.
- Per client address (password spraying over many names): locked for LOGIN_LOCK_MINUTES
  at LOGIN_ADDRESS_LOCK_AFTER failures, no delays before that (many people may share
  one address).
- An attempt is counted as a failure when it starts (so parallel guesses queue behind
  each other) and taken back when the password was right; a refused attempt (429) is
  not counted. Failures are forgotten LOGIN_LOCK_MINUTES after the last attempt, and a
  successful login forgets the username's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from service.config import Config

FREE_FAILURES = 3
MAX_DELAY_SECONDS = 60.0
USER, ADDRESS = "user:", "address:"


def throttle_keys(username: str, address: str | None) -> list[str]:
    keys = [f"{USER}{username[:64]}"]
    if address:
        keys.append(f"{ADDRESS}{address[:64]}")
    return keys


def lock_after(key: str, config: Config) -> int:
    if key.startswith(USER):
        return config.login_lock_after
    return config.login_address_lock_after


def _forget_after(config: Config) -> timedelta:
    return timedelta(minutes=config.login_lock_minutes)


def delay_seconds(failures: int, config: Config) -> float:
    """The wait after `failures` failures of one username (before the lock)."""
    if failures < FREE_FAILURES:
        return 0.0
    # more doublings than a float holds change nothing under the cap (2.0 ** 1024 overflows)
    step = config.login_delay_seconds * 2.0 ** min(failures - FREE_FAILURES, 1000)
    return min(step, MAX_DELAY_SECONDS)


def retry_after(rows: Mapping[str, Any], now: datetime, config: Config) -> int:
    """Whole seconds until an attempt may be made (0: now)."""
    wait = 0.0
    for key, row in rows.items():
        since = now - row.last_attempt_at
        if since >= _forget_after(config) or row.failures == 0:
            continue
        if row.failures >= lock_after(key, config):
            until = _forget_after(config)
        elif key.startswith(USER):
            until = timedelta(seconds=delay_seconds(row.failures, config))
        else:
            continue
        wait = max(wait, (until - since).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


def count_attempt(rows: Mapping[str, Any], now: datetime, config: Config) -> list[str]:
    """Count an attempt against every key; returns the keys it locks."""
    locked = []
    for key, row in rows.items():
        if now - row.last_attempt_at >= _forget_after(config):
            row.failures = 0
        row.failures += 1
        row.last_attempt_at = now
        if row.failures == lock_after(key, config):
            locked.append(key)
    return locked
