from __future__ import annotations

from datetime import timedelta

import pytest

from service.ports import Permanent, Transient
from service.usecases.deliver_message import RetryPolicy, deliver_message, deliver_messages
from tests.unit.usecases.conftest import T0, add_claim, add_outbox, notifier, outbox_row

pytestmark = pytest.mark.unit


def test_sent_once_however_often_the_job_runs(ctx):
    claim_id, decision_id = add_claim(ctx)
    outbox_id = add_outbox(
        ctx, claim_id, "approved", payload={"claim_id": claim_id, "decision_id": decision_id}
    )
    assert deliver_message(ctx, outbox_id) == "sent"
    assert deliver_message(ctx, outbox_id) == "skipped"
    [email] = notifier(ctx).emails
    assert email.to == ("ana@example.com",) and "approved" in email.subject
    row = outbox_row(ctx, outbox_id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, T0)


def test_transient_failure_is_retried_later_then_dead(ctx):
    claim_id, _ = add_claim(ctx, callback_url="http://127.0.0.1:9/hook")
    outbox_id = add_outbox(ctx, claim_id, "claim.decided", channel="webhook")
    notifier(ctx).fail_with = Transient("HTTP 500")
    assert deliver_message(ctx, outbox_id, rng=lambda: 0.0) == "retry"
    row = outbox_row(ctx, outbox_id)
    assert (row.status, row.last_error) == ("pending", "Transient: HTTP 500")
    assert row.next_attempt_at == T0 + timedelta(seconds=15)  # half of the first 30 s step
    for _ in range(RetryPolicy().max_attempts - 1):
        deliver_message(ctx, outbox_id)
    assert outbox_row(ctx, outbox_id).status == "dead"


def test_permanent_failure_is_dead_at_once(ctx):
    claim_id, _ = add_claim(ctx)
    outbox_id = add_outbox(ctx, claim_id, "acknowledgment")
    notifier(ctx).fail_with = Permanent("SMTP refused: 550")
    assert deliver_message(ctx, outbox_id) == "dead"
    assert outbox_row(ctx, outbox_id).last_error == "SMTP refused: 550"


def test_a_message_that_cannot_be_built_is_dead(ctx):
    claim_id, _ = add_claim(ctx, email=False)
    outbox_id = add_outbox(ctx, claim_id, "acknowledgment")
    assert deliver_message(ctx, outbox_id) == "dead"
    assert "no claimant email" in (outbox_row(ctx, outbox_id).last_error or "")
    assert notifier(ctx).emails == []


def test_a_batch_is_each_row_on_its_own(ctx):
    claim_id, _ = add_claim(ctx, callback_url="http://127.0.0.1:9/hook")
    webhook = add_outbox(ctx, claim_id, "claim.decided", channel="webhook")
    email = add_outbox(ctx, claim_id, "acknowledgment")
    results = deliver_messages(ctx, [webhook, email, webhook])
    assert results == {webhook: "sent", email: "sent"}
    [(url, headers, _)] = notifier(ctx).webhooks
    assert url == "http://127.0.0.1:9/hook" and headers["webhook-id"] == f"msg_outbox_{webhook}"
