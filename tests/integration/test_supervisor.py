"""The escalation queue, assignment, decisions with If-Match, and appeals with their deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from service.db.tables import ClaimRow, OutboxRow
from tests.auth_helpers import key, user
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


@pytest.fixture
def sup(app):
    return key(app, "supervisor", "sue")


@pytest.fixture
def sup2(app):
    return key(app, "supervisor", "sam")


def escalate(client, clock, **kw):
    """A late-reported device claim: escalated, payable 250.00 after the 50.00 deductible."""
    body = claim(date_of_loss="2026-04-01", **kw)
    document = client.post("/v1/claims", json=body).get_json()
    assert document["decision"]["outcome"] == "escalated", document
    return document["id"]


def etag(client, claim_id, headers):
    response = client.get(f"/v1/claims/{claim_id}", headers=headers)
    return response.headers["ETag"]


def decide(client, claim_id, headers, body, tag=None):
    tag = tag if tag is not None else etag(client, claim_id, headers)
    return client.post(
        f"/v1/claims/{claim_id}/decision",
        json=body,
        headers=headers | ({"If-Match": tag} if tag else {}),
    )


APPROVE = {"outcome": "approve", "amount": "200.00", "note": "Receipt checked by phone"}


def outbox_events(app, claim_id):
    with app.extensions["claims"].unit_of_work() as session:
        return [
            r.event
            for r in session.scalars(
                select(OutboxRow).where(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id)
            )
        ]


def claim_state(app, claim_id):
    with app.extensions["claims"].unit_of_work() as session:
        row = session.get(ClaimRow, claim_id)
        return row.status, row.version, len(row.decisions)


def test_queue_is_ordered_by_deadline_and_filters(app, client, clock, sup):
    put_policies(client)
    first = escalate(client, clock)
    clock.advance(hours=1)
    big = client.post("/v1/claims", json=claim("P-MED", "medical_reimbursement", "2500")).json
    assert big["decision"]["outcome"] == "escalated"
    clock.advance(hours=1)
    client.post("/v1/claims", json=claim())  # approved: not in the queue
    items = client.get("/v1/escalations", headers=sup).json["items"]
    assert [i["id"] for i in items] == [first, big["id"]]
    assert items[0]["reason_codes"] == ["LATE_REPORTING"]
    assert items[0]["seconds_left"] == 46 * 3600
    by_type = client.get("/v1/escalations?claim_type=medical_reimbursement", headers=sup).json
    assert [i["id"] for i in by_type["items"]] == [big["id"]]
    by_reason = client.get("/v1/escalations?reason=AMOUNT_ABOVE_THRESHOLD", headers=sup).json
    assert [i["id"] for i in by_reason["items"]] == [big["id"]]
    assert client.get("/v1/escalations?overdue=true", headers=sup).json["items"] == []
    clock.advance(hours=47)
    overdue = client.get("/v1/escalations?overdue=true", headers=sup).json["items"]
    assert [i["id"] for i in overdue] == [first] and overdue[0]["overdue"]
    assert client.get("/v1/escalations?limit=1", headers=sup).json["total"] == 2


def test_assign_to_me_and_unassign(app, client, clock, sup, sup2):
    put_policies(client, ["P-DEV"])
    claim_id = escalate(client, clock)
    response = client.post(f"/v1/escalations/{claim_id}/assign", headers=sup)
    assert response.status_code == 200 and response.json["assignee"] == "sue"
    assert client.get("/v1/escalations?assignee=me", headers=sup).json["total"] == 1
    assert client.get("/v1/escalations?assignee=none", headers=sup).json["total"] == 0
    taken = client.post(f"/v1/escalations/{claim_id}/assign", headers=sup2)
    assert taken.status_code == 409 and taken.json["code"] == "assigned_to_other"
    other = client.post(
        f"/v1/escalations/{claim_id}/assign", headers=sup2, json={"assignee": "sam"}
    )
    assert other.status_code == 409
    assert client.post(f"/v1/escalations/{claim_id}/unassign", headers=sup2).status_code == 409
    assert client.post(f"/v1/escalations/{claim_id}/unassign", headers=sup).json["assignee"] is None
    assert client.post("/v1/escalations/x/assign", headers=sup).status_code == 404


def test_approve_within_the_coverage_notifies_the_claimant(app, client, clock, sup):
    put_policies(client, ["P-DEV"])
    claim_id = escalate(client, clock)
    response = decide(client, claim_id, sup, APPROVE)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "approved"
    assert response.json["payable_amount"] == "200.00"
    assert response.json["decision"]["decided_by"] == "sue"
    assert response.json["decision"]["note"] == "Receipt checked by phone"
    assert response.headers["ETag"] == f'"{response.json["version"]}"'
    assert outbox_events(app, claim_id)[-1] == "decision_after_review"
    assert client.get("/v1/escalations", headers=sup).json["items"] == []


def test_reject_and_request_info(app, client, clock, sup):
    put_policies(client, ["P-DEV"])
    one, two = escalate(client, clock), escalate(client, clock, amount="310.00")
    rejected = decide(
        client,
        one,
        sup,
        {"outcome": "reject", "note": "Late", "reason_codes": ["FILING_LIMIT_EXPIRED", "carc_29"]},
    )
    assert rejected.status_code == 200, rejected.json
    assert {r["code"] for r in rejected.json["decision"]["reasons"]} == {
        "FILING_LIMIT_EXPIRED",
        "carc_29",
    }
    asked = decide(
        client,
        two,
        sup,
        {"outcome": "request_info", "note": "Need receipt", "documents": ["purchase_receipt"]},
    )
    assert asked.status_code == 200 and asked.json["status"] == "pending_info"
    assert asked.json["decision"]["missing_documents"] == ["purchase_receipt"]
    assert outbox_events(app, two)[-1] == "information_requested"


def test_two_supervisors_one_wins_the_other_gets_412(app, client, clock, sup, sup2):
    put_policies(client, ["P-DEV"])
    claim_id = escalate(client, clock)
    tag_a, tag_b = etag(client, claim_id, sup), etag(client, claim_id, sup2)
    assert tag_a == tag_b
    first = decide(client, claim_id, sup, APPROVE, tag_a)
    second = decide(
        client,
        claim_id,
        sup2,
        {"outcome": "reject", "note": "no", "reason_codes": ["carc_96"]},
        tag_b,
    )
    assert first.status_code == 200
    assert second.status_code == 412 and second.json["code"] == "stale_version"
    assert claim_state(app, claim_id)[0] == "approved"


def test_concurrent_decisions_only_one_commits(app, client, clock, sup, sup2):
    """Two threads racing with the same ETag: exactly one decision is stored."""
    from concurrent.futures import ThreadPoolExecutor

    put_policies(client, ["P-DEV"])
    claim_id = escalate(client, clock)
    tag = etag(client, claim_id, sup)
    _, _, decisions_before = claim_state(app, claim_id)

    def go(headers):
        return decide(app.test_client(), claim_id, headers, APPROVE, tag).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(go, [sup, sup2]))
    assert statuses == [200, 412]
    assert claim_state(app, claim_id)[2] == decisions_before + 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"outcome": "approve", "amount": "250.01", "note": "n"}, 422, "amount_above_limit"),
        ({"outcome": "approve", "amount": -1, "note": "n"}, 422, "validation_error"),
        ({"outcome": "approve", "amount": 0, "note": "n"}, 422, "validation_error"),
        ({"outcome": "approve", "amount": "0.00", "note": "n"}, 422, "validation_error"),
        ({"outcome": "approve", "amount": "-1", "note": "n"}, 422, "validation_error"),
        ({"outcome": "approve", "note": "n"}, 422, "bad_amount"),
        (
            {"outcome": "reject", "reason_codes": ["MADE_UP"], "note": "n"},
            422,
            "unknown_reason_code",
        ),
        ({"outcome": "reject", "note": "n"}, 422, "unknown_reason_code"),
        ({"outcome": "request_info", "note": "n"}, 422, "documents_required"),
        ({"outcome": "approve", "amount": "10"}, 422, "validation_error"),
        ({"outcome": "approve", "amount": "10", "note": "   "}, 422, "note_required"),
        ({"outcome": "pay_double", "note": "n"}, 422, "validation_error"),
    ],
)
def test_bad_decisions_change_nothing(app, client, clock, sup, body, status, code):
    put_policies(client, ["P-DEV"])
    claim_id = escalate(client, clock)
    before = claim_state(app, claim_id), outbox_events(app, claim_id)
    response = decide(client, claim_id, sup, body)
    assert response.status_code == status and response.json["code"] == code, response.json
    assert (claim_state(app, claim_id), outbox_events(app, claim_id)) == before


def test_if_match_missing_or_stale(app, client, clock, sup):
    put_policies(client, ["P-DEV"])
    claim_id = escalate(client, clock)
    assert decide(client, claim_id, sup, APPROVE, tag="").status_code == 428
    assert decide(client, claim_id, sup, APPROVE, tag='"999"').status_code == 412
    assert decide(client, claim_id, sup, APPROVE, tag="*").status_code == 412
    assert claim_state(app, claim_id)[0] == "escalated"


def test_decision_on_a_decided_claim_is_409(app, client, clock, sup):
    put_policies(client, ["P-DEV"])
    claim_id = client.post("/v1/claims", json=claim()).json["id"]
    before = claim_state(app, claim_id)
    response = decide(client, claim_id, sup, APPROVE)
    assert response.status_code == 409 and response.json["code"] == "already_decided"
    assert claim_state(app, claim_id) == before
    assert decide(client, "nope", sup, APPROVE, tag='"1"').status_code == 404


# --- appeals -------------------------------------------------------------------------


def test_appeal_on_a_claim_approved_in_full_is_refused(app, client, clock):
    put_policies(client, ["P-MED"])
    document = client.post("/v1/claims", json=claim("P-MED", "medical_reimbursement", "100")).json
    assert document["decision"]["outcome"] == "approved"
    assert document["payable_amount"] == document["amount"]
    before = claim_state(app, document["id"]), outbox_events(app, document["id"])
    response = client.post(f"/v1/claims/{document['id']}/appeal", json={"reason": "more"})
    assert response.status_code == 409 and response.json["code"] == "not_appealable"
    assert (claim_state(app, document["id"]), outbox_events(app, document["id"])) == before


def test_appeal_flow_with_deadline_and_reminder(app, client, clock, sup):
    from service.usecases.appeal_claim import due_appeal_reminders, queue_appeal_reminders

    put_policies(client, ["P-LAPSED"])
    user(app, "sue", "supervisor", email="sue@example.com")
    rejected = client.post("/v1/claims", json=claim("P-LAPSED")).json
    assert rejected["decision"]["outcome"] == "rejected"
    claim_id = rejected["id"]
    response = client.post(
        f"/v1/claims/{claim_id}/appeal", json={"reason": "My policy was renewed in March."}
    )
    assert response.status_code == 201, response.json
    appeal = response.json
    assert appeal["answer_due_at"] == (clock.now() + timedelta(days=3)).isoformat()
    assert outbox_events(app, claim_id)[-1] == "appeal_received"
    again = client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "again"})
    assert again.status_code == 409 and again.json["code"] == "appeal_open"
    queue = client.get("/v1/escalations?reason=appeal", headers=sup).json["items"]
    assert [i["id"] for i in queue] == [claim_id] and queue[0]["appeal"]
    assert queue[0]["sla_due_at"] == appeal["answer_due_at"]
    history = client.get(f"/v1/claims/{claim_id}", headers=sup).json["history"]
    assert "claim.appealed" in [h["action"] for h in history]
    client.post(f"/v1/escalations/{claim_id}/assign", headers=sup)

    ctx = app.extensions["claims"]
    assert due_appeal_reminders(ctx, clock.now() + timedelta(days=1)) == []
    later = clock.now() + timedelta(days=2, hours=1)
    due = due_appeal_reminders(ctx, later)
    assert [(r.claim_id, r.assignee, r.assignee_email) for r in due] == [
        (claim_id, "sue", "sue@example.com")
    ]
    assert len(queue_appeal_reminders(ctx, later)) == 1
    assert queue_appeal_reminders(ctx, later) == []  # once only
    assert outbox_events(app, claim_id)[-1] == "appeal_reminder"

    clock.set(later)
    answer = decide(
        client, claim_id, sup, {"outcome": "approve", "amount": "10.00", "note": "Renewal found"}
    )
    assert answer.status_code == 200, answer.json
    assert due_appeal_reminders(ctx, clock.now() + timedelta(days=5)) == []
    assert client.get("/v1/escalations", headers=sup).json["items"] == []


def test_appeal_by_another_client_or_staff_role(app, client, clock, sup):
    put_policies(client, ["P-LAPSED"])
    claim_id = client.post("/v1/claims", json=claim("P-LAPSED")).json["id"]
    other = key(app, "intake", "someone-else")
    assert (
        client.post(
            f"/v1/claims/{claim_id}/appeal", headers=other, json={"reason": "x"}
        ).status_code
        == 404
    )
    assert (
        client.post(f"/v1/claims/{claim_id}/appeal", headers=sup, json={"reason": "x"}).status_code
        == 403
    )
