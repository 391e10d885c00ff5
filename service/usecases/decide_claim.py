"""A supervisor decides an escalated claim, or answers an appeal.

An appealed claim is answered with `uphold` (the earlier decision stands unchanged,
payment included; a note is required) or `overturn` (a new approval, above what was
approved before, through the payment step; `approve` on an appealed claim means the
same). An answer never lowers an amount already approved (422 `amount_below_approved`).
`uphold` on a claim with no open appeal is 409 `no_open_appeal`.

Optimistic concurrency: the caller sends the version it saw (If-Match); the claim
row is locked and the version compared in one transaction, so of two supervisors
one wins and the other is told the claim changed. An approval goes through the one
payment step (service/usecases/payments.py): under the policy's lock, the remaining
aggregate is read again and an amount above it is refused (422 naming what remains),
so two supervisors approving two claims on one policy at once cannot overpay it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from service.db import appeals, audit, claims, outbox
from service.db.outbox import Message
from service.db.session import Session
from service.db.tables import ClaimRow
from service.domain.decision import Decision, Reason
from service.domain.facts import breakdown_from_facts
from service.domain.lifecycle import ClaimEvent, ClaimStatus, decision_event, transition
from service.domain.lines import denied_lines, reduced_lines
from service.domain.model import Policy
from service.domain.money import MoneyError, fmt, in_minor_units
from service.domain.payable import denial, reduced
from service.rules.engine import line_decisions
from service.rules.loader import CARC
from service.usecases.context import Context
from service.usecases.payments import AggregateExceeded, lock_policy, settle
from service.usecases.read_models import claim_document
from service.usecases.record_decision import record_decision

OUTCOMES = {"approve": "approved", "reject": "rejected", "request_info": "pending_info"}
DECIDABLE = (ClaimStatus.ESCALATED,)
APPEAL_ANSWERS = ("uphold", "overturn")


class DecisionRefused(Exception):
    """The decision cannot be taken; `status` is the HTTP status, `code` a stable slug."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


@dataclass(frozen=True)
class SupervisorDecision:
    outcome: str  # approve | reject | request_info | uphold | overturn (appeals)
    note: str
    amount: Decimal | None = None
    reason_codes: tuple[str, ...] = ()
    documents: tuple[str, ...] = field(default_factory=tuple)


def known_reason_codes(ctx: Context) -> dict[str, tuple[str, str | None]]:
    """Codes a supervisor may reject with: the rules' codes and the CARC numbers."""
    codes: dict[str, tuple[str, str | None]] = {
        f"carc_{number}": (words, number) for number, words in CARC.items()
    }
    for rule in ctx.engine.ruleset.rules:
        if rule.action == "reject":
            codes[rule.code] = (rule.message, rule.carc)
    return codes


