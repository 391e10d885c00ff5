"""The one step every payment goes through: the per-policy lock, the remaining annual
aggregate read inside it, and a refusal of anything that would exceed it.

Intake (submit_claim), re-adjudication after documents (add_documents), a supervisor's
decision and the answer to an appeal (decide_claim) decide a claim with `settle`,
after `lock_policy` in the same transaction; an appeal (appeal_claim) and a closure
(abandon_stale_claim) take the same lock before they change what a claim pays. Lock
order everywhere: the policy row, then the claim row, then (through the tally
triggers) the policy's daily tallies, then the claim's own audit chain (a lock per
subject, service/db/audit.py: taken last, held to commit; a new claim's first event
takes none).

- PostgreSQL: `SELECT ... FOR NO KEY UPDATE` on the policy row until commit, so two
  payers on one policy run one after the other and the second sees the first's
  payment in the tallies.
- SQLite: every writing transaction begins IMMEDIATE (service/db/session.py), so
  writers are serialised anyway; the same code runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from service.db import claims, policies
from service.db.session import Session
from service.db.tables import ClaimRow
from service.domain.decision import Decision
from service.domain.facts import build_facts, report_date, zone_of
from service.domain.model import Claim, History, Policy
from service.domain.money import ZERO, fmt


class AggregateExceeded(Exception):
    """The payment is more than what remains of the policy year's annual aggregate."""

    def __init__(self, amount: Decimal, remaining: Decimal, currency: str) -> None:
        self.amount, self.remaining, self.currency = amount, remaining, currency
        super().__init__(
            f"{fmt(amount, currency)} {currency} is more than what remains of the annual "
            f"aggregate ({fmt(remaining, currency)} {currency})."
        )


@dataclass(frozen=True)
class Settled:
    claim: Claim  # with its report date (fixed at intake) filled in
    policy: Policy | None
    history: History
    facts: dict[str, Any]
    decision: Decision
    time_zone: str  # the zone the report date was taken in


def lock_policy(session: Session, number: str) -> Policy | None:
    """Take the per-policy lock (held to commit) and read the policy with its coverages."""
    return policies.get_policy(session, number, lock=True)


def settle(
    session: Session,
    claim: Claim,
    policy: Policy | None,
    *,
    required_documents: Mapping[str, tuple[str, ...]],
    default_zone: str,
    decide: Callable[[dict[str, Any]], Decision],
    stored: ClaimRow | None = None,
) -> Settled:
    """Decide `claim` on the facts as they stand under the policy lock (`policy` comes
    from lock_policy in this transaction). The history (and so the remaining
    aggregate) is read here, after the lock; `decide` turns the facts into a decision
    (the rules, or a supervisor's choice); a payment above what remains is refused
    with AggregateExceeded, and its adjustment lines must balance.

    `stored`: the claim's row when it is decided again (its report date and 12-month
    count stay as fixed at intake); None at intake."""
    zone = stored.time_zone if stored is not None else zone_of(policy, default_zone)
    claim, history, facts = current_facts(
        session,
        claim,
        policy,
        required_documents=required_documents,
        default_zone=default_zone,
        stored=stored,
    )
    decision = decide(facts)
    check_payment(decision, facts, claim)
    return Settled(claim, policy, history, facts, decision, zone)


def current_facts(
    session: Session,
    claim: Claim,
    policy: Policy | None,
    *,
    required_documents: Mapping[str, tuple[str, ...]],
    default_zone: str,
    stored: ClaimRow | None = None,
) -> tuple[Claim, History, dict[str, Any]]:
    """The facts `claim` would be decided on now (the remaining aggregate as the tallies
    stand): what `settle` decides on under the lock, and what a read (the console's
    "at most") shows without it. Answers the claim with its report date, its history
    and the facts."""
    if claim.reported_on is None:
        claim = replace(claim, reported_on=report_date(claim.reported_at, policy, default_zone))
    history = claims.history_for(session, claim, policy, stored=stored)
    return claim, history, build_facts(claim, policy, history, required_documents)


def check_payment(decision: Decision, facts: Mapping[str, Any], claim: Claim) -> None:
    """Refuse a payment above the remaining aggregate; insist the lines balance."""
    paid = decision.payable_amount
    if decision.outcome != "approved" or paid is None or paid <= 0:
        return
    remaining = facts.get("aggregate_remaining")
    currency = str((facts.get("policy") or {}).get("currency") or claim.currency)
    if remaining is None or paid > Decimal(str(remaining)):
        raise AggregateExceeded(paid, Decimal(str(remaining or ZERO)), currency)
    cut = sum((line.amount for line in decision.adjustments), ZERO)
    if claim.amount - cut != paid:
        raise RuntimeError(
            f"adjustment lines do not balance: {claim.amount} - {cut} != {paid} (claim {claim.id})"
        )
