"""A claim whose requested documents never came (ABANDON_AFTER_DAYS after the request) is
escalated to a supervisor or closed (ABANDON_ACTION); audited, claimant and intake told.

Escalation is a decision, recorded through record_decision like any other (a
`followups` decision with the reason documents_not_received). Closing is not a
decision: the claim's status changes and the claimant gets the closed_abandoned letter.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from service.db import audit, claims, outbox
from service.db.session import Session
from service.db.tables import ClaimRow, DecisionRow
from service.domain.decision import Decision, Reason
from service.domain.lifecycle import ClaimEvent, ClaimStatus, transition
from service.usecases.context import Context
from service.usecases.payments import lock_policy
from service.usecases.record_decision import record_decision

log = logging.getLogger(__name__)
ACTOR = "followups"


def is_stale(decision: DecisionRow, now: datetime, abandon_after_days: int) -> bool:
    return now - decision.decided_at >= timedelta(days=abandon_after_days)


def abandon_stale_claim(ctx: Context, claim_id: str) -> bool:
    """Escalate or close the claim if it still waits for documents past the limit; False
    when there is nothing to do (documents came, or another sweep was first)."""
    now = ctx.clock.now()
    days = ctx.config.abandon_after_days
    with ctx.unit_of_work() as session:
        number = claims.policy_number_of(session, claim_id, None)
        if number is None:
            return False
        lock_policy(session, number)  # lock order: the policy, then the claim (payments.py)
        claim = claims.claim_for_update(session, claim_id, None)
        decision = claims.latest_decision(claim) if claim else None
        if claim is None or claim.status != ClaimStatus.PENDING_INFO or decision is None:
            return False
        if not is_stale(decision, now, days):
            return False
        action = ctx.config.abandon_action
        reason = Reason(
            code="documents_not_received",
            message=f"Requested documents were not received within {days} days.",
            rule="followups.abandon",
            action=action,
            carc="16",
        )
        before = {"status": str(claim.status), "decision_id": decision.id, "version": claim.version}
        if action == "close":
            _close(session, claim, decision, reason, before, days, now)
        else:
            _escalate(ctx, session, claim, decision, reason, before, now)
        log.info("claim %s %s after %s days without documents", claim.id, action, days)
        session.commit()
    return True  # the messages go out with the sweep's relay step


def _escalate(
    ctx: Context,
    session: Session,
    claim: ClaimRow,
    decision: DecisionRow,
    reason: Reason,
    before: dict[str, Any],
    now: datetime,
) -> None:
    escalation = Decision(
        outcome="escalated",
        payable_amount=None,
        reasons=(reason,),
        missing_documents=tuple(decision.missing_documents or ()),
        ruleset_version=decision.ruleset_version or "",
    )
    sla_due = now + timedelta(hours=ctx.config.escalation_sla_hours)
    record_decision(
        session,
        claim,
        escalation,
        facts={},
        decided_by=ACTOR,
        event=ClaimEvent.NO_REPLY_ESCALATE,
        now=now,
        request_id=None,
        sla_hours=ctx.config.escalation_sla_hours,
        source="sweep",
        action="claim.escalated_abandoned",
        audit_extra={"before": before, "after": {"sla_due_at": sla_due.isoformat()}},
    )


def _close(
    session: Session,
    claim: ClaimRow,
    decision: DecisionRow,
    reason: Reason,
    before: dict[str, Any],
    days: int,
    now: datetime,
) -> None:
    claim.status = transition(claim.status, ClaimEvent.NO_REPLY_CLOSE)
    claim.version = (claim.version or 0) + 1
    claim.updated_at = now
    session.flush()
    audit.append_audit(
        session,
        actor=ACTOR,
        action="claim.closed_abandoned",
        at=now,
        claim_id=claim.id,
        source="sweep",
        before=before,
        after={
            "status": str(claim.status),
            "reason_codes": [reason.code],
            "abandon_after_days": days,
        },
    )
    payload = {
        "claim_id": claim.id,
        "decision_id": decision.id,
        "outcome": "closed",
        "reason": reason.as_dict(),
    }
    prefix = f"claim:{claim.id}:decision:{decision.id}:closed_abandoned"
    if (claim.claimant or {}).get("email"):
        outbox.add_once(
            session, f"{prefix}:email", "closed_abandoned", "email", payload, now, claim.id
        )
    if claim.callback_url:
        outbox.add_once(
            session, f"{prefix}:webhook", "claim.closed", "webhook", payload, now, claim.id
        )
