"""A claimant contests a decision: the claim goes back to a supervisor with a deadline.

Only rejected or partly paid claims can be appealed, once (an answered appeal is 409);
the claim becomes `appealed` and an approval keeps its payment while it waits; the
claimant is acknowledged through the outbox (`appeal_received`) and answered within
APPEAL_ANSWER_DAYS.
The assignee is reminded a day before the deadline by `queue_appeal_reminders`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.db import accounts, appeals, audit, claims, outbox
from service.db.tables import AppealRow, UserRow
from service.domain.lifecycle import DECIDED, ClaimEvent, ClaimStatus, transition
from service.usecases.context import Context
from service.usecases.decide_claim import DecisionRefused
from service.usecases.payments import lock_policy

REMIND_BEFORE = timedelta(days=1)


@dataclass(frozen=True)
class AppealReminder:
    appeal_id: int
    claim_id: str
    assignee: str | None
    assignee_email: str | None
    answer_due_at: datetime


def appeal_claim(
    ctx: Context,
    claim_id: str,
    reason: str,
    *,
    client_id: str | None,
    actor: str,
    request_id: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    reason = reason.strip()
    if not reason:
        raise DecisionRefused(422, "reason_required", "Say why the decision is contested.")
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        # An appealed approval keeps counting against the aggregate (lifecycle PAYING):
        # the policy's lock first all the same, as every change of a paying claim takes it.
        number = claims.policy_number_of(session, claim_id, client_id)
        if number is not None:
            lock_policy(session, number)
        claim = claims.claim_for_update(session, claim_id, client_id)
        if claim is None:
            raise DecisionRefused(404, "not_found", "No claim with this id.")
        if appeals.open_appeal(session, claim.id) is not None:
            raise DecisionRefused(409, "appeal_open", "An appeal on this claim is already open.")
        paid_in_full = (
            claim.status == ClaimStatus.APPROVED and (claim.payable_amount or 0) >= claim.amount
        )
        if claim.status in (ClaimStatus.UPHELD, ClaimStatus.OVERTURNED):
            raise DecisionRefused(
                409,
                "not_appealable",
                f"The claim was already appealed and the appeal answered ({claim.status}).",
                current_status=str(claim.status),
            )
        if claim.status not in DECIDED or paid_in_full:
            raise DecisionRefused(
                409,
                "not_appealable",
                "Only rejected or partly paid claims can be appealed"
                + (
                    "; this one was approved in full."
                    if paid_in_full
                    else f"; it is {claim.status}."
                ),
                current_status=str(claim.status),
            )
        due = now + timedelta(days=int(ctx.config.appeal_answer_days))
        appeal = AppealRow(
            claim_id=claim.id,
            reason=reason[:5000],
            submitted_by=actor,
            appealed_decision_id=claim.decisions[-1].id if claim.decisions else None,
            status="open",
            received_at=now,
            answer_due_at=due,
        )
        session.add(appeal)
        before = {"status": str(claim.status), "assignee": claim.assignee}
        claim.status = transition(claim.status, ClaimEvent.APPEAL)
        claim.sla_due_at = due
        claim.assignee = None
        claim.version += 1
        claim.updated_at = now
        session.flush()
        audit.append_audit(
            session,
            actor=actor,
            action="claim.appealed",
            at=now,
            claim_id=claim.id,
            source=source,
            before=before,
            after={
                "status": str(claim.status),
                "appeal_id": appeal.id,
                "answer_due_at": due.isoformat(),
            },
        )
        outbox_ids = []
        if (claim.claimant or {}).get("email"):
            outbox_ids.append(
                outbox.add_outbox(
                    session,
                    dedupe_key=f"claim:{claim.id}:appeal:{appeal.id}:ack:email",
                    claim_id=claim.id,
                    event="appeal_received",
                    channel="email",
                    payload={"claim_id": claim.id, "appeal_id": appeal.id},
                    request_id=request_id,
                    now=now,
                )
            )
        session.flush()
        result = {
            "id": appeal.id,
            "claim_id": claim.id,
            "status": appeal.status,
            "received_at": now.isoformat(),
            "answer_due_at": due.isoformat(),
            "claim_status": claim.status,
            "version": claim.version,
        }
        session.commit()
    ctx.dispatcher.dispatch_outbox(outbox_ids, request_id, new=True)
    return result


def due_appeal_reminders(ctx: Context, now: datetime) -> list[AppealReminder]:
    """Open appeals within a day of their deadline that have not been reminded (read only)."""
    with ctx.unit_of_work() as session:
        return [
            _reminder(session, a)
            for a in appeals.appeals_due_for_reminder(session, now + REMIND_BEFORE)
        ]


def queue_appeal_reminders(ctx: Context, now: datetime) -> list[AppealReminder]:
    """Write one `appeal_reminder` outbox row per due appeal (to its assignee); once each."""
    sent = []
    with ctx.unit_of_work() as session:
        for appeal in appeals.appeals_due_for_reminder(session, now + REMIND_BEFORE):
            reminder = _reminder(session, appeal)
            outbox.add_outbox(
                session,
                dedupe_key=f"appeal:{appeal.id}:reminder:email",
                claim_id=appeal.claim_id,
                event="appeal_reminder",
                channel="email",
                payload={
                    "claim_id": appeal.claim_id,
                    "appeal_id": appeal.id,
                    "assignee": reminder.assignee,
                    "to": reminder.assignee_email,
                    "answer_due_at": appeal.answer_due_at.isoformat(),
                    "staff": True,
                },
                request_id=None,
                now=now,
            )
            appeal.reminded_at = now
            sent.append(reminder)
        session.commit()
    return sent


def _reminder(session: Any, appeal: AppealRow) -> AppealReminder:
    claim = claims.claim_row(session, appeal.claim_id)
    assignee = claim.assignee if claim else None
    email = None
    if assignee:
        user: UserRow | None = accounts.user_by_username(session, assignee)
        email = user.email if user else None
    return AppealReminder(appeal.id, appeal.claim_id, assignee, email, appeal.answer_due_at)
