"""Store a decision with everything that must follow from it, in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from service.db import repository as repo
from service.db.tables import ClaimRow, DecisionRow
from service.domain.decision import Decision
from service.domain.facts import facts_to_json
from service.domain.money import fmt

OUTCOME_EVENT = {
    "approved": "approved",
    "rejected": "rejected",
    "escalated": "escalated",
    "pending_info": "information_requested",
}


def record_decision(
    session: Session,
    claim: ClaimRow,
    decision: Decision,
    *,
    facts: dict[str, Any],
    decided_by: str,
    now: datetime,
    request_id: str | None,
    sla_hours: int,
    note: str | None = None,
    source: str | None = None,
    reviewed: bool = False,
) -> tuple[DecisionRow, list[int]]:
    """Returns the decision row and the outbox ids to dispatch after commit."""
    before = {"status": claim.status, "payable_amount": fmt(claim.payable_amount)}
    row = DecisionRow(
        outcome=decision.outcome,
        payable_amount=decision.payable_amount,
        reasons=[r.as_dict() for r in decision.reasons],
        missing_documents=list(decision.missing_documents),
        trace=list(decision.trace),
        facts=facts_to_json(facts),
        ruleset_version=decision.ruleset_version,
        decided_by=decided_by,
        note=note,
        decided_at=now,
    )
    claim.decisions.append(row)
    claim.status = decision.outcome
    claim.payable_amount = decision.payable_amount
    claim.ruleset_version = decision.ruleset_version
    claim.sla_due_at = now + timedelta(hours=sla_hours) if decision.outcome == "escalated" else None
    claim.updated_at = now
    claim.version = (claim.version or 0) + 1
    session.flush()
    outbox = _notifications(session, claim, row, now, request_id, reviewed)
    repo.append_audit(
        session,
        actor=decided_by,
        action="claim.decided",
        at=now,
        claim_id=claim.id,
        source=source,
        before=before,
        after={
            "status": claim.status,
            "payable_amount": fmt(claim.payable_amount),
            "reason_codes": [r.code for r in decision.reasons],
            "ruleset_version": decision.ruleset_version,
        },
    )
    return row, outbox


def _notifications(
    session: Session,
    claim: ClaimRow,
    decision: DecisionRow,
    now: datetime,
    request_id: str | None,
    reviewed: bool,
) -> list[int]:
    payload = {"claim_id": claim.id, "decision_id": decision.id, "outcome": decision.outcome}
    event = OUTCOME_EVENT[decision.outcome]
    if reviewed and decision.outcome in ("approved", "rejected"):
        event = "decision_after_review"  # a person looked again: say so, with the reasons
    rows = []
    if claim.claimant.get("email"):
        rows.append(
            repo.add_outbox(
                session,
                dedupe_key=f"claim:{claim.id}:decision:{decision.id}:email",
                claim_id=claim.id,
                event=event,
                channel="email",
                payload=payload,
                request_id=request_id,
                now=now,
            )
        )
    if claim.callback_url:
        rows.append(
            repo.add_outbox(
                session,
                dedupe_key=f"claim:{claim.id}:decision:{decision.id}:webhook",
                claim_id=claim.id,
                event="claim.decided",
                channel="webhook",
                payload=payload,
                request_id=request_id,
                now=now,
            )
        )
    session.flush()
    return [r.id for r in rows]
