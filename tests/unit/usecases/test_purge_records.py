"""purge_expired: what is past its retention goes, a batch per transaction; nothing younger."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from service.db import accounts, idempotency
from service.db.tables import ConsoleSessionRow, IdempotencyKeyRow, LoginThrottleRow, UserRow
from service.usecases import purge_records
from service.usecases.purge_records import purge_expired
from tests.unit.usecases.conftest import T0

pytestmark = pytest.mark.unit

NOTHING = {"idempotency_keys": 0, "console_sessions": 0, "login_throttles": 0}


def add_keys(ctx, prefix: str, n: int, at) -> None:
    with ctx.unit_of_work() as s:
        for i in range(n):
            s.add(
                IdempotencyKeyRow(
                    client_id="client-a",
                    key=f"{prefix}-{i}",
                    request_hash="0" * 64,
                    state="done",
                    created_at=at,
                )
            )
        s.commit()


def add_sessions(ctx, prefix: str, n: int, expires_at) -> None:
    with ctx.unit_of_work() as s:
        user = s.scalar(select(UserRow).limit(1))
        if user is None:
            user = UserRow(username="sue", password_hash="x", role="supervisor", created_at=T0)
            s.add(user)
            s.flush()
        for i in range(n):
            s.add(
                ConsoleSessionRow(
                    id=f"{prefix}-{i}",
                    user_id=user.id,
                    created_at=expires_at - timedelta(hours=8),
                    last_seen_at=expires_at - timedelta(hours=8),
                    expires_at=expires_at,
                )
            )
        s.commit()


def add_throttles(ctx, prefix: str, n: int, last_attempt_at) -> None:
    with ctx.unit_of_work() as s:
        for i in range(n):
            s.add(
                LoginThrottleRow(key=f"{prefix}:{i}", failures=3, last_attempt_at=last_attempt_at)
            )
        s.commit()


def left(ctx, column) -> list[str]:
    with ctx.unit_of_work(read_only=True) as s:
        return sorted(s.scalars(select(column)))


def count(ctx, row) -> int:
    with ctx.unit_of_work(read_only=True) as s:
        return int(s.scalar(select(func.count()).select_from(row)) or 0)


def test_each_table_loses_exactly_what_is_past_its_retention(ctx, clock):
    """Defaults: keys 48 h after they were made, sessions 7 days after their end,
    login failures 15 minutes after the last attempt. The cutoff itself is kept."""
    now = T0 + timedelta(days=30)
    add_keys(ctx, "old", 2, now - timedelta(hours=48, seconds=1))
    add_keys(ctx, "edge", 1, now - timedelta(hours=48))
    add_keys(ctx, "young", 1, now - timedelta(hours=47))
    add_sessions(ctx, "old", 3, now - timedelta(days=7, seconds=1))
    add_sessions(ctx, "edge", 1, now - timedelta(days=7))
    add_sessions(ctx, "live", 1, now + timedelta(hours=1))
    add_throttles(ctx, "old", 1, now - timedelta(minutes=15, seconds=1))
    add_throttles(ctx, "edge", 1, now - timedelta(minutes=15))
    add_throttles(ctx, "recent", 1, now - timedelta(minutes=1))
    clock.set(now)

    assert purge_expired(ctx) == {
        "idempotency_keys": 2,
        "console_sessions": 3,
        "login_throttles": 1,
    }
    assert left(ctx, IdempotencyKeyRow.key) == ["edge-0", "young-0"]
    assert left(ctx, ConsoleSessionRow.id) == ["edge-0", "live-0"]
    assert left(ctx, LoginThrottleRow.key) == ["edge:0", "recent:0"]
    assert purge_expired(ctx) == NOTHING  # a second sweep finds nothing more

    clock.advance(seconds=1)  # the ones on the edge are now past it
    assert purge_expired(ctx) == {
        "idempotency_keys": 1,
        "console_sessions": 1,
        "login_throttles": 1,
    }


def test_the_retentions_are_the_settings(ctx, clock):
    ctx.config = replace(
        ctx.config, idempotency_ttl_hours=2, session_retention_days=1, login_lock_minutes=5
    )
    add_keys(ctx, "k", 1, T0)
    add_sessions(ctx, "s", 1, T0)
    add_throttles(ctx, "t", 1, T0)
    clock.set(T0 + timedelta(minutes=6))
    assert purge_expired(ctx) == dict(NOTHING, login_throttles=1)
    clock.set(T0 + timedelta(hours=2, minutes=1))
    assert purge_expired(ctx) == dict(NOTHING, idempotency_keys=1)
    clock.set(T0 + timedelta(days=1, minutes=1))
    assert purge_expired(ctx) == dict(NOTHING, console_sessions=1)


def test_batches_are_separate_transactions_of_at_most_the_batch_size(ctx, clock, monkeypatch):
    ctx.config = replace(ctx.config, purge_batch_size=3)
    add_keys(ctx, "old", 7, T0)
    add_keys(ctx, "young", 2, T0 + timedelta(hours=30))
    calls: list[tuple[int, int, int]] = []  # (rows seen by another connection, limit, deleted)
    real = idempotency.purge_idempotency_keys

    def spy(session, cutoff, limit):
        before = count(ctx, IdempotencyKeyRow)  # what earlier batches committed
        deleted = real(session, cutoff, limit)
        calls.append((before, limit, deleted))
        return deleted

    monkeypatch.setattr(idempotency, "purge_idempotency_keys", spy)
    clock.set(T0 + timedelta(hours=49))
    assert purge_expired(ctx)["idempotency_keys"] == 7
    assert calls == [(9, 3, 3), (6, 3, 3), (3, 3, 1)]  # a short batch ends the sweep
    assert left(ctx, IdempotencyKeyRow.key) == ["young-0", "young-1"]

    calls.clear()
    add_keys(ctx, "more", 6, T0)  # an exact multiple: one more, empty, batch to be sure
    assert purge_expired(ctx)["idempotency_keys"] == 6
    assert [deleted for _, _, deleted in calls] == [3, 3, 0]


def test_one_sweep_stops_after_max_batches_and_the_next_goes_on(ctx, clock, monkeypatch):
    ctx.config = replace(ctx.config, purge_batch_size=2)
    monkeypatch.setattr(purge_records, "MAX_BATCHES", 2)
    add_throttles(ctx, "user", 5, T0)
    clock.set(T0 + timedelta(hours=1))
    assert purge_expired(ctx)["login_throttles"] == 4
    assert count(ctx, LoginThrottleRow) == 1
    assert purge_expired(ctx)["login_throttles"] == 1
    assert count(ctx, LoginThrottleRow) == 0


def test_a_failed_batch_keeps_what_earlier_batches_deleted(ctx, clock, monkeypatch):
    ctx.config = replace(ctx.config, purge_batch_size=2)
    add_sessions(ctx, "old", 5, T0)
    real = accounts.purge_sessions
    batches = []

    def failing_second(session, cutoff, limit):
        batches.append(limit)
        deleted = real(session, cutoff, limit)
        if len(batches) == 2:
            raise RuntimeError("connection lost")
        return deleted

    monkeypatch.setattr(accounts, "purge_sessions", failing_second)
    clock.set(T0 + timedelta(days=8))
    with pytest.raises(RuntimeError):
        purge_expired(ctx)
    assert count(ctx, ConsoleSessionRow) == 3  # the first batch stays done, the second undone
