"""Decisions: which outcome wins when several rules fire, what is payable, and the
adjustment lines that explain it (service/domain/payable.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from service.domain.lines import LineDecision, denied_lines
from service.domain.payable import Adjustment, Breakdown, denial

# rule action -> claim outcome
ACTION_OUTCOME = {
    "approve": "approved",
    "reject": "rejected",
    "escalate": "escalated",
    "request_info": "pending_info",
}
DEFAULT_PRECEDENCE = ("reject", "request_info", "escalate", "approve")


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    rule: str
    action: str
    carc: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "carc": self.carc,
            "message": self.message,
            "rule": self.rule,
            "action": self.action,
        }


@dataclass(frozen=True)
class Decision:
    outcome: str
    payable_amount: Decimal | None
    reasons: tuple[Reason, ...]
    missing_documents: tuple[str, ...]
    ruleset_version: str
    trace: tuple[dict[str, object], ...] = field(default_factory=tuple)
    adjustments: tuple[Adjustment, ...] = ()  # claimed - sum(amounts) = payable_amount
    lines: tuple[LineDecision, ...] = ()  # per line item (service/domain/lines.py)


CURRENCY_MISMATCH = "CURRENCY_MISMATCH"


def currency_mismatch_reason(claim_currency: str, policy_currency: str) -> Reason:
    """Built in, not a rule: a claim in another currency than the policy's needs a
    stated conversion, so a person decides it (never an automatic approval)."""
    return Reason(
        CURRENCY_MISMATCH,
        f"The claim is in {claim_currency} but the policy pays in {policy_currency}; "
        "a claims handler will review the conversion.",
        "currency",
        "escalate",
    )


class NoRuleFired(Exception):
    """The ruleset decided nothing for these facts (it lacks a catch-all rule)."""


def decide(
    fired: list[Reason],
    *,
    precedence: tuple[str, ...],
    payable: Decimal,
    missing_documents: tuple[str, ...],
    ruleset_version: str,
    trace: tuple[dict[str, object], ...] = (),
    claimed: Decimal | None = None,
    amounts: Breakdown | None = None,
    currencies: tuple[str, str] | None = None,
    lines: tuple[LineDecision, ...] = (),
) -> Decision:
    """Pick the outcome by precedence; the reasons are the fired rules, strongest first.

    `amounts`: the payable breakdown (None without coverage); approvals carry its
    adjustment lines, a rejection one line for the whole `claimed` amount (or the
    deductible line when the amount is within it). `currencies`: (claim, policy) when
    they differ: such a claim is escalated instead of approved (CURRENCY_MISMATCH).
    `lines`: each line item's decision (then `amounts` is the lines' claim_breakdown);
    kept on an approval, and on a rejection where no line is paid; a rejection of a
    claim with paid lines denies every line with the claim's CARC; none otherwise."""
    if not fired:
        raise NoRuleFired("no rule fired")
    rank = {action: i for i, action in enumerate(precedence)}
    ordered = sorted(fired, key=lambda r: (rank.get(r.action, len(rank)), r.rule))
    winning_action = ordered[0].action
    outcome = ACTION_OUTCOME[winning_action]
    if winning_action != "approve":
        # Approval notes (deductible applied, ...) mean nothing on a claim not approved;
        # the trace still lists every rule that fired.
        ordered = [r for r in ordered if r.action != "approve"]
    if outcome == "approved":
        amount: Decimal | None = payable
    elif outcome == "rejected":
        amount = Decimal("0.00")
    else:
        amount = None
    decision = Decision(
        outcome=outcome,
        payable_amount=amount,
        reasons=tuple(ordered),
        missing_documents=missing_documents if outcome == "pending_info" else (),
        ruleset_version=ruleset_version,
        trace=trace,
        adjustments=_lines(outcome, ordered, claimed, amounts, lines),
        lines=_line_decisions(outcome, ordered, lines),
    )
    if currencies is not None and outcome in ("approved", "escalated"):
        mismatch = currency_mismatch_reason(*currencies)
        kept = decision.reasons if outcome == "escalated" else ()
        decision = replace(
            decision,
            outcome="escalated",
            payable_amount=None,
            reasons=(*kept, mismatch),
            adjustments=(),
            lines=(),
        )
    return decision


def _line_decisions(
    outcome: str, reasons: list[Reason], lines: tuple[LineDecision, ...]
) -> tuple[LineDecision, ...]:
    if outcome == "approved" or not lines:
        return lines if outcome == "approved" else ()
    if outcome != "rejected":
        return ()
    if all(line.paid == 0 for line in lines):
        return lines  # each line says why nothing is paid
    first = reasons[0]
    carc = next((r.carc for r in reasons if r.carc), None)
    return denied_lines(lines, carc, {"code": first.code, "carc": carc, "message": first.message})


def _lines(
    outcome: str,
    reasons: list[Reason],
    claimed: Decimal | None,
    amounts: Breakdown | None,
    lines: tuple[LineDecision, ...] = (),
) -> tuple[Adjustment, ...]:
    if outcome == "approved" and amounts is not None:
        return amounts.adjustments
    if outcome != "rejected" or claimed is None or claimed <= 0:
        return ()
    if lines and amounts is not None and all(line.paid == 0 for line in lines):
        return amounts.adjustments  # the lines' own cuts, summed
    first = reasons[0]
    if first.carc == "1" and amounts is not None and amounts.payable == 0:
        return amounts.adjustments  # within the deductible: the deductible line says it
    carc = next((r.carc for r in reasons if r.carc), None)
    return denial(claimed, carc, first.code.lower()).adjustments
