"""Follow-ups and SLA, driven from the database by the periodic sweep.

Every action has a deterministic outbox dedupe key, so running a sweep twice
(or on two machines) sends nothing twice, and a wiped Redis only delays.
Only claims still `pending_info` are chased: documents arriving move the claim
on (the API re-adjudicates), which is what cancels the remaining reminders.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.audit import append_audit
from service.db.tables import ClaimFlagRow, ClaimRow, DecisionRow
from service.usecases.payments import lock_policy
from worker.outbox import add_once

log = logging.getLogger(__name__)


def latest_decision(session: Session, claim_id: str) -> DecisionRow | None:
    return session.scalars(
        select(DecisionRow)
        .where(DecisionRow.claim_id == claim_id)
        .order_by(DecisionRow.id.desc())
        .limit(1)
    ).first()


def _claim_ids(sessions: sessionmaker[Session], status: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(ClaimRow.id).where(ClaimRow.status == status)))


def sweep_followups(sessions: sessionmaker[Session], config: Any, now: datetime) -> dict[str, int]:
    """Reminders on REMINDER_DAYS, then escalate or close after ABANDON_AFTER_DAYS."""
    days = sorted(int(d) for d in config.REMINDER_DAYS)
    abandon = timedelta(days=int(config.ABANDON_AFTER_DAYS))
    counts = {"reminders": 0, "abandoned": 0}
    for claim_id in _claim_ids(sessions, "pending_info"):
        with sessions.begin() as session:
            claim = session.get(ClaimRow, claim_id)
            decision = latest_decision(session, claim_id)
            if claim is None or claim.status != "pending_info" or decision is None:
                continue
            age = now - decision.decided_at
            if age >= abandon:
                counts["abandoned"] += _abandon(session, claim, decision, config, now)
                continue
            due = [d for d in days if age >= timedelta(days=d)]
            if not due:
                continue
            day = max(due)  # a late sweep sends the latest reminder only
            key = f"claim:{claim_id}:decision:{decision.id}:reminder:{day}:email"
            payload = {"claim_id": claim_id, "decision_id": decision.id, "day": day}
            counts["reminders"] += add_once(
                session, key, "reminder", "email", payload, now, claim_id
            )
    return counts


def _abandon(
    session: Session, claim: ClaimRow, decision: DecisionRow, config: Any, now: datetime
) -> int:
    """Escalate or close a claim whose documents never came; audited, claimant told."""
    action = config.ABANDON_ACTION
    status = "escalated" if action == "escalate" else "closed"
    values: dict[str, Any] = {"status": status, "version": ClaimRow.version + 1, "updated_at": now}
    if status == "escalated":
        values["sla_due_at"] = now + timedelta(hours=int(config.ESCALATION_SLA_HOURS))
    version = claim.version
    lock_policy(session, claim.policy_number)  # every change of what a claim pays takes it
    moved = session.execute(
        update(ClaimRow)
        .where(ClaimRow.id == claim.id, ClaimRow.status == "pending_info")
        .values(**values)
    ).rowcount
    if not moved:
        return 0
    log.info(
        "claim %s %s after %s days without documents", claim.id, status, config.ABANDON_AFTER_DAYS
    )
    reason = {
        "code": "documents_not_received",
        "carc": "16",
        "rule": "followups.abandon",
        "action": action,
        "message": "Requested documents were not received within "
        f"{config.ABANDON_AFTER_DAYS} days.",
    }
    before = {"status": "pending_info", "decision_id": decision.id, "version": version}
    if status == "closed":
        append_audit(
            session,
            actor="followups",
            action="claim.closed_abandoned",
            at=now,
            claim_id=claim.id,
            source="sweep",
            before=before,
            after={
                "status": "closed",
                "reason_codes": [reason["code"]],
                "abandon_after_days": int(config.ABANDON_AFTER_DAYS),
            },
        )
        payload = {
            "claim_id": claim.id,
            "decision_id": decision.id,
            "outcome": "closed",
            "reason": reason,
        }
        prefix = f"claim:{claim.id}:decision:{decision.id}:closed_abandoned"
        if (claim.claimant or {}).get("email"):
            add_once(
                session, f"{prefix}:email", "closed_abandoned", "email", payload, now, claim.id
            )
        if claim.callback_url:
            add_once(
                session, f"{prefix}:webhook", "claim.closed", "webhook", payload, now, claim.id
            )
        return 1
    escalation = DecisionRow(
        claim_id=claim.id,
        outcome="escalated",
        payable_amount=None,
        reasons=[reason],
        missing_documents=list(decision.missing_documents or []),
        trace=[],
        facts={},
        ruleset_version=decision.ruleset_version,
        decided_by="followups",
        note=None,
        decided_at=now,
    )
    session.add(escalation)
    session.flush()
    append_audit(
        session,
        actor="followups",
        action="claim.escalated_abandoned",
        at=now,
        claim_id=claim.id,
        source="sweep",
        before=before,
        after={
            "status": "escalated",
            "decision_id": escalation.id,
            "reason_codes": [reason["code"]],
            "sla_due_at": values["sla_due_at"].isoformat(),
        },
    )
    payload = {"claim_id": claim.id, "decision_id": escalation.id, "outcome": "escalated"}
    prefix = f"claim:{claim.id}:decision:{escalation.id}"
    if (claim.claimant or {}).get("email"):
        add_once(session, f"{prefix}:email", "escalated", "email", payload, now, claim.id)
    if claim.callback_url:
        add_once(session, f"{prefix}:webhook", "claim.decided", "webhook", payload, now, claim.id)
    return 1


def sweep_sla(sessions: sessionmaker[Session], config: Any, now: datetime) -> dict[str, int]:
    """Escalated claims undecided past the SLA: flag overdue and tell the supervisors' lead."""
    hours = int(config.ESCALATION_SLA_HOURS)
    counts = {"breaches": 0, "cleared": 0}
    for claim_id in _claim_ids(sessions, "escalated"):
        with sessions.begin() as session:
            claim = session.get(ClaimRow, claim_id)
            decision = latest_decision(session, claim_id)
            if claim is None or claim.status != "escalated" or decision is None:
                continue
            due = claim.sla_due_at or decision.decided_at + timedelta(hours=hours)
            if now < due:
                continue
            counts["breaches"] += _flag_overdue(session, claim, decision, due, config, now)
    counts["cleared"] = _clear_overdue(sessions, now)
    return counts


