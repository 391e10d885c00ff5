"""The SLA sweep: an escalated claim still undecided past its deadline is flagged
`overdue` (once per escalating decision), audited, and the supervisors' lead is told;
the flag is lowered, and audited, once the claim leaves the queue."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from service.db import audit, claims, outbox
from service.db.session import Session
from service.db.tables import ClaimRow, DecisionRow
from service.domain.lifecycle import QUEUED
from service.usecases.context import Context

log = logging.getLogger(__name__)
FLAG = "overdue"


def escalate_overdue(ctx: Context) -> dict[str, int]:
    """Flag the overdue escalations and clear the flags of claims decided since."""
    now = ctx.clock.now()
    hours = ctx.config.escalation_sla_hours
    counts = {"breaches": 0, "cleared": 0}
    with ctx.unit_of_work(read_only=True) as session:
        queued = claims.claim_ids_with_status(session, *QUEUED)
    for claim_id in queued:
        with ctx.unit_of_work() as session:
            claim = claims.get_claim(session, claim_id)
            decision = claims.latest_decision_of(session, claim_id)
            if claim is None or claim.status not in QUEUED or decision is None:
                continue
            due = claim.sla_due_at or decision.decided_at + timedelta(hours=hours)
            if now < due:
                continue
            counts["breaches"] += _flag(ctx, session, claim, decision, due, now)
            session.commit()
    counts["cleared"] = _clear(ctx, now)
    return counts


def _flag(
    ctx: Context,
    session: Session,
    claim: ClaimRow,
    decision: DecisionRow,
    due: datetime,
    now: datetime,
) -> int:
    if not claims.raise_flag(session, claim.id, FLAG, decision.id, due, now):
        return 0
    hours = ctx.config.escalation_sla_hours
    log.warning("claim %s escalated and undecided past its SLA (due %s)", claim.id, due)
    audit.append_audit(
        session,
        actor="sla",
        action="claim.flagged_overdue",
        at=now,
        claim_id=claim.id,
        source="sweep",
        before={"overdue": False, "status": str(claim.status)},
        after={
            "overdue": True,
            "decision_id": decision.id,
            "due_at": due.isoformat(),
            "sla_hours": hours,
        },
    )
    if not ctx.config.supervisor_lead_email:
        log.warning("SUPERVISOR_LEAD_EMAIL is empty: SLA breach of %s flagged only", claim.id)
        return 1
    payload = {
        "claim_id": claim.id,
        "decision_id": decision.id,
        "hours": hours,
        "escalated_at": decision.decided_at.isoformat(),
        "due_at": due.isoformat(),
    }
    key = f"claim:{claim.id}:decision:{decision.id}:sla_breach:email"
    outbox.add_once(session, key, "sla_breach", "email", payload, now, claim.id)
    return 1


def _clear(ctx: Context, now: datetime) -> int:
    """Lower the flag of claims no longer escalated; one audit event per flag, each in its
    own transaction, so a transaction appends to one claim's audit chain only and takes
    that chain's lock last (the lock order of service/usecases/payments.py)."""
    cleared = 0
    with ctx.unit_of_work(read_only=True) as session:
        flags = claims.flags_to_clear(session, FLAG, while_status=QUEUED)
    for flag in flags:
        with ctx.unit_of_work() as session:
            if not claims.clear_flag(session, flag.id, now):
                continue
            audit.append_audit(
                session,
                actor="sla",
                action="claim.overdue_cleared",
                at=now,
                claim_id=flag.claim_id,
                source="sweep",
                before={
                    "overdue": True,
                    "decision_id": flag.decision_id,
                    "due_at": flag.due_at.isoformat(),
                },
                after={"overdue": False, "status": claims.status_of(session, flag.claim_id)},
            )
            session.commit()
            cleared += 1
    return cleared
