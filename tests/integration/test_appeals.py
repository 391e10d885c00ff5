"""Appeals that mean what they say (issue 17, point 2): the appeal on the claim, uphold
keeps the decision and its payment to the cent (GET claim, the policy's paid-this-year,
the bordereau), overturn approves a higher amount and bills the difference once, the
claimant's "decision after review" letter in their language, and the 409 cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.db.tables import OutboxRow
from service.usecases.notifications import build_email
from service.usecases.write_bordereau import bordereau_csv
from tests.auth_helpers import key
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration
LANGUAGES = ("en", "es", "zh", "et", "vi")


@pytest.fixture
def sup(app):
    return key(app, "supervisor", "sue")


def post_decision(client, claim_id, headers, body):
    tag = client.get(f"/v1/claims/{claim_id}", headers=headers).headers["ETag"]
    return client.post(
        f"/v1/claims/{claim_id}/decision", json=body, headers=headers | {"If-Match": tag}
    )


def approved_partly(client, sup, amount="200.00", language="en", day="2026-04-01"):
    """A late-reported device claim of 300: escalated (payable up to 250.00 after the
    deductible), then approved by a supervisor at `amount`: partly paid, appealable."""
    body = claim(date_of_loss=day)
    body["claimant"]["preferred_language"] = language
    document = client.post("/v1/claims", json=body).json
    assert document["decision"]["outcome"] == "escalated", document
    decided = post_decision(
        client, document["id"], sup, {"outcome": "approve", "amount": amount, "note": "ok"}
    )
    assert decided.status_code == 200, decided.json
    return document["id"]


def aggregate_used(client, sup) -> str:
    body = claim(amount="41.00", date_of_loss="2026-06-02")
    claim_id = client.post("/v1/claims", json=body).json["id"]
    facts = client.get(f"/v1/claims/{claim_id}", headers=sup).json["facts"]
    return facts["aggregate_used"]


def events(app, claim_id):
    with app.extensions["claims"].unit_of_work() as session:
        return [
            (r.event, r.channel)
            for r in session.scalars(
                select(OutboxRow).where(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id)
            )
        ]


def bordereau_rows(app, month, claim_id):
    text = bordereau_csv(app.extensions["claims"], month)
    return [line.split(",")[10] for line in text.splitlines() if claim_id in line]


def test_uphold_keeps_the_decision_and_its_payment_to_the_cent(app, client, clock, sup):
    put_policies(client, ["P-DEV"])
    claim_id = approved_partly(client, sup, "199.99", language="es")
    used_before = aggregate_used(client, sup)
    assert used_before == "199.99"
    appeal = client.post(
        f"/v1/claims/{claim_id}/appeal", json={"reason": "The screen cost 300, not 200."}
    )
    assert appeal.status_code == 201 and appeal.json["claim_status"] == "appealed"
    shown = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    assert shown["status"] == "appealed" and shown["payable_amount"] == "199.99"
    [filed] = shown["appeals"]
    assert filed["reason"] == "The screen cost 300, not 200."
    assert filed["status"] == "open" and filed["answer"] is None
    assert filed["filed_at"] == clock.now().isoformat()
    assert filed["due_at"] == (clock.now() + timedelta(days=3)).isoformat()
    assert filed["filed_by"]
    assert aggregate_used(client, sup) == "199.99"  # the open appeal frees nothing

    # A reject would lower the approved amount: not an answer to an appeal.
    refused = post_decision(client, claim_id, sup, {"outcome": "reject", "note": "no"})
    assert refused.status_code == 409 and refused.json["code"] == "appeal_answer"
    no_note = post_decision(client, claim_id, sup, {"outcome": "uphold", "note": " "})
    assert no_note.status_code == 422

    clock.advance(hours=2)
    upheld = post_decision(
        client, claim_id, sup, {"outcome": "uphold", "note": "Receipt says 199.99 + case."}
    )
    assert upheld.status_code == 200, upheld.json
    shown = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    assert (shown["status"], shown["payable_amount"]) == ("upheld", "199.99")
    assert shown["decision"]["payable_amount"] == "199.99"
    assert len(shown["decisions"]) == 2  # escalation, approval: the uphold adds none
    [answered] = shown["appeals"]
    assert answered["status"] == "upheld"
    assert answered["answer"]["outcome"] == "uphold"
    assert answered["answer"]["note"] == "Receipt says 199.99 + case."
    assert answered["answer"]["answered_by"] == "sue"
    assert answered["answer"]["decision_id"] == shown["decision"]["id"]
    assert "claim.appeal_upheld" in [h["action"] for h in shown["history"]]
    assert aggregate_used(client, sup) == "199.99"
    assert bordereau_rows(app, "2026-06", claim_id) == ["199.99"]

    # The claimant's letter after review, in Spanish.
    assert events(app, claim_id)[-1] == ("decision_after_review", "email")
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        row = session.scalars(
            select(OutboxRow)
            .where(OutboxRow.claim_id == claim_id, OutboxRow.event == "decision_after_review")
            .order_by(OutboxRow.id.desc())
        ).first()
        email = build_email(session, row, ctx.config)
    assert "199.99" in email.text

    # Answered: no second appeal, no second answer.
    again = client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "still"})
    assert again.status_code == 409 and again.json["code"] == "not_appealable"
    assert "already appealed and the appeal answered" in again.json["detail"]
    twice = post_decision(client, claim_id, sup, {"outcome": "uphold", "note": "again"})
    assert twice.status_code == 409 and twice.json["code"] == "no_open_appeal"


def test_uphold_or_overturn_without_an_open_appeal_is_409(app, client, sup):
    put_policies(client, ["P-DEV"])
    claim_id = approved_partly(client, sup)
    for body in (
        {"outcome": "uphold", "note": "x"},
        {"outcome": "overturn", "payable_amount": "250.00", "note": "x"},
    ):
        response = post_decision(client, claim_id, sup, body)
        assert response.status_code == 409, response.json
        assert response.json["code"] == "no_open_appeal"
        assert response.json["current_status"] == "approved"
    pending = client.post("/v1/claims", json=claim(amount="77.00", documents=["photos"])).json
    assert pending["decision"]["outcome"] == "pending_info"
    response = client.post(f"/v1/claims/{pending['id']}/appeal", json={"reason": "why"})
    assert response.status_code == 409 and response.json["code"] == "not_appealable"
    assert response.json["current_status"] == "pending_info"


def test_overturn_approves_more_and_bills_the_difference_once(app, client, clock, sup):
    put_policies(client, ["P-DEV"])
    clock.set(datetime(2026, 5, 20, 9, 0, tzinfo=UTC))
    claim_id = approved_partly(client, sup, "200.00")
    assert bordereau_rows(app, "2026-05", claim_id) == ["200.00"]
    clock.set(datetime(2026, 6, 3, 9, 0, tzinfo=UTC))
    assert client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "more"}).status_code == 201

    lower = post_decision(
        client, claim_id, sup, {"outcome": "overturn", "payable_amount": "150.00", "note": "x"}
    )
    assert lower.status_code == 422 and lower.json["code"] == "amount_below_approved"
    assert lower.json["approved"] == "200.00" and "200.00" in lower.json["detail"]
    same = post_decision(
        client, claim_id, sup, {"outcome": "overturn", "payable_amount": "200.00", "note": "x"}
    )
    assert same.status_code == 422 and same.json["code"] == "amount_below_approved"
    above = post_decision(
        client, claim_id, sup, {"outcome": "overturn", "payable_amount": "260.00", "note": "x"}
    )
    assert above.status_code == 422 and above.json["code"] == "amount_above_limit"
    assert client.get(f"/v1/claims/{claim_id}", headers=sup).json["status"] == "appealed"

    answer = post_decision(
        client, claim_id, sup, {"outcome": "overturn", "payable_amount": "250.00", "note": "Paid"}
    )
    assert answer.status_code == 200, answer.json
    shown = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    assert (shown["status"], shown["payable_amount"]) == ("overturned", "250.00")
    assert shown["decision"]["decided_by_kind"] == "person"
    assert shown["appeals"][0]["status"] == "overturned"
    assert shown["appeals"][0]["answer"]["decision_id"] == shown["decision"]["id"]
    assert events(app, claim_id)[-1] == ("decision_after_review", "email")
    assert aggregate_used(client, sup) == "250.00"
    # May billed the 200.00 approval; June bills only the 50.00 the overturn adds.
    assert bordereau_rows(app, "2026-05", claim_id) == ["200.00"]
    assert bordereau_rows(app, "2026-06", claim_id) == ["50.00"]


def test_an_illegal_move_is_409_with_the_current_status(app, client, sup, monkeypatch):
    """The table, not the use case's own check, is the last word: with the supervisor's
    pre-check widened to a closed claim, the lifecycle refuses the move, the API answers
    409 problem+json naming the current status, and nothing is written."""
    from service.db.tables import ClaimRow
    from service.usecases import decide_claim as module

    put_policies(client, ["P-DEV"])
    claim_id = approved_partly(client, sup)
    with app.extensions["claims"].unit_of_work() as session:
        session.get(ClaimRow, claim_id).status = "closed"
        session.commit()
    before = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    monkeypatch.setattr(module, "DECIDABLE", ("escalated", "closed"))
    response = post_decision(
        client, claim_id, sup, {"outcome": "approve", "amount": "10.00", "note": "x"}
    )
    assert response.status_code == 409, response.json
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json["code"] == "illegal_transition"
    assert response.json["current_status"] == "closed"
    assert response.json["allowed_events"] == []
    after = client.get(f"/v1/claims/{claim_id}", headers=sup).json
    assert (after["version"], len(after["decisions"]), after["status"]) == (
        before["version"],
        len(before["decisions"]),
        "closed",
    )

    def changes(document):
        return [h["action"] for h in document["history"] if h["action"] != "claim.viewed"]

    assert changes(after) == changes(before)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_letter_after_review_exists_in_every_language(app, client, sup, language):
    put_policies(client, ["P-DEV"])
    claim_id = approved_partly(client, sup, "123.45", language=language)
    client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": "more"})
    assert (
        post_decision(client, claim_id, sup, {"outcome": "uphold", "note": "n"}).status_code == 200
    )
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        row = session.scalars(
            select(OutboxRow)
            .where(OutboxRow.claim_id == claim_id, OutboxRow.event == "decision_after_review")
            .order_by(OutboxRow.id.desc())
        ).first()
        assert row.dedupe_key.endswith(":answer:email")  # the answer's own letter
        email = build_email(session, row, ctx.config)
    assert "123.45" in email.text or "123,45" in email.text
