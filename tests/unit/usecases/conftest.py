"""Use-case unit tests: fakes for the notifier, the queue and the clock; data in SQLite."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.clock import FixedClock
from service.db.tables import ClaimRow, DecisionRow, OutboxRow
from service.usecases.context import Context
from tests.fakes import FakeDispatcher, FakeNotifier, memory_context

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ctx(clock: FixedClock, tmp_path: Path) -> Context:
    return memory_context(
        clock,
        tmp_path,
        SUPERVISOR_LEAD_EMAIL="lead@example.com",
        DIGEST_RECIPIENTS=("ops@example.com",),
    )


def notifier(ctx: Context) -> FakeNotifier:
    assert isinstance(ctx.notifier, FakeNotifier)
    return ctx.notifier


def dispatcher(ctx: Context) -> FakeDispatcher:
    assert isinstance(ctx.dispatcher, FakeDispatcher)
    return ctx.dispatcher


def add_claim(
    ctx: Context,
    *,
    status: str = "approved",
    at: datetime = T0,
    email: bool = True,
    callback_url: str | None = None,
    missing: list[Any] | None = None,
    amount: str = "120.00",
) -> tuple[str, int]:
    """A stored claim with one decision by the rules (its outcome = the status)."""
    claim_id = str(uuid.uuid4())
    with ctx.unit_of_work() as s:
        s.add(
            ClaimRow(
                id=claim_id,
                client_id="client-a",
                external_ref=f"EXT-{claim_id[:6]}",
                policy_number="POL-1",
                claim_type="device_damage",
                date_of_loss=date(2026, 2, 20),
                reported_at=at,
                amount=Decimal(amount),
                currency="EUR",
                description="",
                claimant={"name": "Ana", **({"email": "ana@example.com"} if email else {})},
                preferred_language="en",
                callback_url=callback_url,
                payload={},
                status=status,
                payable_amount=Decimal("70.00") if status == "approved" else None,
                ruleset_version="v1",
                version=1,
                created_at=at,
                updated_at=at,
            )
        )
        decision = DecisionRow(
            claim_id=claim_id,
            outcome=status,
            payable_amount=Decimal("70.00") if status == "approved" else None,
            reasons=[],
            missing_documents=missing or [],
            trace=[],
            facts={},
            ruleset_version="v1",
            decided_by="rules",
            decided_at=at,
        )
        s.add(decision)
        s.flush()
        decision_id = decision.id
        s.commit()
    return claim_id, decision_id


def add_outbox(
    ctx: Context,
    claim_id: str | None,
    event: str,
    *,
    channel: str = "email",
    status: str = "pending",
    attempts: int = 0,
    payload: dict[str, Any] | None = None,
) -> int:
    with ctx.unit_of_work() as s:
        row = OutboxRow(
            dedupe_key=f"test:{uuid.uuid4()}",
            claim_id=claim_id,
            event=event,
            channel=channel,
            payload=payload if payload is not None else {"claim_id": claim_id},
            status=status,
            attempts=attempts,
            next_attempt_at=T0,
            created_at=T0,
        )
        s.add(row)
        s.flush()
        outbox_id = row.id
        s.commit()
    return outbox_id


def outbox_row(ctx: Context, outbox_id: int) -> OutboxRow:
    with ctx.unit_of_work() as s:
        row = s.get(OutboxRow, outbox_id)
        assert row is not None
        return row


def events(ctx: Context, claim_id: str) -> list[str]:
    with ctx.unit_of_work() as s:
        rows = s.query(OutboxRow).filter(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id)
        return [r.event for r in rows]
