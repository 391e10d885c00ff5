"""submit_claim, add_documents, read_claims, manage_policies, record_decision."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.domain.model import Coverage, Policy
from service.usecases import manage_policies, read_claims
from service.usecases.add_documents import ClaimNotFound, add_documents
from service.usecases.submit_claim import IdempotencyMismatch, submit_claim
from tests.unit.usecases.conftest import dispatcher

pytestmark = pytest.mark.unit

POLICY = Policy(
    number="P-DEV",
    holder="Dana",
    status="active",
    effective_from=date(2026, 1, 1),
    effective_to=date(2026, 12, 31),
    currency="USD",
    coverages=(Coverage("device_damage", Decimal(800), Decimal(2000), Decimal(50)),),
)


def body(**extra):
    data = {
        "external_ref": "EXT-1",
        "policy_number": "P-DEV",
        "claim_type": "device_damage",
        "date_of_loss": date(2026, 2, 20),
        "amount": Decimal("300.00"),
        "currency": "USD",
        "claimant": {"name": "Sam", "email": "sam@example.com"},
        "documents": [{"type": "purchase_receipt", "ref": "r"}, {"type": "photos", "ref": "p"}],
    }
    return data | extra


def test_policy_put_then_read(ctx):
    assert manage_policies.put_policy(ctx, POLICY)
    assert not manage_policies.put_policy(ctx, POLICY)  # replaced
    assert manage_policies.get_policy(ctx, "P-DEV") == POLICY


def test_submit_decides_records_and_dispatches(ctx):
    manage_policies.put_policy(ctx, POLICY)
    first = submit_claim(ctx, body(), client_id="c", idempotency_key="k1")
    decision = first.document["decision"]
    assert (decision["outcome"], decision["payable_amount"]) == ("approved", "250.00")
    assert len(dispatcher(ctx).dispatched[0]) == 2  # acknowledgment and decision notice
    replay = submit_claim(ctx, body(), client_id="c", idempotency_key="k1")
    assert replay.replayed and replay.document == first.document
    with pytest.raises(IdempotencyMismatch):
        submit_claim(ctx, body(amount=Decimal("301.00")), client_id="c", idempotency_key="k1")
    stored = read_claims.get_claim(ctx, first.document["id"])
    assert stored is not None and [e["action"] for e in stored["history"]] == ["claim.decided"]


def test_documents_that_arrive_decide_a_waiting_claim_again(ctx):
    manage_policies.put_policy(ctx, POLICY)
    waiting = submit_claim(ctx, body(documents=[]), client_id="c").document
    assert waiting["decision"]["outcome"] == "pending_info"
    added = add_documents(
        ctx,
        waiting["id"],
        [{"type": "purchase_receipt", "ref": "r"}, {"type": "photos", "ref": "p"}],
        client_id="c",
        actor="c",
    )
    assert added.readjudicated and added.document["status"] == "approved"
    with pytest.raises(ClaimNotFound):
        add_documents(ctx, "nope", [], client_id="c", actor="c")


def test_list_claims_pages_with_a_cursor(ctx):
    manage_policies.put_policy(ctx, POLICY)
    for n in range(3):
        submit_claim(ctx, body(external_ref=f"E{n}"), client_id="c")
    page = read_claims.list_claims(ctx, client_id="c", filters={}, limit=2, cursor=None)
    rest = read_claims.list_claims(
        ctx, client_id="c", filters={}, limit=2, cursor=page["next_cursor"]
    )
    assert len(page["items"]) == 2 and len(rest["items"]) == 1
