from __future__ import annotations

import pytest

from service.usecases.send_reminders import send_reminders
from tests.unit.usecases.conftest import add_claim, events

pytestmark = pytest.mark.unit


def test_reminders_on_day_2_and_3_once_each(ctx, clock):
    claim_id, _ = add_claim(ctx, status="pending_info")
    clock.advance(days=1)
    assert send_reminders(ctx) == {"reminders": 0, "abandoned": 0}
    clock.advance(days=1)
    assert send_reminders(ctx)["reminders"] == 1
    assert send_reminders(ctx)["reminders"] == 0  # twice: nothing twice
    clock.advance(days=1)
    send_reminders(ctx)
    assert events(ctx, claim_id) == ["reminder", "reminder"]


def test_a_late_sweep_sends_the_latest_reminder_only(ctx, clock):
    claim_id, _ = add_claim(ctx, status="pending_info")
    clock.advance(days=5)
    send_reminders(ctx)
    assert events(ctx, claim_id) == ["reminder"]


def test_stale_claims_are_abandoned(ctx, clock):
    claim_id, _ = add_claim(ctx, status="pending_info")
    clock.advance(days=10)
    assert send_reminders(ctx) == {"reminders": 0, "abandoned": 1}
    assert events(ctx, claim_id) == ["escalated"]
