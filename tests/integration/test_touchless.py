"""The touchless (auto-adjudication) rate: claims decided by the rules and never pended,
per day and claim type, and who made each decision (decided_by_kind)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from service.db.tables import DecisionRow
from service.usecases.read_touchless import TouchlessDay, touchless_rate
from tests.auth_helpers import key
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


def test_touchless_rate_per_day_and_claim_type(app, client, clock):
    ctx = app.extensions["claims"]
    sup = key(app, "supervisor", "sue")
    put_policies(client, ["P-DEV", "P-MED"])
    day1 = clock.now().date()
    touchless = client.post("/v1/claims", json=claim()).json  # rules approve at once
    assert touchless["decision"]["outcome"] == "approved"
    pended = client.post(
        "/v1/claims", json=claim(amount="310.00", documents=["photos"], date_of_loss="2026-06-11")
    ).json
    assert pended["decision"]["outcome"] == "pending_info"
    escalated = client.post("/v1/claims", json=claim(date_of_loss="2026-04-01")).json
    assert escalated["decision"]["outcome"] == "escalated"
    medical = client.post("/v1/claims", json=claim("P-MED", "medical_reimbursement", "100")).json
    assert medical["decision"]["outcome"] == "approved"

    clock.advance(days=1)
    day2 = clock.now().date()
    docs = {"documents": [{"type": "purchase_receipt", "ref": "r-1"}]}
    after_docs = client.post(f"/v1/claims/{pended['id']}/documents", json=docs).json
    assert after_docs["decision"]["outcome"] == "approved"  # by the rules, but was pended
    tag = client.get(f"/v1/claims/{escalated['id']}", headers=sup).headers["ETag"]
    answer = client.post(
        f"/v1/claims/{escalated['id']}/decision",
        json={"outcome": "approve", "amount": "200.00", "note": "checked"},
        headers=sup | {"If-Match": tag},
    )
    assert answer.status_code == 200, answer.json

    rows = touchless_rate(ctx, start=day1, end=day2)
    assert rows == [
        TouchlessDay(day1, "device_damage", 1, 1, Decimal("1.0000")),
        TouchlessDay(day1, "medical_reimbursement", 1, 1, Decimal("1.0000")),
        TouchlessDay(day2, "device_damage", 2, 0, Decimal("0.0000")),
    ]
    assert touchless_rate(ctx, start=day2, end=day2) == rows[2:]
    assert touchless_rate(ctx, start=day1 - timedelta(days=5), end=day1 - timedelta(days=1)) == []
    with pytest.raises(ValueError):
        touchless_rate(ctx, start=day2, end=day1)

    with ctx.unit_of_work() as session:
        kinds = {
            (d.claim_id, d.outcome): (d.decided_by, d.decided_by_kind)
            for d in session.scalars(select(DecisionRow))
        }
    assert kinds[(touchless["id"], "approved")] == ("rules", "rule")
    assert kinds[(escalated["id"], "approved")][1] == "person"
    detail = client.get(f"/v1/claims/{escalated['id']}", headers=sup).json
    assert detail["decision"]["decided_by_kind"] == "person"

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'claims_decided_today{claim_type="device_damage"} 2.0' in metrics
    assert 'touchless_rate_today{claim_type="device_damage"} 0.0' in metrics
