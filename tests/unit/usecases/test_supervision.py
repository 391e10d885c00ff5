"""decide_claim, assign_claim, appeal_claim (and its reminders), read_queue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from service.usecases import read_queue
from service.usecases.appeal_claim import appeal_claim, queue_appeal_reminders
from service.usecases.assign_claim import assign_claim
from service.usecases.decide_claim import DecisionRefused, SupervisorDecision, decide_claim
from tests.unit.usecases.conftest import add_claim, events

pytestmark = pytest.mark.unit


def test_queue_assign_and_decide(ctx):
    claim_id, _ = add_claim(ctx, status="escalated", amount="100.00")
    queue = read_queue.escalation_queue(ctx)
    assert [i["id"] for i in queue["items"]] == [claim_id]
    assert assign_claim(ctx, claim_id, "sup", actor="sup")["assignee"] == "sup"
    with pytest.raises(DecisionRefused) as refused:
        assign_claim(ctx, claim_id, "other", actor="other")
    assert refused.value.code == "assigned_to_other"
    reject = SupervisorDecision("reject", "no cover", reason_codes=("carc_96",))
    with pytest.raises(DecisionRefused) as stale:
        decide_claim(ctx, claim_id, reject, expected_version=1, decided_by="sup")
    assert stale.value.status == 412
    document = decide_claim(ctx, claim_id, reject, expected_version=2, decided_by="sup")
    assert document["status"] == "rejected" and document["assignee"] is None
    assert events(ctx, claim_id) == ["decision_after_review"]


def test_appeal_goes_back_to_a_supervisor_with_a_reminder_before_the_deadline(ctx, clock):
    claim_id, _ = add_claim(ctx, status="rejected")
    with pytest.raises(DecisionRefused):
        appeal_claim(ctx, claim_id, " ", client_id=None, actor="c")
    appeal = appeal_claim(ctx, claim_id, "I sent the receipt", client_id=None, actor="c")
    assert appeal["claim_status"] == "appealed"  # was "escalated" before the lifecycle
    assert appeal["answer_due_at"] == (clock.now() + timedelta(days=3)).isoformat()
    assert queue_appeal_reminders(ctx, clock.now()) == []
    [reminder] = queue_appeal_reminders(ctx, clock.now() + timedelta(days=2, hours=1))
    assert reminder.claim_id == claim_id
    assert queue_appeal_reminders(ctx, clock.now() + timedelta(days=2, hours=2)) == []
    assert events(ctx, claim_id) == ["appeal_received", "appeal_reminder"]


def test_approve_above_the_coverage_is_refused(ctx):
    claim_id, _ = add_claim(ctx, status="escalated")
    choice = SupervisorDecision("approve", "ok", amount=Decimal("1.00"))
    with pytest.raises(DecisionRefused) as refused:
        decide_claim(ctx, claim_id, choice, expected_version=1, decided_by="sup")
    assert refused.value.code == "no_coverage"  # POL-1 is not on file