def decide_claim(
    ctx: Context,
    claim_id: str,
    choice: SupervisorDecision,
    *,
    expected_version: int,
    decided_by: str,
    request_id: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    if not choice.note.strip():
        raise DecisionRefused(422, "note_required", "A note explaining the decision is required.")
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        number = claims.policy_number_of(session, claim_id, None)
        policy = lock_policy(session, number) if number is not None else None
        claim = claims.claim_for_update(session, claim_id, None)
        if claim is None:
            raise DecisionRefused(404, "not_found", "No claim with this id.")
        if claim.version != expected_version:
            raise DecisionRefused(
                412,
                "stale_version",
                f"The claim changed since you read it (now version {claim.version}); reload it.",
                version=claim.version,
            )
        if claim.status == ClaimStatus.APPEALED:
            document, outbox = _answer_appeal(
                ctx, session, claim, policy, choice, decided_by, request_id, source
            )
            session.commit()
            ctx.dispatcher.dispatch_outbox(outbox, request_id, new=True)
            return document
        if choice.outcome in APPEAL_ANSWERS:
            raise DecisionRefused(
                409,
                "no_open_appeal",
                f"The claim is {claim.status} with no open appeal: there is nothing to "
                f"{choice.outcome}.",
                current_status=str(claim.status),
            )
        if claim.status not in DECIDABLE:
            raise DecisionRefused(
                409,
                "already_decided",
                f"The claim is {claim.status}; only escalated claims wait for a supervisor.",
                current_status=str(claim.status),
            )
        try:
            settled = settle(
                session,
                claims.to_claim(claim),
                policy,
                required_documents=ctx.engine.ruleset.required_documents,
                default_zone=ctx.config.default_time_zone,
                decide=lambda facts: _decision(ctx, claim, choice, facts),
                stored=claim,
            )
        except AggregateExceeded as exc:
            raise _aggregate_refused(exc) from None
        decision, facts = settled.decision, settled.facts
        claim.assignee = None  # with the claim's other changes, before its audit lock
        row, outbox = record_decision(
            session,
            claim,
            decision,
            facts=facts,
            decided_by=decided_by,
            event=decision_event("supervisor", decision.outcome),
            now=now,
            request_id=request_id,
            sla_hours=ctx.config.escalation_sla_hours,
            note=choice.note.strip(),
            source=source,
            reviewed=True,
        )
        document = claim_document(claim, row)
        document["version"] = claim.version
        session.commit()
    ctx.dispatcher.dispatch_outbox(outbox, request_id, new=True)
    return document


def _answer_appeal(
    ctx: Context,
    session: Session,
    claim: ClaimRow,
    policy: Policy | None,
    choice: SupervisorDecision,
    answered_by: str,
    request_id: str | None,
    source: str | None,
) -> tuple[dict[str, Any], list[int]]:
    """Uphold or overturn the open appeal of `claim` (locked, status appealed)."""
    appeal = appeals.open_appeal(session, claim.id)
    if appeal is None:  # appealed without an appeal row: not written by this service
        raise DecisionRefused(409, "no_open_appeal", "The claim has no open appeal.")
    outcome = "overturn" if choice.outcome == "approve" else choice.outcome
    if outcome not in APPEAL_ANSWERS:
        raise DecisionRefused(
            409,
            "appeal_answer",
            "The claim is appealed: answer the appeal with uphold (the decision stands) "
            "or overturn (approve, or approve a higher amount).",
            current_status=str(claim.status),
        )
    now = ctx.clock.now()
    note = choice.note.strip()
    approved = claim.payable_amount or Decimal("0.00")
    standing = claims.latest_decision(claim)
    if outcome == "uphold":
        if choice.amount is not None:
            raise DecisionRefused(
                422, "bad_amount", "Uphold keeps the earlier decision; send no amount."
            )
        before = {"status": str(claim.status), "payable_amount": fmt(approved, claim.currency)}
        claim.status = transition(claim.status, ClaimEvent.UPHOLD)
        claim.assignee = None
        claim.sla_due_at = None
        claim.version += 1
        claim.updated_at = now
        decision_id = standing.id if standing is not None else None
        session.flush()
        outbox_ids = _review_letter(session, claim, appeal.id, decision_id, now, request_id)
    else:
        amount = _amount(choice.amount, claim.currency)
        if amount <= approved:
            raise DecisionRefused(
                422,
                "amount_below_approved",
                f"{fmt(amount, claim.currency)} is not above the "
                f"{fmt(approved, claim.currency)} already approved: an answer never lowers "
                "an approved amount; to keep it, uphold.",
                approved=fmt(approved, claim.currency),
            )
        approve = SupervisorDecision("approve", note, amount)
        try:
            settled = settle(
                session,
                claims.to_claim(claim),
                policy,
                required_documents=ctx.engine.ruleset.required_documents,
                default_zone=ctx.config.default_time_zone,
                decide=lambda facts: _decision(ctx, claim, approve, facts),
                stored=claim,
            )
        except AggregateExceeded as exc:
            raise _aggregate_refused(exc) from None
        claim.assignee = None
        row, outbox_ids = record_decision(
            session,
            claim,
            settled.decision,
            facts=settled.facts,
            decided_by=answered_by,
            event=ClaimEvent.OVERTURN,
            now=now,
            request_id=request_id,
            sla_hours=ctx.config.escalation_sla_hours,
            note=note,
            source=source,
            reviewed=True,
            action="claim.appeal_overturned",
            audit_extra={"after": {"appeal_id": appeal.id}},
        )
        decision_id = row.id
        standing = row
    appeal.status = "upheld" if outcome == "uphold" else "overturned"
    appeal.answered_at = now
    appeal.answered_by = answered_by
    appeal.answer = note
    appeal.decision_id = decision_id
    if outcome == "uphold":  # the claim's own audit chain, last (its lock comes last)
        audit.append_audit(
            session,
            actor=answered_by,
            action="claim.appeal_upheld",
            at=now,
            claim_id=claim.id,
            source=source,
            before=before,
            after={
                "status": str(claim.status),
                "payable_amount": fmt(approved, claim.currency),
                "appeal_id": appeal.id,
                "decision_id": decision_id,
                "note": note,
            },
        )
    session.flush()
    document = claim_document(claim, standing)
    document["version"] = claim.version
    return document, outbox_ids


def _review_letter(
    session: Session,
    claim: ClaimRow,
    appeal_id: int,
    decision_id: int | None,
    now: datetime,
    request_id: str | None,
) -> list[int]:
    """The claimant's "decision after review" letter (and the intake system's webhook)
    for an upheld appeal: the decision that stands, reviewed."""
    payload = {"claim_id": claim.id, "decision_id": decision_id, "appeal_id": appeal_id}
    channels = []
    if (claim.claimant or {}).get("email"):
        channels.append(("email", "decision_after_review"))
    if claim.callback_url:
        channels.append(("webhook", "claim.decided"))
    return outbox.add_outbox_many(
        session,
        [
            Message(
                dedupe_key=f"claim:{claim.id}:appeal:{appeal_id}:answer:{channel}",
                claim_id=claim.id,
                event=event,
                channel=channel,
                payload=payload,
            )
            for channel, event in channels
        ],
        request_id=request_id,
        now=now,
    )


def payable_limit(facts: dict[str, Any]) -> Decimal | None:
    """The most a supervisor may approve: the payable amount under the coverage,
    min(amount - deductible, limit_per_claim, aggregate_remaining)."""
    if not facts.get("coverage", {}).get("found") or "payable_amount" not in facts:
        return None  # no coverage, or a claim in another currency: nothing worked out
    return max(Decimal(str(facts["payable_amount"])), Decimal("0.00"))


def _aggregate_refused(exc: AggregateExceeded) -> DecisionRefused:
    return DecisionRefused(
        422,
        "aggregate_exceeded",
        str(exc),
        remaining=fmt(exc.remaining, exc.currency),
        currency=exc.currency,
    )


def _amount(amount: Decimal | None, currency: str) -> Decimal:
    if amount is None or amount < 0:
        raise DecisionRefused(422, "bad_amount", "Approve needs an amount of 0 or more.")
    try:
        return in_minor_units(amount, currency)
    except MoneyError as exc:
        raise DecisionRefused(
            422, "bad_amount", f"Not a valid amount in {currency}: {exc}."
        ) from None


def _decision(
    ctx: Context, claim: ClaimRow, choice: SupervisorDecision, facts: dict[str, Any]
) -> Decision:
    version = claim.ruleset_version or ""
    currency = claim.currency
    if choice.outcome == "approve":
        policy_currency = (facts.get("policy") or {}).get("currency")
        if policy_currency is not None and policy_currency != currency:
            raise DecisionRefused(
                422,
                "currency_mismatch",
                f"The claim is in {currency} but the policy pays in {policy_currency}: "
                "reject it or ask for the claim in the policy's currency.",
            )
        base = breakdown_from_facts(facts)
        if base is None:
            raise DecisionRefused(
                422,
                "no_coverage",
                "The policy on file does not cover this claim type; load it or reject.",
            )
        lines, by_lines = line_decisions(ctx.engine, facts)
        if by_lines is not None:  # line items: the lines' sum is what the cover allows
            base = by_lines
        amount = _amount(choice.amount, currency)
        if amount > base.payable:
            remaining = Decimal(str(facts["aggregate_remaining"]))
            if amount > remaining:
                raise _aggregate_refused(AggregateExceeded(amount, remaining, currency))
            raise DecisionRefused(
                422,
                "amount_above_limit",
                f"{fmt(amount, currency)} {currency} is above what the coverage allows "
                f"({fmt(base.payable, currency)} {currency}).",
                limit=fmt(base.payable, currency),
                currency=currency,
            )
        reason = Reason("supervisor_approved", "Approved by a supervisor", "supervisor", "approve")
        cuts = reduced(base, amount).adjustments
        return Decision(
            "approved",
            amount,
            (reason,),
            (),
            version,
            adjustments=cuts,
            lines=reduced_lines(lines, amount),
        )
    if choice.outcome == "reject":
        known = known_reason_codes(ctx)
        unknown = [c for c in choice.reason_codes if c not in known]
        if not choice.reason_codes or unknown:
            raise DecisionRefused(
                422,
                "unknown_reason_code",
                "Reject needs reason codes from the known list"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "."),
                known=sorted(known),
            )
        reasons = tuple(
            Reason(code, known[code][0], "supervisor", "reject", known[code][1])
            for code in dict.fromkeys(choice.reason_codes)
        )
        carc = next((r.carc for r in reasons if r.carc), None)
        cuts = denial(claim.amount, carc, reasons[0].code.lower()).adjustments
        first = reasons[0]
        denied = denied_lines(
            line_decisions(ctx.engine, facts)[0],
            carc,
            {"code": first.code, "carc": carc, "message": first.message},
        )
        return Decision(
            "rejected", Decimal("0.00"), reasons, (), version, adjustments=cuts, lines=denied
        )
    if choice.outcome == "request_info":
        if not choice.documents:
            raise DecisionRefused(422, "documents_required", "Name the documents to request.")
        reason = Reason(
            "supervisor_requested_info",
            "More documents are needed",
            "supervisor",
            "request_info",
            "16",
        )
        return Decision(
            "pending_info", None, (reason,), tuple(dict.fromkeys(choice.documents)), version
        )
    raise DecisionRefused(422, "bad_outcome", "outcome is approve, reject or request_info.")
