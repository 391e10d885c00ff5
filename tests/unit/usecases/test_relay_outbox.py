from __future__ import annotations

import pytest

from service.usecases.relay_outbox import queue_for, relay_outbox
from tests.unit.usecases.conftest import add_claim, add_outbox, dispatcher, outbox_row

pytestmark = pytest.mark.unit


def test_due_rows_are_enqueued_per_queue_and_marked(ctx):
    claim_id, _ = add_claim(ctx)
    ack = add_outbox(ctx, claim_id, "acknowledgment")
    reminder = add_outbox(ctx, claim_id, "reminder")
    assert relay_outbox(ctx) == 2
    assert sorted(dispatcher(ctx).enqueued) == [
        ("followups", [(reminder, 0)]),
        ("notifications", [(ack, 0)]),
    ]
    assert outbox_row(ctx, ack).status == "enqueued"
    assert relay_outbox(ctx) == 0  # enqueued a moment ago: not stale yet


def test_queue_down_leaves_rows_due(ctx):
    claim_id, _ = add_claim(ctx)
    ack = add_outbox(ctx, claim_id, "acknowledgment")
    dispatcher(ctx).down = True
    assert relay_outbox(ctx) == 0
    assert outbox_row(ctx, ack).status == "pending"


def test_a_lease_past_its_end_goes_back_to_pending(ctx, clock):
    claim_id, _ = add_claim(ctx)
    stuck = add_outbox(ctx, claim_id, "acknowledgment", status="sending", attempts=1)
    clock.advance(seconds=1)  # next_attempt_at (the lease end) is T0
    assert relay_outbox(ctx) == 1
    assert outbox_row(ctx, stuck).status == "enqueued"


def test_queue_for_falls_back_to_a_queue_that_is_listened_to():
    assert queue_for("daily_digest", ["notifications", "reports"]) == "reports"
    assert queue_for("daily_digest", ["notifications"]) == "notifications"
    assert queue_for("approved", ["followups"]) == "followups"