def _clear_overdue(sessions: sessionmaker[Session], now: datetime) -> int:
    """Lower the overdue flag of claims no longer escalated; one audit event per flag."""
    cleared = 0
    with sessions.begin() as session:
        open_claims = select(ClaimRow.id).where(ClaimRow.status == "escalated")
        flags = session.execute(
            select(
                ClaimFlagRow.id,
                ClaimFlagRow.claim_id,
                ClaimFlagRow.decision_id,
                ClaimFlagRow.due_at,
            )
            .where(
                ClaimFlagRow.flag == "overdue",
                ClaimFlagRow.cleared_at.is_(None),
                ClaimFlagRow.claim_id.not_in(open_claims),
            )
            .order_by(ClaimFlagRow.id)
        ).all()
        for flag in flags:
            done = session.execute(
                update(ClaimFlagRow)
                .where(ClaimFlagRow.id == flag.id, ClaimFlagRow.cleared_at.is_(None))
                .values(cleared_at=now)
            ).rowcount
            if not done:
                continue
            status = session.scalar(select(ClaimRow.status).where(ClaimRow.id == flag.claim_id))
            append_audit(
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
                after={"overdue": False, "status": status},
            )
            cleared += 1
    return cleared


def _flag_overdue(
    session: Session,
    claim: ClaimRow,
    decision: DecisionRow,
    due: datetime,
    config: Any,
    now: datetime,
) -> int:
    exists = session.scalar(
        select(ClaimFlagRow.id).where(
            ClaimFlagRow.claim_id == claim.id,
            ClaimFlagRow.flag == "overdue",
            ClaimFlagRow.decision_id == decision.id,
        )
    )
    if exists:
        return 0
    try:
        with session.begin_nested():
            session.add(
                ClaimFlagRow(
                    claim_id=claim.id,
                    flag="overdue",
                    decision_id=decision.id,
                    due_at=due,
                    raised_at=now,
                )
            )
    except IntegrityError:
        return 0
    log.warning("claim %s escalated and undecided past its SLA (due %s)", claim.id, due)
    append_audit(
        session,
        actor="sla",
        action="claim.flagged_overdue",
        at=now,
        claim_id=claim.id,
        source="sweep",
        before={"overdue": False, "status": claim.status},
        after={
            "overdue": True,
            "decision_id": decision.id,
            "due_at": due.isoformat(),
            "sla_hours": int(config.ESCALATION_SLA_HOURS),
        },
    )
    if config.SUPERVISOR_LEAD_EMAIL:
        payload = {
            "claim_id": claim.id,
            "decision_id": decision.id,
            "hours": int(config.ESCALATION_SLA_HOURS),
            "escalated_at": decision.decided_at.isoformat(),
            "due_at": due.isoformat(),
        }
        add_once(
            session,
            f"claim:{claim.id}:decision:{decision.id}:sla_breach:email",
            "sla_breach",
            "email",
            payload,
            now,
            claim.id,
        )
    else:
        log.warning("SUPERVISOR_LEAD_EMAIL is empty: SLA breach of %s flagged only", claim.id)
    return 1


def overdue_claim_ids(session: Session) -> list[str]:
    """For the supervisors' queue: claims flagged overdue and not cleared."""
    return list(
        session.scalars(
            select(ClaimFlagRow.claim_id).where(
                ClaimFlagRow.flag == "overdue", ClaimFlagRow.cleared_at.is_(None)
            )
        )
    )
