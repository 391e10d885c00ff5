"""What earlier claims on a policy mean for a new one.

This pure function is the definition; the data layer computes the same
numbers with indexed SQL queries (and a test checks they agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from service.domain.model import Claim, History, Policy, PriorClaim, add_years
from service.domain.money import ZERO

LOOKBACK = timedelta(days=365)


def summarise_history(
    claim: Claim, policy: Policy | None, earlier: Iterable[PriorClaim]
) -> History:
    """claims in the 12 months up to the date of loss; paid this policy year (nothing
    without a policy: there is no policy year); a duplicate."""
    window_start = claim.date_of_loss - LOOKBACK
    year_start = policy.policy_year_start(claim.date_of_loss) if policy else claim.date_of_loss
    year_end = add_years(year_start, 1) if policy else year_start  # no policy: an empty year
    count = 0
    paid = ZERO
    duplicate_of = None
    for prior in earlier:
        if prior.id == claim.id:
            continue
        if window_start <= prior.date_of_loss <= claim.date_of_loss:
            count += 1
        if (
            prior.claim_type == claim.claim_type
            and prior.outcome == "approved"
            and prior.payable_amount is not None
            and year_start <= prior.date_of_loss < year_end
        ):
            paid += prior.payable_amount
        if (
            duplicate_of is None
            and prior.claim_type == claim.claim_type
            and prior.date_of_loss == claim.date_of_loss
            and prior.amount == claim.amount
        ):
            duplicate_of = prior.id
    return History(
        claims_last_12_months=count, paid_this_policy_year=paid, duplicate_of=duplicate_of
    )
