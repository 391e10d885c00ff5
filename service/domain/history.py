"""What earlier claims on a policy mean for a new one.

This pure function is the definition; the data layer computes the same
numbers with indexed SQL queries (and a test checks they agree).

`earlier` are the claims submitted before this one: a claim submitted later
never changes an earlier claim's 12-month count or makes it a duplicate.
Payments are different: when a stored claim is decided again, the data layer's
`paid_this_policy_year` sums every claim approved on the policy now, later ones
included, except the claim itself (the aggregate is money actually committed).
"""

from __future__ import annotations

from collections.abc import Iterable

from service.domain.calendar import twelve_months_before
from service.domain.lifecycle import PAYING
from service.domain.model import Claim, History, Policy, PriorClaim
from service.domain.money import ZERO


def summarise_history(
    claim: Claim,
    policy: Policy | None,
    earlier: Iterable[PriorClaim],
) -> History:
    """Claims in the 12 calendar months up to the date of loss (from the same day a
    year earlier, calendar.twelve_months_before); paid this policy year (nothing
    without a policy: there is no policy year); the first exact duplicate (same type,
    date and amount, and a shared document reference or the same line items), else
    the first suspected one (same type, date and amount)."""
    window_start = twelve_months_before(claim.date_of_loss)
    loss = claim.date_of_loss
    year_start, year_end = policy.policy_year(loss) if policy else (loss, loss)  # no policy: empty
    refs = frozenset(d.ref for d in claim.documents)
    count = 0
    paid = deductible = patient = ZERO
    exact = similar = None
    for prior in earlier:
        if prior.id == claim.id:
            continue
        if window_start <= prior.date_of_loss <= claim.date_of_loss:
            count += 1
        if (
            prior.claim_type == claim.claim_type
            and prior.outcome in PAYING  # approved, and still paying under appeal or after
            and prior.payable_amount is not None
            and year_start <= prior.date_of_loss < year_end
        ):
            paid += prior.payable_amount
        if (
            prior.claim_type == claim.claim_type
            and prior.outcome in ("approved", "rejected")
            and year_start <= prior.date_of_loss < year_end
        ):  # what it met of a yearly deductible (a rejection within it counts too)
            deductible += prior.deductible_applied
            patient += prior.patient_responsibility
        if (
            prior.claim_type == claim.claim_type
            and prior.date_of_loss == claim.date_of_loss
            and prior.amount == claim.amount
        ):
            same_lines = claim.line_items_key is not None and (
                prior.line_items_key == claim.line_items_key
            )
            if exact is None and (refs & prior.document_refs or same_lines):
                exact = prior.id
            if similar is None:
                similar = prior.id
    return History(
        claims_last_12_months=count,
        paid_this_policy_year=paid,
        duplicate_of=exact,
        similar_to=None if exact else similar,
        deductible_met=deductible,
        out_of_pocket_met=patient,
    )
