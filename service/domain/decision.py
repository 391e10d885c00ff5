"""Decisions: which outcome wins when several rules fire, and what is payable."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

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
) -> Decision:
    """Pick the outcome by precedence; the reasons are the fired rules, strongest first."""
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
    return Decision(
        outcome=outcome,
        payable_amount=amount,
        reasons=tuple(ordered),
        missing_documents=missing_documents if outcome == "pending_info" else (),
        ruleset_version=ruleset_version,
        trace=trace,
    )
