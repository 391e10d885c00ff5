"""Many escalated claims at once, written straight to the tables (a queue of thousands
without thousands of API calls)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from service.db.tables import AppealRow, ClaimRow, DecisionRow
from service.usecases.record_decision import decider_kind

NAMES = ("Ana Lima", "Bo Chen", "Cai Okafor", "Dora Novak", "Eli Haddad")


def bulk_escalated(
    ctx: Any,
    count: int,
    now: datetime,
    *,
    sla_hours: int = 48,
    start: int = 0,
    reasons: tuple[str, ...] = ("LATE_REPORTING", "AMOUNT_ABOVE_THRESHOLD"),
) -> list[dict[str, Any]]:
    """`count` escalated claims, refs Q-00000.., policies P-Q000.., decided by the rules
    i minutes before `now` with `reasons[i % len]`, amounts 100.00 + i, deadlines
    sla_hours after their decision. Answers the claim rows' values."""
    rows, decisions = [], []
    for i in range(start, start + count):
        at = now - timedelta(minutes=i - start)
        claim_id = str(uuid.UUID(int=i + 1))
        rows.append(
            {
                "id": claim_id,
                "client_id": "bulk",
                "external_ref": f"Q-{i:05d}",
                "policy_number": f"P-Q{i % 400:03d}",
                "claim_type": "device_damage",
                "date_of_loss": date(2026, 2, 20),
                "reported_at": at,
                "reported_on": at.date(),
                "time_zone": "UTC",
                "amount": Decimal("100.00") + i,
                "currency": "EUR",
                "description": "",
                "claimant": {"name": f"{NAMES[i % len(NAMES)]} {i}"},
                "preferred_language": "en",
                "payload": {},
                "status": "escalated",
                "version": 1,
                "sla_due_at": at + timedelta(hours=sla_hours),
                "created_at": at,
                "updated_at": at,
            }
        )
        code = reasons[i % len(reasons)]
        decisions.append(
            {
                "claim_id": claim_id,
                "outcome": "escalated",
                "reasons": [{"code": code, "message": code.lower(), "rule": code.lower()}],
                "missing_documents": [],
                "trace": [],
                "facts": {},
                "adjustments": [],
                "decided_by": "rules",
                "decided_at": at,
            }
        )
    with ctx.unit_of_work() as session:
        session.execute(insert(ClaimRow), rows)
        session.execute(insert(DecisionRow), decisions)
        session.commit()
    return rows


def add_open_appeal(ctx: Any, claim_id: str, reason: str, now: datetime) -> None:
    with ctx.unit_of_work() as session:
        session.add(
            AppealRow(
                claim_id=claim_id,
                reason=reason,
                submitted_by="claimant",
                status="open",
                received_at=now,
                answer_due_at=now + timedelta(days=14),
            )
        )
        session.commit()


def decided_claims(
    ctx: Any, trails: list[list[tuple[str, str]]], at: datetime, claim_type: str = "device_damage"
) -> list[str]:
    """One claim per trail of (outcome, decided_by) decisions, an hour apart up to `at`;
    the claim's status is its last outcome. Answers the claim ids."""
    ids = []
    with ctx.unit_of_work() as session:
        for trail in trails:
            claim_id = str(uuid.uuid4())
            first = at - timedelta(hours=len(trail) - 1)
            session.add(
                ClaimRow(
                    id=claim_id,
                    client_id="bulk",
                    external_ref=f"D-{claim_id[:8]}",
                    policy_number="P-OPS",
                    claim_type=claim_type,
                    date_of_loss=date(2026, 2, 20),
                    reported_at=first,
                    amount=Decimal("100.00"),
                    currency="EUR",
                    claimant={"name": "Ops Test"},
                    payload={},
                    status=trail[-1][0],
                    version=1,
                    created_at=first,
                    updated_at=at,
                )
            )
            for i, (outcome, decided_by) in enumerate(trail):
                session.add(
                    DecisionRow(
                        claim_id=claim_id,
                        outcome=outcome,
                        reasons=[],
                        missing_documents=[],
                        trace=[],
                        facts={},
                        adjustments=[],
                        decided_by=decided_by,
                        decided_by_kind=decider_kind(decided_by),
                        decided_at=first + timedelta(hours=i),
                    )
                )
            ids.append(claim_id)
        session.commit()
    return ids
