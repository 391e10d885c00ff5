"""Store a decision with everything that must follow from it, in one transaction.

Two entry points share what follows a decision (the messages to send and the
audit event):
- `record_first_decision`: a new claim at intake. The claim is written once,
  already decided, with Core inserts (the hot path: a handful of statements).
- `record_decision`: a stored claim decided again (documents arrived, a
  supervisor decided). The claim is an ORM row loaded in the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from service.db import audit, claims, outbox
from service.db.outbox import Message
from service.db.session import Session
from service.db.tables import ClaimRow, DecisionRow, DocumentRow
from service.domain.decision import Decision
from service.domain.facts import facts_to_json
from service.domain.lifecycle import ClaimEvent, ClaimStatus, decision_event, transition
from service.domain.lines import lines_to_json
from service.domain.money import ZERO, fmt

OUTCOME_EVENT = {
    "approved": "approved",
    "rejected": "rejected",
    "escalated": "escalated",
    "pending_info": "information_requested",
}


def record_first_decision(
    session: Session,
    claim: dict[str, Any],
    documents: list[dict[str, Any]],
    decision: Decision,
    *,
    facts: dict[str, Any],
    now: datetime,
    request_id: str | None,
    sla_hours: int,
    source: str | None = None,
) -> tuple[ClaimRow, DecisionRow, list[int]]:
    """Insert a new claim (column values in `claim`, status "received") with its first
    decision. Returns the claim and decision as detached rows (for the response) and
    the outbox ids to dispatch after commit."""
    currency = claim["currency"]
    before = _state(claim["status"], claim.get("payable_amount"), currency)
    status = transition(claim["status"], decision_event("rules", decision.outcome))
    claim = {**claim, **_claim_changes(decision, status, now, sla_hours), "version": 1}
    claims.insert_claim(session, claim, documents)
    values = decision_values(claim["id"], decision, facts, "rules", now, None, currency)
    decision_id = claims.insert_decision(session, values)
    messages = [_acknowledgment(claim)] if _email(claim) else []
    messages += _notifications(claim, decision_id, decision.outcome, reviewed=False)
    outbox_ids = outbox.add_outbox_many(session, messages, request_id=request_id, now=now)
    _audit(
        session,
        claim["id"],
        decision,
        status,
        before,
        "rules",
        now,
        source,
        currency,
        new_subject=True,
    )
    row = ClaimRow(**claim)
    row.documents = [DocumentRow(**d) for d in documents]
    return row, DecisionRow(id=decision_id, **values), outbox_ids


def record_decision(
    session: Session,
    claim: ClaimRow,
    decision: Decision,
    *,
    facts: dict[str, Any],
    decided_by: str,
    event: ClaimEvent,
    now: datetime,
    request_id: str | None,
    sla_hours: int,
    note: str | None = None,
    source: str | None = None,
    reviewed: bool = False,
    events_before: Sequence[dict[str, Any]] = (),
    action: str = "claim.decided",
    audit_extra: dict[str, Any] | None = None,
) -> tuple[DecisionRow, list[int]]:
    """Decide a stored claim again: `event` moves its status (service/domain/lifecycle.py;
    IllegalTransition, before anything is written, if the claim's status does not take
    it). Returns the decision row and the outbox ids to dispatch after commit.
    `events_before`: audit events (append_audit arguments) that belong before the
    decision's own, e.g. the documents that made it possible.
    `action` and `audit_extra` name the decision's own audit event and add to what it
    records (a sweep's escalation says why it escalated).

    Lock order: a transaction changes claims (which takes their tally rows, see
    service/db/tallies.py) before it appends to the claim's audit chain, whose lock
    (one per subject) is taken last and held to commit; so two transactions never wait
    for each other's locks in opposite orders."""
    status = transition(claim.status, event)
    before = _state(claim.status, claim.payable_amount, claim.currency)
    before.update((audit_extra or {}).get("before", {}))
    row = DecisionRow(
        **decision_values(claim.id, decision, facts, decided_by, now, note, claim.currency)
    )
    claim.decisions.append(row)
    for name, value in _claim_changes(decision, status, now, sla_hours).items():
        setattr(claim, name, value)
    claim.version = (claim.version or 0) + 1
    session.flush()
    for earlier in events_before:
        audit.append_audit(session, **earlier)
    target = {"id": claim.id, "claimant": claim.claimant, "callback_url": claim.callback_url}
    messages = _notifications(target, row.id, row.outcome, reviewed)
    outbox_ids = outbox.add_outbox_many(session, messages, request_id=request_id, now=now)
    after = None if audit_extra is None else {"decision_id": row.id, **audit_extra.get("after", {})}
    _audit(
        session,
        claim.id,
        decision,
        status,
        before,
        decided_by,
        now,
        source,
        claim.currency,
        action,
        after,
    )
    return row, outbox_ids


def _state(status: str, payable: Any, currency: str) -> dict[str, Any]:
    return {"status": str(status), "payable_amount": fmt(payable, currency)}


def _claim_changes(
    decision: Decision, status: ClaimStatus, now: datetime, sla_hours: int
) -> dict[str, Any]:
    escalated = status == ClaimStatus.ESCALATED
    return {
        "status": status,
        "payable_amount": decision.payable_amount,
        **patient_share(decision),
        "ruleset_version": decision.ruleset_version,
        "sla_due_at": now + timedelta(hours=sla_hours) if escalated else None,
        "updated_at": now,
    }


COUNTS_TOWARDS_DEDUCTIBLE = ("approved", "rejected")


def patient_share(decision: Decision) -> dict[str, Any]:
    """What a decision counts towards a yearly deductible (PR 1) and out-of-pocket
    maximum (every PR cut): an approval's, and a rejection's (a claim within the
    deductible is rejected, CARC 1, and still meets that much of it); 0 otherwise."""
    deductible = patient = ZERO
    if decision.outcome in COUNTS_TOWARDS_DEDUCTIBLE:
        for cut in decision.adjustments:
            if cut.group == "PR":
                patient += cut.amount
                if cut.carc == "1":
                    deductible += cut.amount
    return {"deductible_applied": deductible, "patient_responsibility": patient}


def decision_values(
    claim_id: str,
    decision: Decision,
    facts: dict[str, Any],
    decided_by: str,
    now: datetime,
    note: str | None,
    currency: str | None = None,
) -> dict[str, Any]:
    """The decisions row's column values (adjustment amounts in `currency`'s decimals)."""
    return {
        "claim_id": claim_id,
        "outcome": decision.outcome,
        "payable_amount": decision.payable_amount,
        "adjustments": [a.as_dict(currency) for a in decision.adjustments],
        "lines": lines_to_json(decision.lines, currency),
        "reasons": [r.as_dict() for r in decision.reasons],
        "missing_documents": list(decision.missing_documents),
        "trace": list(decision.trace),
        "facts": facts_to_json(facts),
        "ruleset_version": decision.ruleset_version,
        "decided_by": decided_by,
        "decided_by_kind": decider_kind(decided_by),
        "note": note,
        "decided_at": now,
    }


SYSTEM_ACTORS = ("followups",)  # the timed sweeps that decide (abandon_stale_claim)


def decider_kind(decided_by: str) -> str:
    """rule (the rules decided), system (a timed sweep) or person (a supervisor)."""
    if decided_by == "rules":
        return "rule"
    return "system" if decided_by in SYSTEM_ACTORS else "person"


def _email(claim: dict[str, Any]) -> bool:
    return bool((claim.get("claimant") or {}).get("email"))


def _acknowledgment(claim: dict[str, Any]) -> Message:
    return Message(
        dedupe_key=f"claim:{claim['id']}:ack:email",
        claim_id=claim["id"],
        event="acknowledgment",
        channel="email",
        payload={"claim_id": claim["id"]},
    )


def _notifications(
    claim: dict[str, Any], decision_id: int, outcome: str, reviewed: bool
) -> list[Message]:
    """The claimant's email and the intake system's webhook for this decision."""
    claim_id = claim["id"]
    payload = {"claim_id": claim_id, "decision_id": decision_id, "outcome": outcome}
    event = OUTCOME_EVENT[outcome]
    if reviewed and outcome in ("approved", "rejected"):
        event = "decision_after_review"  # a person looked again: say so, with the reasons
    channels = []
    if _email(claim):
        channels.append(("email", event))
    if claim.get("callback_url"):
        channels.append(("webhook", "claim.decided"))
    return [
        Message(
            dedupe_key=f"claim:{claim_id}:decision:{decision_id}:{channel}",
            claim_id=claim_id,
            event=name,
            channel=channel,
            payload=payload,
        )
        for channel, name in channels
    ]


def _audit(
    session: Session,
    claim_id: str,
    decision: Decision,
    status: ClaimStatus,
    before: dict[str, Any],
    actor: str,
    now: datetime,
    source: str | None,
    currency: str,
    action: str = "claim.decided",
    extra: dict[str, Any] | None = None,
    new_subject: bool = False,
) -> None:
    audit.append_audit(
        session,
        actor=actor,
        action=action,
        at=now,
        claim_id=claim_id,
        new_subject=new_subject,  # a claim at intake: its first event
        source=source,
        before=before,
        after={
            "status": status.value,
            "payable_amount": fmt(decision.payable_amount, currency),
            "reason_codes": [r.code for r in decision.reasons],
            "ruleset_version": decision.ruleset_version,
            **(extra or {}),
        },
    )
