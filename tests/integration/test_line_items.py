"""Per-line adjudication of health claims (issue 16 point 1): each line item decided on
its own against the fee schedule (rules/fee_schedules/medical.csv) and the line rules
(rules/lines.yaml), the claim paying the sum of its lines, balancing to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from service.adapters import templates
from service.db.tables import OutboxRow
from service.usecases.notifications import build_email
from tests.helpers import claim, coverage

MEDICAL = {
    "holder": "Lin Lines",
    "status": "active",
    "effective_from": "2026-01-01",
    "effective_to": "2026-12-31",
    "currency": "USD",
    "coverages": [coverage("medical_reimbursement", "5000", "10000", "100")],
}


def _lines(*items: tuple[str, str]) -> list[dict[str, str]]:
    return [{"code": code, "amount": amount, "description": code} for code, amount in items]


def _post(client: Any, items: list[dict[str, str]], number: str = "P-LINES") -> dict[str, Any]:
    total = sum((Decimal(i["amount"]) for i in items), Decimal(0))
    body = claim(number, "medical_reimbursement", f"{total:.2f}", line_items=items)
    body["currency"] = "USD"
    response = client.post("/v1/claims", json=body)
    assert response.status_code == 201, response.get_json()
    stored = client.get(f"/v1/claims/{response.get_json()['id']}")
    assert stored.status_code == 200
    document: dict[str, Any] = stored.get_json()
    return document


def _balances(decision: dict[str, Any], amount: str) -> None:
    cut = sum((Decimal(a["amount"]) for a in decision["adjustments"]), Decimal(0))
    assert Decimal(amount) - cut == Decimal(decision["payable_amount"])
    for line in decision["lines"]:
        line_cut = sum((Decimal(a["amount"]) for a in line["adjustments"]), Decimal(0))
        assert Decimal(line["submitted"]) - line_cut == Decimal(line["paid"]), line
    assert sum(Decimal(line["paid"]) for line in decision["lines"]) == Decimal(
        decision["payable_amount"]
    )


def test_five_lines_uncovered_over_maximum_and_deductible(client: Any) -> None:
    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    # Hand computation, deductible 100.00 taken in line order:
    # 1 99213 visit 120.00, fee-schedule maximum 90.00: CO 45 30.00, allowed 90.00,
    #   all 90.00 to the deductible (PR 1): paid 0.00 (partly_paid)
    # 2 15780 dermabrasion 200.00, not covered: CO 204 200.00, denied
    # 3 85025 blood count 25.00 (max 25.00): the deductible's last 10.00, paid 15.00
    # 4 80053 panel 40.00 (max 40.00): paid 40.00
    # 5 71046 X-ray 50.00 (max 60.00): paid 50.00
    # claim: 435.00 - (PR 1 100.00 + CO 45 30.00 + CO 204 200.00) = 105.00
    items = _lines(
        ("99213", "120.00"),
        ("15780", "200.00"),
        ("85025", "25.00"),
        ("80053", "40.00"),
        ("71046", "50.00"),
    )
    document = _post(client, items)
    decision = document["decision"]
    assert decision["outcome"] == "approved"
    assert decision["payable_amount"] == "105.00"
    lines = decision["lines"]
    assert [line["sequence"] for line in lines] == [1, 2, 3, 4, 5]
    assert [line["paid"] for line in lines] == ["0.00", "0.00", "15.00", "40.00", "50.00"]
    assert [line["allowed"] for line in lines] == ["90.00", "0.00", "25.00", "40.00", "50.00"]
    assert [line["deductible"] for line in lines] == ["90.00", "0.00", "10.00", "0.00", "0.00"]
    assert [line["outcome"] for line in lines] == [
        "partly_paid",
        "denied",
        "partly_paid",
        "paid",
        "paid",
    ]
    assert lines[0]["adjustments"] == [
        {"group": "CO", "carc": "45", "amount": "30.00"},
        {"group": "PR", "carc": "1", "amount": "90.00"},
    ]
    assert lines[1]["adjustments"] == [{"group": "CO", "carc": "204", "amount": "200.00"}]
    assert lines[1]["reasons"][0]["code"] == "SERVICE_NOT_COVERED"
    assert "15780" in lines[1]["reasons"][0]["message"]
    assert {(a["group"], a["carc"], a["amount"]) for a in decision["adjustments"]} == {
        ("PR", "1", "100.00"),
        ("CO", "45", "30.00"),
        ("CO", "204", "200.00"),
    }
    _balances(decision, "435.00")
    assert document["payable_amount"] == "105.00"


def test_unknown_code_is_accepted_and_its_line_denied_carc_96(client: Any) -> None:
    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    document = _post(client, _lines(("NOPE-1", "30.00"), ("80053", "150.00")))
    decision = document["decision"]
    # 80053 150.00: maximum 40.00 (CO 45 110.00), deductible 40.00 of 100.00: paid 0.00;
    # what is allowed is within the deductible, so the claim is rejected (CARC 1) and
    # each line keeps its own cuts
    assert decision["outcome"] == "rejected"
    assert [r["code"] for r in decision["reasons"]] == ["NOTHING_PAYABLE"]
    first, second = decision["lines"]
    assert first["outcome"] == "denied"
    assert first["adjustments"] == [{"group": "CO", "carc": "96", "amount": "30.00"}]
    assert first["reasons"][0]["code"] == "UNKNOWN_SERVICE_CODE"
    assert second["allowed"] == "40.00" and second["paid"] == "0.00"
    assert second["adjustments"] == [
        {"group": "CO", "carc": "45", "amount": "110.00"},
        {"group": "PR", "carc": "1", "amount": "40.00"},
    ]
    _balances(decision, "180.00")


def test_every_line_denied_rejects_the_claim_and_each_line_keeps_its_reason(
    client: Any,
) -> None:
    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    document = _post(client, _lines(("15780", "300.00"), ("ZZ000", "20.00")))
    decision = document["decision"]
    assert decision["outcome"] == "rejected"
    assert decision["payable_amount"] == "0.00"
    assert [line["adjustments"][0]["carc"] for line in decision["lines"]] == ["204", "96"]
    _balances(decision, "320.00")


def test_claim_without_line_items_has_no_lines(client: Any) -> None:
    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    body = claim("P-LINES", "medical_reimbursement", "300.00")
    body["currency"] = "USD"
    response = client.post("/v1/claims", json=body)
    decision = response.get_json()["decision"]
    assert decision["lines"] == []
    assert decision["payable_amount"] == "200.00"


@pytest.mark.parametrize("language", ["en", "es", "zh", "et", "vi"])
def test_the_letter_lists_each_line_with_what_was_paid_and_why_not(
    app: Any, client: Any, language: str
) -> None:
    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    items = _lines(("99213", "120.00"), ("15780", "200.00"), ("80053", "40.00"))
    items[0]["description"] = "Visit"
    total = "360.00"
    body = claim("P-LINES", "medical_reimbursement", total, line_items=items)
    body["currency"] = "USD"
    body["claimant"]["preferred_language"] = language
    claim_id = client.post("/v1/claims", json=body).get_json()["id"]
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        row = session.scalars(
            select(OutboxRow).where(OutboxRow.claim_id == claim_id, OutboxRow.event == "approved")
        ).one()
        email = build_email(session, row, ctx.config)
    text = email.text
    # 99213 120.00: CO 45 30.00, then all 90.00 of the 100.00 deductible; 15780 denied
    # (CO 204); 80053 40.00: the deductible's last 10.00, paid 30.00
    assert "1. 99213 Visit:" in text
    assert "120.00 USD" in text and "30.00 USD" in text
    assert "2. 15780" in text and "200.00 USD" in text
    assert "3. 80053" in text
    words = templates.carc_words()[language]
    if language != "en":
        assert words["45"].rstrip(".。") in text and words["204"].rstrip(".。") in text
    if language == "en":
        assert "200.00 USD: Your cover does not pay for this service (15780)" in text
        assert "30.00 USD: The charge is above the maximum allowed for this service" in text
    assert email.html.count("<li>") >= 3


def test_a_pending_claim_gets_its_lines_when_the_documents_arrive(client: Any) -> None:
    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    items = _lines(("99213", "120.00"), ("80053", "40.00"))
    body = claim("P-LINES", "medical_reimbursement", "160.00", documents=["invoice"])
    body.update(currency="USD", line_items=items)
    first = client.post("/v1/claims", json=body).get_json()
    assert first["decision"]["outcome"] == "pending_info"
    assert first["decision"]["lines"] == []  # nothing decided yet
    response = client.post(
        f"/v1/claims/{first['id']}/documents",
        json={"documents": [{"type": "medical_report", "ref": "s3://docs/mr.pdf"}]},
    )
    assert response.status_code in (200, 201), response.get_json()
    decision = client.get(f"/v1/claims/{first['id']}").get_json()["decision"]
    # 99213: CO 45 30.00, deductible 90.00; 80053: deductible 10.00, paid 30.00
    assert decision["outcome"] == "approved"
    assert [line["paid"] for line in decision["lines"]] == ["0.00", "30.00"]
    _balances(decision, "160.00")


def test_a_supervisor_approval_of_a_lined_claim_keeps_its_lines_balanced(
    app: Any, client: Any
) -> None:
    from tests.auth_helpers import key

    assert client.put("/v1/policies/P-LINES", json=MEDICAL).status_code in (200, 201)
    # J3420 (no maximum) 2500.00, less the 100.00 deductible: 2400.00 payable, above the
    # medical auto-approval threshold (2,000): escalated; 15780 not covered (CO 204)
    document = _post(client, _lines(("J3420", "2500.00"), ("15780", "100.00")))
    assert document["decision"]["outcome"] == "escalated"
    sup = key(app, "supervisor", "sue")
    tag = client.get(f"/v1/claims/{document['id']}", headers=sup).headers["ETag"]
    too_much = {"outcome": "approve", "amount": "2450.00", "note": "checked"}
    refused = client.post(
        f"/v1/claims/{document['id']}/decision", json=too_much, headers=sup | {"If-Match": tag}
    )
    assert refused.status_code == 422  # above what the lines allow (2400.00)
    body = {"outcome": "approve", "amount": "2000.00", "note": "Invoice checked"}
    response = client.post(
        f"/v1/claims/{document['id']}/decision", json=body, headers=sup | {"If-Match": tag}
    )
    assert response.status_code == 200, response.get_json()
    decision = client.get(f"/v1/claims/{document['id']}").get_json()["decision"]
    assert decision["payable_amount"] == "2000.00"
    first, second = decision["lines"]
    assert first["paid"] == "2000.00"
    assert first["adjustments"] == [
        {"group": "PR", "carc": "1", "amount": "100.00"},
        {"group": "OA", "carc": "150", "amount": "400.00"},
    ]
    assert second["outcome"] == "denied" and second["paid"] == "0.00"
    _balances(decision, "2600.00")
