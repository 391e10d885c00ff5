"""Policies and their coverages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.db import statements as sql
from service.db.tables import CoverageRow, PolicyRow
from service.domain.calendar import Duration
from service.domain.model import Coverage, Policy
from service.domain.money import in_minor_units, is_currency


def policy_row(session: Session, number: str) -> PolicyRow | None:
    return session.scalar(
        select(PolicyRow)
        .where(PolicyRow.number == number)
        .options(selectinload(PolicyRow.coverages))
    )


def get_policy(session: Session, number: str, *, lock: bool = False) -> Policy | None:
    """The policy with its coverages, in one query. `lock`: hold the policy row until
    commit, so claims on one policy are decided one at a time (PostgreSQL)."""
    query = sql.POLICY_WITH_COVERAGES_LOCKED if lock else sql.POLICY_WITH_COVERAGES
    rows = session.execute(query, {"number": number}).all()
    if not rows:
        return None
    first = rows[0]
    currency = first.currency

    def amount(value: Decimal) -> Decimal:  # NUMERIC(15, 3) -> the currency's minor units
        return in_minor_units(value, currency) if is_currency(currency) else value

    return Policy(
        number=first.number,
        holder=first.holder,
        status=first.status,
        effective_from=first.effective_from,
        effective_to=first.effective_to,
        terminated_on=first.terminated_on,
        time_zone=first.time_zone,
        currency=currency,
        coverages=tuple(
            Coverage(
                claim_type=r.claim_type,
                limit_per_claim=amount(r.limit_per_claim),
                annual_aggregate=amount(r.annual_aggregate),
                deductible=amount(r.deductible),
                waiting_period=Duration.parse(r.waiting_period),
                deductible_period=r.deductible_period or "claim",
                out_of_pocket_maximum=(
                    None if r.out_of_pocket_maximum is None else amount(r.out_of_pocket_maximum)
                ),
                out_of_pocket_period=r.out_of_pocket_period or "claim",
            )
            for r in rows
            if r.claim_type is not None
        ),
    )


def save_policy(session: Session, policy: Policy, now: datetime) -> bool:
    """Insert or replace a policy and its coverages. True when it was created."""
    row = policy_row(session, policy.number)
    created = row is None
    if row is None:
        row = PolicyRow(number=policy.number, created_at=now)
        session.add(row)
    row.holder = policy.holder
    row.status = policy.status
    row.effective_from = policy.effective_from
    row.effective_to = policy.effective_to
    row.terminated_on = policy.terminated_on
    row.time_zone = policy.time_zone
    row.currency = policy.currency
    row.updated_at = now
    row.coverages.clear()
    session.flush()
    for c in policy.coverages:
        row.coverages.append(
            CoverageRow(
                claim_type=c.claim_type,
                limit_per_claim=c.limit_per_claim,
                annual_aggregate=c.annual_aggregate,
                deductible=c.deductible,
                waiting_period=c.waiting_period.iso(),
                deductible_period=c.deductible_period,
                out_of_pocket_maximum=c.out_of_pocket_maximum,
                out_of_pocket_period=c.out_of_pocket_period,
            )
        )
    session.flush()
    return created
