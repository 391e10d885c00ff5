"""Admin outbox endpoints and bordereau downloads, with their role checks (both databases)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from service.db.tables import AuditEventRow, ClaimRow, DecisionRow, OutboxRow
from tests.auth_helpers import key

pytestmark = pytest.mark.integration


class RecordingDispatcher:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def dispatch_outbox(self, outbox_ids, request_id=None, *, new=False):  # noqa: ANN001
        self.calls.append(list(outbox_ids))


def add_claim(context, decided_at: datetime, outcome: str = "approved") -> str:
    claim_id = str(uuid.uuid4())
    with context.sessions.begin() as s:
        s.add(
            ClaimRow(
                id=claim_id,
                client_id="default",
                external_ref=f"EXT-{claim_id[:8]}",
                policy_number="P-DEV",
                claim_type="device_damage",
                date_of_loss=date(2026, 5, 1),
                reported_at=decided_at,
                amount=Decimal("300.00"),
                currency="USD",
                description="",
                claimant={"name": "Sam", "email": "sam@example.com"},
                preferred_language="en",
                callback_url=None,
                payload={},
                status=outcome,
                version=1,
                payable_amount=Decimal("250.00") if outcome == "approved" else None,
                created_at=decided_at,
                updated_at=decided_at,
            )
        )
        s.add(
            DecisionRow(
                claim_id=claim_id,
                outcome=outcome,
                payable_amount=Decimal("250.00") if outcome == "approved" else None,
                reasons=[],
                missing_documents=[],
                trace=[],
                facts={},
                decided_by="rules",
                decided_at=decided_at,
            )
        )
    return claim_id


def add_outbox(context, claim_id: str, status: str, n: int = 0) -> int:
    now = context.clock.now()
    with context.sessions.begin() as s:
        row = OutboxRow(
            dedupe_key=f"claim:{claim_id}:test:{n}:email",
            claim_id=claim_id,
            event="approved",
            channel="email",
            payload={"claim_id": claim_id},
            status=status,
            attempts=6 if status == "dead" else 0,
            next_attempt_at=now,
            created_at=now,
            last_error="Transient: HTTP 500" if status == "dead" else None,
        )
        s.add(row)
        s.flush()
        return row.id


# ---------------------------------------------------------------- outbox
def test_dead_list_and_resend_need_admin(app, client, context):
    claim_id = add_claim(context, context.clock.now())
    dead = add_outbox(context, claim_id, "dead", 1)
    add_outbox(context, claim_id, "sent", 2)
    client.default_auth = False
    assert client.get("/v1/outbox/dead").status_code == 401
    assert client.post(f"/v1/outbox/{dead}/resend").status_code == 401
    for role in ("intake", "supervisor", "finance", "analyst"):
        headers = key(app, role, f"{role}-x")
        response = client.get("/v1/outbox/dead", headers=headers)
        assert response.status_code == 403, role
        assert response.content_type == "application/problem+json"
        assert client.post(f"/v1/outbox/{dead}/resend", headers=headers).status_code == 403
    with context.sessions() as s:
        assert s.get(OutboxRow, dead).status == "dead"


def test_admin_lists_dead_and_resends_once(app, client, context):
    dispatcher = RecordingDispatcher()
    context.dispatcher = dispatcher
    claim_id = add_claim(context, context.clock.now())
    dead = add_outbox(context, claim_id, "dead", 1)
    sent = add_outbox(context, claim_id, "sent", 2)
    admin = key(app, "admin", "ops-admin")

    listing = client.get("/v1/outbox/dead", headers=admin)
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["total"] == 1 and [i["id"] for i in body["items"]] == [dead]
    item = body["items"][0]
    assert (item["event"], item["channel"], item["claim_id"]) == ("approved", "email", claim_id)
    assert item["attempts"] == 6 and item["last_error"] == "Transient: HTTP 500"

    response = client.post(f"/v1/outbox/{dead}/resend", headers=admin)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["status"] == "pending"
    assert dispatcher.calls == [[dead]]
    with context.sessions() as s:
        row = s.get(OutboxRow, dead)
        assert (row.status, row.attempts) == ("pending", 0)
        audit = s.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "outbox.resent")
        ).all()
    assert len(audit) == 1 and audit[0].actor == "ops-admin" and audit[0].claim_id == claim_id
    assert audit[0].before["status"] == "dead" and audit[0].after["status"] == "pending"

    again = client.post(f"/v1/outbox/{dead}/resend", headers=admin)
    assert again.status_code == 409 and again.get_json()["code"] == "not_dead"
    assert client.post(f"/v1/outbox/{sent}/resend", headers=admin).status_code == 409
    missing = client.post("/v1/outbox/999999/resend", headers=admin)
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"
    assert dispatcher.calls == [[dead]]
    assert client.get("/v1/outbox/dead", headers=admin).get_json()["total"] == 0


# ---------------------------------------------------------------- bordereau
def test_finance_downloads_bordereau_generated_on_demand(app, client, context):
    may = datetime(2026, 5, 20, 12, tzinfo=UTC)  # the clock says 2026-06-15
    first = add_claim(context, may)
    add_claim(context, may, outcome="rejected")
    finance = key(app, "finance", "books")
    stored = Path(context.config.instance_dir) / "reports" / "bordereau-2026-05.csv"
    assert not stored.exists()

    listing = client.get("/v1/reports/bordereau", headers=finance)
    assert listing.status_code == 200 and listing.get_json() == {"items": []}

    response = client.get("/v1/reports/bordereau/2026-05", headers=finance)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="bordereau-2026-05.csv"'
    assert response.headers["X-Report-Complete"] == "true"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("record,claim_id")
    assert [line.split(",")[1] for line in lines if line.startswith("claim,")] == [first]
    # (stored without adjustment lines: its adjustment columns are 0)
    assert lines[-1] == "grand_total,,,,,,,,USD,300.00,250.00,1,0.00,0.00,0.00,0.00,"
    assert stored.read_bytes() == response.get_data()  # stored once generated

    items = client.get("/v1/reports/bordereau", headers=finance).get_json()["items"]
    assert [i["month"] for i in items] == ["2026-05"]
    assert items[0]["href"] == "/v1/reports/bordereau/2026-05" and items[0]["bytes"] > 0

    admin = key(app, "admin", "ops-admin")
    assert client.get("/v1/reports/bordereau/2026-05", headers=admin).status_code == 200

    current = client.get("/v1/reports/bordereau/2026-06", headers=finance)
    assert current.status_code == 200 and current.headers["X-Report-Complete"] == "false"
    assert not stored.with_name("bordereau-2026-06.csv").exists()  # still changing: not stored


@pytest.mark.parametrize("month", ["2026-13", "2026-5", "May-2026", "2026-00", "2027-01"])
def test_bad_month_is_a_422_problem(app, client, month):
    response = client.get(f"/v1/reports/bordereau/{month}", headers=key(app, "finance", "f"))
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.get_json()["code"] == "bad_month"


def test_bordereau_refuses_other_roles(app, client):
    for role in ("intake", "supervisor", "analyst"):
        headers = key(app, role, f"{role}-y")
        assert client.get("/v1/reports/bordereau/2026-05", headers=headers).status_code == 403
        assert client.get("/v1/reports/bordereau", headers=headers).status_code == 403
    client.default_auth = False
    assert client.get("/v1/reports/bordereau/2026-05").status_code == 401
    assert client.get("/v1/reports/bordereau").status_code == 401
