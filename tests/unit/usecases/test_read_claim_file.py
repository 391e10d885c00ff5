"""read_claim_file: the claim file around a claim (appeals, documents asked for and
received, other claims on its policy, history without page views, the access log)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from service.usecases import manage_policies, read_claims
from service.usecases.add_documents import add_documents
from service.usecases.appeal_claim import appeal_claim
from service.usecases.decide_claim import SupervisorDecision, decide_claim
from service.usecases.read_claim_file import (
    access_log,
    changes_since,
    claim_file_extras,
    requested_documents,
)
from service.usecases.record_claim_view import record_claim_view
from service.usecases.submit_claim import submit_claim
from tests.unit.usecases.conftest import T0, add_claim
from tests.unit.usecases.test_intake import POLICY  # P-DEV: limit 800, deductible 50

pytestmark = pytest.mark.unit


def submit(ctx, ref: str, amount: str, documents: list[dict[str, str]]) -> str:
    body = {
        "external_ref": ref,
        "policy_number": "P-DEV",
        "claim_type": "device_damage",
        "date_of_loss": date(2026, 2, 20),
        "amount": Decimal(amount),
        "currency": "USD",
        "claimant": {"name": "Sam", "email": "sam@example.com"},
        "documents": documents,
    }
    return str(submit_claim(ctx, body, client_id="c").document["id"])


def iso(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


@pytest.fixture
def file(ctx, clock):
    """Claim A: sent without documents at T0, the receipt at +2 h, the photos at +3 h
    (approved: 300 - 50 = 250), appealed at +4 h and the appeal upheld at +5 h; viewed
    at +1 h and +6 h. Claims B (+1 h) and C (+2 h) on the same policy; one on another policy."""
    manage_policies.put_policy(ctx, POLICY)
    claim_a = submit(ctx, "EXT-A", "300.00", [])
    clock.advance(hours=1)
    record_claim_view(ctx, claim_a, actor="sup1", via="console", role="supervisor", source="web")
    claim_b = submit(ctx, "EXT-B", "90.00", [{"type": "purchase_receipt", "ref": "rb"}])
    add_claim(ctx, status="approved")  # POL-1: not on P-DEV
    clock.advance(hours=1)
    submit(ctx, "EXT-C", "120.00", [{"type": "photos", "ref": "pc"}])
    add_documents(
        ctx, claim_a, [{"type": "purchase_receipt", "ref": "r"}], client_id="c", actor="c"
    )
    clock.advance(hours=1)
    add_documents(ctx, claim_a, [{"type": "photos", "ref": "p"}], client_id="c", actor="c")
    clock.advance(hours=1)
    appeal_claim(ctx, claim_a, "more please", client_id=None, actor="c")
    clock.advance(hours=1)
    version = read_claims.get_claim(ctx, claim_a)["version"]
    decide_claim(
        ctx,
        claim_a,
        SupervisorDecision("uphold", "stands"),
        expected_version=version,
        decided_by="sup2",
    )
    clock.advance(hours=1)
    record_claim_view(ctx, claim_a, actor="sup2", via="api", role="supervisor", source="api")
    return claim_a, claim_b


def test_documents_asked_for_and_when_each_arrived(ctx, file):
    claim_a, _ = file
    extras = claim_file_extras(ctx, read_claims.get_claim(ctx, claim_a))
    assert extras["requested_documents"] == [
        # intake (T0) asked for both; each arrived later, at +2 h and +3 h
        {
            "type": "purchase_receipt",
            "requested_by": "rules",
            "requested_at": iso(0),
            "received_at": iso(2),
        },
        {"type": "photos", "requested_by": "rules", "requested_at": iso(0), "received_at": iso(3)},
        # the decision at +2 h (receipt in) asked again for the photos only
        {"type": "photos", "requested_by": "rules", "requested_at": iso(2), "received_at": iso(3)},
    ]


def test_a_document_still_missing_has_no_received_at(ctx, file):
    _, claim_b = file
    extras = claim_file_extras(ctx, read_claims.get_claim(ctx, claim_b))
    assert extras["requested_documents"] == [
        {"type": "photos", "requested_by": "rules", "requested_at": iso(1), "received_at": None}
    ]
    assert extras["appeals"] == [] and extras["views"] == 0


def test_other_claims_on_the_policy_newest_first(ctx, file):
    claim_a, claim_b = file
    others = claim_file_extras(ctx, read_claims.get_claim(ctx, claim_a))["other_claims"]
    assert [o["external_ref"] for o in others] == ["EXT-C", "EXT-B"]  # not POL-1's claim
    assert others[1] == {
        "id": claim_b,
        "external_ref": "EXT-B",
        "claim_type": "device_damage",
        "date_of_loss": "2026-02-20",
        "amount": "90.00",
        "currency": "USD",
        "status": "pending_info",
    }


def test_appeal_with_its_answer(ctx, file):
    claim_a, _ = file
    [appeal] = claim_file_extras(ctx, read_claims.get_claim(ctx, claim_a))["appeals"]
    assert (appeal["reason"], appeal["filed_by"], appeal["status"]) == (
        "more please",
        "c",
        "upheld",
    )
    assert (appeal["filed_at"], appeal["answered_at"]) == (iso(4), iso(5))
    assert appeal["due_at"] == iso(4 + 72)  # three days to answer
    # upheld: the answer is the decision that stands (the approval of 250 at +3 h)
    answer = appeal["answer"]
    assert (answer["outcome"], answer["payable_amount"], answer["decided_at"]) == (
        "approved",
        "250.00",
        iso(3),
    )


def test_history_without_page_views_and_the_access_log(ctx, file):
    claim_a, _ = file
    claim = read_claims.get_claim(ctx, claim_a)
    extras = claim_file_extras(ctx, claim)
    assert extras["views"] == 2
    assert [h["action"] for h in extras["history"]] == [
        "claim.decided",
        "claim.documents_added",
        "claim.decided",
        "claim.documents_added",
        "claim.decided",
        "claim.appealed",
        "claim.appeal_upheld",
    ]
    assert access_log(ctx, claim_a) == [
        {"at": iso(6), "actor": "sup2", "source": "api"},
        {"at": iso(1), "actor": "sup1", "source": "web"},
    ]
    approval = extras["history"][4]["id"]
    assert [h["action"] for h in changes_since(claim, approval)] == [
        "claim.appealed",
        "claim.appeal_upheld",
    ]  # the view at +6 h, later still, is left out
    assert changes_since(claim, extras["history"][-1]["id"]) == []


def test_a_document_received_before_the_request_does_not_answer_it():
    photos = [
        {"type": "photos", "ref": r, "received_at": iso(h)}
        for r, h in (("a", 0), ("c", 4), ("b", 3))
    ]
    claim = {
        "decisions": [{"missing_documents": ["photos"], "decided_by": "sup", "decided_at": iso(1)}],
        "documents": [{"type": "purchase_receipt", "ref": "r", "received_at": iso(2)}, *photos],
    }
    assert requested_documents(claim) == [
        {"type": "photos", "requested_by": "sup", "requested_at": iso(1), "received_at": iso(3)}
    ]


def test_an_upheld_appeal_is_answered_by_the_supervisor(ctx, file):
    claim_a, _ = file
    [appeal] = claim_file_extras(ctx, read_claims.get_claim(ctx, claim_a))["appeals"]
    assert (appeal["answer"]["decided_by"], appeal["answer"]["note"]) == ("sup2", "stands")
