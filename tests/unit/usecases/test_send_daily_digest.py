from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from service.usecases.send_daily_digest import digest_context, digest_due, send_daily_digest
from tests.unit.usecases.conftest import add_claim

pytestmark = pytest.mark.unit


def test_queued_once_per_day(ctx):
    assert send_daily_digest(ctx, date(2026, 3, 1))
    assert not send_daily_digest(ctx, date(2026, 3, 1))
    assert send_daily_digest(ctx, date(2026, 3, 2))


def test_nobody_to_tell_queues_nothing(ctx):
    ctx.config = replace(ctx.config, digest_recipients=())
    assert not send_daily_digest(ctx, date(2026, 3, 1))


def test_due_after_the_digest_hour(ctx, clock):
    assert digest_due(ctx) == date(2026, 3, 1)  # 09:00, DIGEST_HOUR_UTC 7
    clock.set(clock.now().replace(hour=6))
    assert digest_due(ctx) is None


def test_content_counts_the_day(ctx):
    add_claim(ctx, status="approved")
    add_claim(ctx, status="escalated")
    with ctx.unit_of_work() as s:
        context = digest_context(s, date(2026, 3, 2), ctx.config)
    assert context["counts"] == {
        "new": 2,
        "decided": 2,
        "pending_info": 0,
        "escalated": 1,
        "appealed": 0,
    }
    assert context["outcomes"] == {"approved": 1, "escalated": 1}
