"""The scheduler's sweep purges what only grows (issue 13 point 10), in small batches, on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, select

from service.clock import FixedClock
from service.db import statements as sql
from service.db.tables import ConsoleSessionRow, LoginThrottleRow
from tests.auth_helpers import PASSWORD, user
from tests.conftest import make_config
from worker import scheduler

pytestmark = pytest.mark.integration


def count(context, table) -> int:
    with context.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(table))


def add_keys(context, n: int, at, prefix: str) -> None:
    with context.sessions.begin() as db:
        for i in range(n):
            db.execute(
                insert(sql.IDEMPOTENCY).values(
                    client_id="default",
                    key=f"{prefix}-{i}",
                    request_hash="0" * 64,
                    state="done",
                    response={"id": f"claim-{i}", "body": "x" * 500},
                    created_at=at,
                )
            )


def sweep(context, tmp_path, now, **overrides):
    config = make_config(context.config.database_url, tmp_path, **overrides)
    return scheduler.sweep_once(config, FixedClock(now))["purge"]


def test_idempotency_keys_past_their_ttl_are_purged_in_batches(context, tmp_path, clock):
    start = clock.now()
    add_keys(context, 7, start, "old")
    add_keys(context, 2, start + timedelta(hours=30), "new")
    deletes: list[int] = []
    engine = context.sessions.kw["bind"]

    def watch(conn, cursor, statement, params, ctx, many):
        if re.match(r"\s*DELETE FROM idempotency_keys", statement):
            deletes.append(cursor.rowcount)

    event.listen(engine, "after_cursor_execute", watch)
    try:
        early = sweep(context, tmp_path, start + timedelta(hours=47), PURGE_BATCH_SIZE=3)
        assert early["idempotency_keys"] == 0 and count(context, sql.IDEMPOTENCY) == 9
        done = sweep(context, tmp_path, start + timedelta(hours=49), PURGE_BATCH_SIZE=3)
    finally:
        event.remove(engine, "after_cursor_execute", watch)
    assert done["idempotency_keys"] == 7
    assert deletes == [3, 3, 1]  # one short transaction per batch, never more than 3 rows
    with context.unit_of_work() as db:
        left = db.scalars(select(sql.IDEMPOTENCY.c.key)).all()
    assert sorted(left) == ["new-0", "new-1"]


def test_the_ttl_is_the_setting(context, tmp_path, clock):
    add_keys(context, 2, clock.now(), "k")
    result = sweep(context, tmp_path, clock.now() + timedelta(hours=3), IDEMPOTENCY_TTL_HOURS=2)
    assert result["idempotency_keys"] == 2


def test_ended_sessions_and_forgotten_login_failures_are_purged(app, context, tmp_path, clock):
    user(app, "sue", "supervisor")
    browser = app.test_client()
    browser.default_auth = False
    page = browser.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"username": "sue", "password": "wrong one", "csrf_token": token}
    assert browser.post("/console/login", data=form).status_code == 401
    assert browser.post("/console/login", data=dict(form, password=PASSWORD)).status_code == 302
    assert count(context, ConsoleSessionRow) == 1
    assert count(context, LoginThrottleRow) == 1  # the address's count stays until forgotten

    assert sweep(context, tmp_path, clock.now() + timedelta(minutes=10))["login_throttles"] == 0
    later = sweep(context, tmp_path, clock.now() + timedelta(minutes=16))
    assert later["login_throttles"] == 1 and count(context, LoginThrottleRow) == 0

    kept = sweep(context, tmp_path, clock.now() + timedelta(hours=8, days=6))
    assert kept["console_sessions"] == 0
    gone = sweep(context, tmp_path, clock.now() + timedelta(hours=8, days=7, minutes=1))
    assert gone["console_sessions"] == 1 and count(context, ConsoleSessionRow) == 0
